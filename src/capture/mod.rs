//! The capture handler: every method on `/{bin}` and any path under it is recorded, written
//! durably by the store's writer, and only then answered.

mod body;
pub mod expect;
pub mod record;

use std::{sync::Arc, time::Instant};

use actix_http::ConnectionType;
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
    settings::{
        answer::{Answer, Asks, Handshake},
        CustomResponse,
    },
    state::AppState,
    store::{valid_bin_id, Captured, Outcome, WriterError},
};

use self::body::{Body, Limits};

/// The answer to a stored capture.
#[derive(Serialize)]
struct Stored<'a> {
    stored: bool,
    id: String,
    bin_id: &'a str,
    /// Under `fail_next`: the failures still to come after this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    failures_left: Option<u32>,
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
    /// Every parameter, for the handshakes to look in.
    pub params: Vec<(String, String)>,
}

impl CaptureQuery {
    /// Reads the query string of a capture URL.
    pub fn parse(query: &str) -> CaptureQuery {
        let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        CaptureQuery {
            inspect: params.iter().any(|(key, _)| key == "inspect"),
            params,
        }
    }

    /// The handshakes a request with this query, method and body asks for.
    pub fn asks(&self, get: bool, body: &[u8]) -> Asks {
        Asks::read(get, &self.params, body)
    }
}

/// `ANY /{bin}` and `ANY /{bin}/{any/sub/path}`: every path no other route took.
pub async fn capture(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let (bin_id, _) = record::split_bin(req.path());
    if !valid_bin_id(bin_id) {
        return Err(AppError::BinNotFound);
    }
    let started = Instant::now();
    let query = CaptureQuery::parse(req.query_string());
    if req.method() == Method::GET && query.inspect {
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
            (Outcome::Stored, bytes, size)
        }
        Body::TooLarge(size) => (Outcome::Rejected, Bytes::new(), size),
    };
    let asks = query.asks(req.method() == Method::GET, &body);
    let raw = req.extensions().get::<Arc<RawHead>>().cloned();
    let mut request =
        record::new_request(req.head(), raw.as_deref(), client, outcome, body, body_size);
    request.asks = asks;
    request.started = started;
    let event_type = request.kaizala.as_ref().map(|k| k.event_type.clone());

    let Captured { id, answer } = match state
        .store
        .writer()
        .capture(request, config.queue_timeout)
        .await
    {
        Ok(captured) => captured,
        Err(WriterError::RateLimited(wait)) => return Err(over_limit(&state, bin_id, wait)),
        Err(err) => return Err(err.into()),
    };
    drop(reservation);
    tracing::info!(
        bin = %bin_id,
        request = id,
        method = %req.method(),
        bytes = body_size,
        outcome = outcome.as_str(),
        handshake = answer.handshake().map(Handshake::as_str),
        status = answer.status(),
        kaizala_event = event_type.as_deref(),
        "captured"
    );
    // A configured delay holds this answer only: the request is already stored, and other
    // captures go on.
    let delay = answer.delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut response = respond(&answer, id, bin_id, body_size, config.max_body_bytes);
    if hand_over {
        response
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(response)
}

/// A configured response's body, lent to the answer without a copy.
struct BodyOf(Arc<CustomResponse>);

impl AsRef<[u8]> for BodyOf {
    fn as_ref(&self) -> &[u8] {
        self.0.body.as_bytes()
    }
}

/// Marks an answer whose status and body a bin's settings chose: the error pages leave it as
/// it is, even when it is a bodiless `500`.
pub struct AsConfigured;

/// The answer to a capture that was written.
fn respond(answer: &Answer, id: i64, bin_id: &str, body_size: u64, max: u64) -> HttpResponse {
    let status = |code: u16| StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    let plain = |code: u16, text: String| {
        HttpResponse::build(status(code))
            .content_type("text/plain; charset=utf-8")
            .body(text)
    };
    match answer {
        Answer::Stored => HttpResponse::Ok().json(Stored {
            stored: true,
            id: id.to_string(),
            bin_id,
            failures_left: None,
        }),
        Answer::TooLarge => plain(413, too_large_message(body_size, max)),
        Answer::Handshake { status, body, .. } => plain(*status, body.clone()),
        Answer::Fail {
            status: code,
            remaining,
        } => {
            let mut response = HttpResponse::build(status(*code)).json(Stored {
                stored: true,
                id: id.to_string(),
                bin_id,
                failures_left: Some(*remaining),
            });
            response.extensions_mut().insert(AsConfigured);
            response
        }
        Answer::Custom(custom) => {
            let mut response = HttpResponse::build(status(custom.status));
            for (name, value) in &custom.headers {
                response.append_header((name.as_str(), value.as_str()));
            }
            // The answer is served from the inspector's own origin, and whoever configured it
            // may not be whoever opens it: whatever it holds never runs there (a CSP of the
            // user's own only adds restrictions to this one).
            response
                .append_header((header::CONTENT_SECURITY_POLICY, "sandbox"))
                .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
            let mut response = response.body(Bytes::from_owner(BodyOf(Arc::clone(custom))));
            response.extensions_mut().insert(AsConfigured);
            response
        }
    }
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
