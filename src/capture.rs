//! The capture handler: every method on `/{bin}` and any path under it is recorded, written
//! durably by the store's writer, and only then answered.

use std::{borrow::Cow, sync::Arc, time::Duration};

use actix_web::{
    http::{header, StatusCode},
    web, HttpRequest, HttpResponse,
};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{
    clock,
    error::AppError,
    kaizala,
    store::{valid_bin_id, NewRequest, Outcome},
    web::AppState,
};

/// Headers a capture may carry, and their total size; more is refused with 431.
const MAX_HEADERS: usize = 100;
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The answer to a stored capture.
#[derive(Serialize)]
struct Stored<'a> {
    stored: bool,
    id: String,
    bin_id: &'a str,
}

/// How the body read ended.
enum Body {
    Complete(Bytes),
    /// Over the limit: the size declared by Content-Length, or the bytes seen before giving up.
    TooLarge(u64),
}

/// `ANY /{bin}` and `ANY /{bin}/{any/sub/path}`: every path no other route took.
#[tracing::instrument(name = "capture", skip_all, fields(bin = tracing::field::Empty))]
pub async fn capture(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (bin_id, path) = split_bin(req.uri().path());
    if !valid_bin_id(bin_id) {
        return Err(AppError::BinNotFound);
    }
    tracing::Span::current().record("bin", bin_id);
    if let Some(refusal) = oversized_head(&req) {
        return Ok(refusal);
    }
    let query = req.query_string();
    let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    if req.method() == actix_web::http::Method::GET && params.iter().any(|(k, _)| k == "inspect") {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/inspect/{bin_id}")))
            .finish());
    }
    let token = params
        .into_iter()
        .find(|(key, _)| key == "validationToken")
        .map(|(_, value)| value);

    let config = &state.config;
    let read = read_body(
        &req,
        payload,
        config.max_body_bytes,
        &state.body_budget,
        config.queue_timeout,
    );
    // Held until the capture is acknowledged, so bodies waiting for the writer count too.
    let (body, _budget) = match tokio::time::timeout(config.body_timeout, read).await {
        Ok(Ok(read)) => read,
        Ok(Err(ReadError::Broken(reason))) => return Err(AppError::BadRequest(reason)),
        Ok(Err(ReadError::Busy)) => return Err(AppError::Busy),
        Err(_) => {
            return Ok(HttpResponse::build(StatusCode::REQUEST_TIMEOUT)
                .content_type("text/plain; charset=utf-8")
                .body("the request body did not arrive in time; nothing was stored\n"))
        }
    };

    let (outcome, body, body_size) = match body {
        Body::Complete(bytes) => {
            let size = bytes.len() as u64;
            let outcome = match token {
                Some(_) => Outcome::Handshake,
                None => Outcome::Stored,
            };
            (outcome, bytes, size)
        }
        Body::TooLarge(size) => (Outcome::Rejected, Bytes::new(), size),
    };
    let kaizala = match outcome {
        Outcome::Rejected => None,
        _ => kaizala::recognise_bytes(&body),
    };
    let request = NewRequest {
        bin_id: bin_id.to_owned(),
        received_at: clock::now_millis(),
        outcome,
        method: req.method().as_str().to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers_json: serde_json::to_string(&header_pairs(&req))
            .unwrap_or_else(|_| "[]".to_owned()),
        content_type: req
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned()),
        body,
        body_size,
        remote_addr: req.peer_addr().map(|addr| addr.ip().to_string()),
        kaizala,
    };
    let event_type = request.kaizala.as_ref().map(|k| k.event_type.clone());

    let id = state
        .store
        .writer()
        .capture(request, config.queue_timeout)
        .await?;
    tracing::info!(
        request = id,
        method = %req.method(),
        bytes = body_size,
        outcome = outcome.as_str(),
        kaizala_event = event_type.as_deref(),
        "captured"
    );

    Ok(match (outcome, token) {
        (Outcome::Rejected, _) => HttpResponse::build(StatusCode::PAYLOAD_TOO_LARGE)
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "request body too large: {body_size} bytes is over this server's limit of {} bytes; \
                 the request was recorded without its body\n",
                config.max_body_bytes
            )),
        (_, Some(token)) => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body(token),
        _ => HttpResponse::Ok().json(Stored {
            stored: true,
            id: id.to_string(),
            bin_id,
        }),
    })
}

