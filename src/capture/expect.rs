//! `Expect: 100-continue` on capture URLs: the sender is told `404` (no such bin) or `413`
//! (the declared body is over the limit, and the attempt is recorded) before it sends the
//! body, instead of `100 Continue` first and the bad news after the upload.

use actix_http::{body::BoxBody, header, Request, Response, StatusCode};
use bytes::Bytes;

use super::{is_capture_path, record, too_large_message};
use crate::{
    error::ErrorBody,
    server::tap::TapShared,
    state::AppState,
    store::{valid_bin_id, Outcome, WriterError},
};

/// Lets the request go on (and actix-http answer `100 Continue`), or answers it now.
pub async fn check(state: &AppState, req: Request) -> Result<Request, Response<BoxBody>> {
    if !is_capture_path(req.path()) {
        return Ok(req);
    }
    let (bin_id, _) = record::split_bin(req.path());
    if !valid_bin_id(bin_id) {
        return Err(json(StatusCode::NOT_FOUND, "no such bin"));
    }
    match state.store.bin(bin_id).await {
        Ok(None) => return Err(json(StatusCode::NOT_FOUND, "no such bin")),
        // The handler will meet the same problem and answer it.
        Err(_) => return Ok(req),
        Ok(Some(_)) => {}
    }
    let max = state.config.max_body_bytes;
    let Some(declared) =
        record::declared_length(&req.head().headers).filter(|declared| *declared > max)
    else {
        return Ok(req);
    };
    let raw = req
        .conn_data::<std::sync::Arc<TapShared>>()
        .and_then(|tap| tap.peek());
    let attempt = record::new_request(
        req.head(),
        raw.as_deref(),
        state.client_ip(req.peer_addr(), &req.head().headers),
        Outcome::Rejected,
        Bytes::new(),
        declared,
    );
    match state
        .store
        .writer()
        .capture(attempt, state.config.queue_timeout)
        .await
    {
        Ok(captured) => {
            tracing::info!(
                bin = bin_id,
                request = captured.id,
                bytes = declared,
                "refused before the body (Expect: 100-continue)"
            );
            Err(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                too_large_message(declared, max),
            ))
        }
        Err(WriterError::BinNotFound) => Err(json(StatusCode::NOT_FOUND, "no such bin")),
        Err(WriterError::RateLimited(wait)) => {
            let refused = super::over_limit(state, bin_id, wait);
            let mut answer = json(StatusCode::TOO_MANY_REQUESTS, &refused.to_string());
            let seconds = crate::limits::retry_after_secs(wait).to_string();
            if let Ok(value) = header::HeaderValue::from_str(&seconds) {
                answer.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Err(answer)
        }
        Err(_) => Err(json(
            StatusCode::SERVICE_UNAVAILABLE,
            "binspector could not record this request; retry in a moment",
        )),
    }
}

/// An answer that closes the connection: the sender may send the body anyway.
fn closing(status: StatusCode, content_type: &str, body: String) -> Response<BoxBody> {
    let mut response = Response::build(status);
    response
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .force_close();
    response.body(body).map_into_boxed_body()
}

fn json(status: StatusCode, message: &str) -> Response<BoxBody> {
    let body = serde_json::to_string(&ErrorBody {
        error: message,
        status: status.as_u16(),
        field: None,
    })
    .unwrap_or_default();
    closing(status, "application/json", body)
}

fn plain(status: StatusCode, message: String) -> Response<BoxBody> {
    closing(status, "text/plain; charset=utf-8", message)
}
