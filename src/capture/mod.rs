//! The capture handler: every method on `/{bin}` and any path under it is recorded, written
//! durably by the store's writer, and only then answered.

mod body;
pub mod expect;
pub mod record;

use std::sync::Arc;

use actix_web::{
    http::{header, Method, StatusCode},
    web, HttpMessage, HttpRequest, HttpResponse,
};
use bytes::Bytes;
use serde::Serialize;

use crate::{
    error::AppError,
    limits,
    server::tap::RawHead,
    state::AppState,
    store::{valid_bin_id, Outcome, WriterError},
};

use self::body::{Body, Limits};

/// The answer to a stored capture.
#[derive(Serialize)]
struct Stored<'a> {
    stored: bool,
    id: String,
    bin_id: &'a str,
}

/// First path segments that are routes, not bins (bin ids are UUIDs, so they never collide).
const ROUTES: [&str; 9] = [
    "",
    "healthz",
    "login",
    "logout",
    "static",
    "api",
    "bins",
    "inspect",
    ".well-known",
];

/// Whether a path is a capture URL's (any path whose first segment is not a route).
pub fn is_capture_path(path: &str) -> bool {
    !ROUTES.contains(&record::split_bin(path).0)
}

/// The 413 message: what was sent, what the limit is, and that the attempt was recorded.
pub(crate) fn too_large_message(size: u64, max: u64) -> String {
    format!(
        "request body too large: {size} bytes is over this server's limit of {max} bytes; \
         the request was recorded without its body\n"
    )
}

/// What a capture's query string asks of binspector itself; a query that is not valid
/// form encoding asks nothing.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CaptureQuery {
    /// `?inspect` (RequestBin's way to open the inspect page).
    pub inspect: bool,
    /// `?validationToken=T`: the URL validation of Kaizala and Microsoft Graph.
    pub validation_token: Option<String>,
}

impl CaptureQuery {
    /// Reads the query string of a capture URL.
    pub fn parse(query: &str) -> CaptureQuery {
        let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        let mut parsed = CaptureQuery::default();
        for (key, value) in params {
            match key.as_str() {
                "inspect" => parsed.inspect = true,
                "validationToken" if parsed.validation_token.is_none() => {
                    parsed.validation_token = Some(value);
                }
                _ => {}
            }
        }
        parsed
    }
}

/// `ANY /{bin}` and `ANY /{bin}/{any/sub/path}`: every path no other route took.
#[tracing::instrument(name = "capture", skip_all, fields(bin = tracing::field::Empty))]
pub async fn capture(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (bin_id, _) = record::split_bin(req.path());
    if !valid_bin_id(bin_id) {
        return Err(AppError::BinNotFound);
    }
    tracing::Span::current().record("bin", bin_id);
    let CaptureQuery {
        inspect,
        validation_token: token,
    } = CaptureQuery::parse(req.query_string());
    if req.method() == Method::GET && inspect {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/inspect/{bin_id}")))
            .finish());
    }
    // A WebSocket upgrade or a CONNECT hands the connection over to another protocol, so what
    // follows the head is not a body: capture the head alone, answer at once, and close.
    let hand_over = hands_over(&req);
    let config = &state.config;
    // Held until the capture is acknowledged, so bodies waiting for the writer count too.
    let client = state.client_ip(req.peer_addr(), req.headers());
    let mut reservation = state.body_budget.reservation(client);
    let declared = record::declared_length(req.headers());
    let body = if hand_over {
        Body::Complete(Bytes::new())
    } else {
        if let Some(declared) = declared.filter(|size| *size <= config.max_body_bytes) {
            reservation
                .claim_share(usize::try_from(declared).unwrap_or(usize::MAX))
                .await?;
        }
        let limits = Limits {
            max_bytes: config.max_body_bytes,
            total_time: config.body_timeout,
            stall: config.header_timeout,
            memory_wait: config.queue_timeout,
        };
        body::read(payload, declared, &limits, &mut reservation).await?
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
    let raw = req.extensions().get::<Arc<RawHead>>().cloned();
    let request = record::new_request(req.head(), raw.as_deref(), client, outcome, body, body_size);
    let event_type = request.kaizala.as_ref().map(|k| k.event_type.clone());

    let id = match state
        .store
        .writer()
        .capture(request, config.queue_timeout)
        .await
    {
        Ok(id) => id,
        Err(WriterError::RateLimited(wait)) => return Err(over_limit(&state, bin_id, wait)),
        Err(err) => return Err(err.into()),
    };
    drop(reservation);
    tracing::info!(
        request = id,
        method = %req.method(),
        bytes = body_size,
        outcome = outcome.as_str(),
        kaizala_event = event_type.as_deref(),
        "captured"
    );

    let mut answer = HttpResponse::build(match outcome {
        Outcome::Rejected => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::OK,
    });
    if hand_over {
        answer.force_close();
    }
    Ok(match (outcome, token) {
        (Outcome::Rejected, _) => answer
            .content_type("text/plain; charset=utf-8")
            .body(too_large_message(body_size, config.max_body_bytes)),
        (_, Some(token)) => answer.content_type("text/plain; charset=utf-8").body(token),
        _ => answer.json(Stored {
            stored: true,
            id: id.to_string(),
            bin_id,
        }),
    })
}

/// A capture over `--capture-limit`: not stored, counted on its bin, answered 429.
fn over_limit(state: &AppState, bin_id: &str, wait: std::time::Duration) -> AppError {
    state.store.activity().dropped(bin_id);
    let rate = state
        .config
        .capture_limit
        .0
        .map(|rate| rate.to_string())
        .unwrap_or_default();
    AppError::RateLimited {
        message: format!(
            "this bin takes at most {rate} requests (--capture-limit); this one was not stored"
        ),
        retry_after: limits::retry_after_secs(wait),
    }
}

/// Whether actix-http reads what follows the head as the connection's remainder instead of a
/// body (its rule: not chunked, and a WebSocket upgrade or a CONNECT without a length).
fn hands_over(req: &HttpRequest) -> bool {
    let headers = req.headers();
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return false;
    }
    let websocket = headers.get(header::UPGRADE).is_some_and(|value| {
        value
            .as_bytes()
            .trim_ascii()
            .eq_ignore_ascii_case(b"websocket")
    });
    websocket
        || (req.method() == Method::CONNECT && record::declared_length(headers).unwrap_or(0) == 0)
}