/// Refuses a request head with too many or too large headers: 431 and a plain message.
fn oversized_head(req: &HttpRequest) -> Option<HttpResponse> {
    let headers = req.headers();
    let bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    let problem = if headers.len() > MAX_HEADERS {
        format!(
            "{} headers is more than the {MAX_HEADERS} allowed",
            headers.len()
        )
    } else if bytes > MAX_HEADER_BYTES {
        format!("{bytes} bytes of headers is more than the {MAX_HEADER_BYTES} allowed")
    } else {
        return None;
    };
    Some(
        HttpResponse::build(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "request headers too large: {problem}; nothing was stored\n"
            )),
    )
}

/// Why a body could not be read.
enum ReadError {
    /// The connection broke or sent something unreadable.
    Broken(String),
    /// The memory budget for bodies in flight stayed exhausted.
    Busy,
}

/// Reads the body up to `limit` bytes, holding permits from `budget` for every byte kept (the
/// permits travel with the body until its capture is acknowledged). A larger body is
/// reported, not kept.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: u64,
    budget: &Arc<Semaphore>,
    wait: Duration,
) -> Result<(Body, Option<OwnedSemaphorePermit>), ReadError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if let Some(declared) = declared {
        if declared > limit {
            return Ok((Body::TooLarge(declared), None));
        }
    }
    let mut held: Option<OwnedSemaphorePermit> = None;
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|err| {
            ReadError::Broken(format!("the request body could not be read: {err}"))
        })?;
        let seen = (body.len() + chunk.len()) as u64;
        if seen > limit {
            return Ok((Body::TooLarge(seen), None));
        }
        let bytes = u32::try_from(chunk.len()).map_err(|_| ReadError::Busy)?;
        let permit = tokio::time::timeout(wait, budget.clone().acquire_many_owned(bytes))
            .await
            .map_err(|_| ReadError::Busy)?
            .map_err(|_| ReadError::Busy)?;
        match held.as_mut() {
            Some(held) => held.merge(permit),
            None => held = Some(permit),
        }
        body.extend_from_slice(&chunk);
    }
    Ok((Body::Complete(body.freeze()), held))
}

/// Splits a request path into the bin id and the path below it:
/// `/{bin}/a/b` gives `({bin}, "/a/b")`, `/{bin}` gives `({bin}, "/")`.
fn split_bin(path: &str) -> (&str, &str) {
    let path = path.strip_prefix('/').unwrap_or(path);
    match path.find('/') {
        Some(slash) => {
            let (bin, rest) = path.split_at(slash);
            (bin, rest)
        }
        None => (path, "/"),
    }
}

/// Every header as received, names lowercased, sorted by name with repeats kept in order.
/// Borrowed from the request: only a value that is not UTF-8 is copied (lossily).
fn header_pairs(req: &HttpRequest) -> Vec<(&str, Cow<'_, str>)> {
    let mut pairs: Vec<(&str, Cow<'_, str>)> = req
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), String::from_utf8_lossy(value.as_bytes())))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_bin_and_sub_path() {
        let bin = "0b8f5c1e-8f0a-4c4e-9a57-2f1d0d7e9a10";
        assert_eq!(split_bin(&format!("/{bin}")), (bin, "/"));
        assert_eq!(split_bin(&format!("/{bin}/")), (bin, "/"));
        assert_eq!(split_bin(&format!("/{bin}/a/b")), (bin, "/a/b"));
        assert_eq!(split_bin("/"), ("", "/"));
    }
}
