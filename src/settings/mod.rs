//! A bin's settings (DESIGN §7): how its captures are answered, which handshakes it passes, and
//! the Kaizala token and context its requests are checked against. Validated once, at the API
//! and the form; stored as JSON in the bin's row.

pub mod answer;
pub mod form;

use std::sync::Arc;

use actix_web::http::header::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Statuses a capture may be answered with. A 1xx is informational, not an answer: the sender
/// goes on waiting (HTTP/1.1) or the stream fails (HTTP/2), so it is refused.
const STATUS_RANGE: std::ops::RangeInclusive<u16> = 200..=599;
/// Longest configured delay before answering.
pub const MAX_DELAY_MS: u32 = 30_000;
/// Largest configured response body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most response headers, and the most bytes of names and values they may take in all: the
/// store's writer keeps each busy bin's settings at hand.
const MAX_HEADERS: usize = 64;
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most captures `fail_next` may fail.
pub const MAX_FAIL_COUNT: u32 = 10_000;
/// Longest token, verify token or context.
const MAX_TOKEN_CHARS: usize = 256;
/// Headers the server writes itself (framing, connection) or that would act on the inspector's
/// whole origin, beyond the answer itself (cookies, site data, reporting, alternative services,
/// client hints); a configured response may not set them.
const RESERVED_HEADERS: [&str; 16] = [
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "set-cookie",
    "clear-site-data",
    "nel",
    "report-to",
    "reporting-endpoints",
    "alt-svc",
    "accept-ch",
    "critical-ch",
];
/// The fields a client may send, by object; anything else is refused by name. Stored rows are
/// read without this check, so a row written by a newer binspector still reads.
const FIELDS: [(&str, &[&str]); 5] = [
    ("", &["response", "fail_next", "handshakes", "kaizala"]),
    ("response", &["status", "headers", "body", "delay_ms"]),
    ("fail_next", &["count", "status"]),
    (
        "handshakes",
        &[
            "validation_token",
            "slack",
            "meta",
            "meta_verify_token",
            "dropbox",
        ],
    ),
    ("kaizala", &["callback_token", "context"]),
];

/// Everything a bin can be told.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The answer to every capture; `None` answers with the stored request's id. Shared, as
    /// every capture of the bin is answered with it.
    pub response: Option<Arc<CustomResponse>>,
    pub fail_next: FailNext,
    pub handshakes: Handshakes,
    pub kaizala: KaizalaChecks,
}

/// A configured answer, sent after the commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomResponse {
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub delay_ms: u32,
}

/// The next `count` captures are stored and answered `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FailNext {
    pub count: u32,
    pub status: u16,
}

impl Default for FailNext {
    fn default() -> Self {
        FailNext {
            count: 0,
            status: 500,
        }
    }
}

/// Which senders' URL checks the bin passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Handshakes {
    /// `?validationToken=T` (Kaizala, Microsoft Graph).
    pub validation_token: bool,
    /// A JSON `{"type":"url_verification","challenge":C}` (Slack).
    pub slack: bool,
    /// `GET ?hub.mode=subscribe&hub.challenge=C&hub.verify_token=V` (Meta).
    pub meta: bool,
    /// The verify token Meta must send; `None` takes any.
    pub meta_verify_token: Option<String>,
    /// `GET ?challenge=C` (Dropbox).
    pub dropbox: bool,
}

impl Default for Handshakes {
    fn default() -> Self {
        Handshakes {
            validation_token: true,
            slack: false,
            meta: false,
            meta_verify_token: None,
            dropbox: false,
        }
    }
}

/// What Kaizala requests are checked against.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct KaizalaChecks {
    /// The `callBackToken` to register; requests carry it in `kz-callback-token`.
    pub callback_token: Option<String>,
    /// The `callBackContext` to register; requests echo it as `context`.
    pub context: Option<String>,
}

/// A setting that cannot be taken: the field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    /// Its path in the settings object, as `response.headers[1]`.
    pub field: String,
    pub message: String,
}

impl Invalid {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl Settings {
    /// A new bin's settings: the defaults and a fresh callback token.
    pub fn for_new_bin() -> Settings {
        let mut settings = Settings::default();
        settings.kaizala.callback_token = Some(new_callback_token());
        settings
    }

    /// Settings as stored. A row that does not read (hand-edited, or from a newer binspector)
    /// gives the defaults rather than failing every capture of the bin.
    pub fn from_stored(json: &str) -> Settings {
        serde_json::from_str(json).unwrap_or_else(|err| {
            tracing::warn!(error = %err, "a bin's stored settings do not read; using defaults");
            Settings::default()
        })
    }

    /// The stored form.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Reads a whole settings object sent by a client: absent fields take their defaults,
    /// except the callback token, which stays `current` unless given (a token registered with
    /// a sender must not change because another setting did); `null` removes it.
    pub fn from_client(mut value: Value, current: &Settings) -> Result<Settings, Invalid> {
        let Some(object) = value.as_object_mut() else {
            return Err(Invalid::new("settings", "must be a JSON object"));
        };
        unknown_fields(object)?;
        let kaizala = object
            .entry("kaizala")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(kaizala) = kaizala.as_object_mut() {
            if !kaizala.contains_key("callback_token") {
                let token = current.kaizala.callback_token.clone();
                kaizala.insert("callback_token".to_owned(), token.into());
            }
        }
        let settings: Settings = serde_path_to_error::deserialize(value).map_err(|err| {
            let path = err.path().to_string();
            let field = if path == "." {
                "settings".to_owned()
            } else {
                path
            };
            Invalid::new(field, plain_serde_message(&err.into_inner().to_string()))
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every value against its range, naming the first field that is out.
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(response) = &self.response {
            check_status("response.status", response.status)?;
            if response.delay_ms > MAX_DELAY_MS {
                return Err(Invalid::new(
                    "response.delay_ms",
                    format!("must be at most {MAX_DELAY_MS} (30 s)"),
                ));
            }
            if response.body.len() > MAX_BODY_BYTES {
                return Err(Invalid::new(
                    "response.body",
                    format!(
                        "is {} bytes; the most is {MAX_BODY_BYTES} (64 KiB)",
                        response.body.len()
                    ),
                ));
            }
            if response.headers.len() > MAX_HEADERS {
                return Err(Invalid::new(
                    "response.headers",
                    format!(
                        "has {} headers; the most is {MAX_HEADERS}",
                        response.headers.len()
                    ),
                ));
            }
            for (index, (name, value)) in response.headers.iter().enumerate() {
                check_header(&format!("response.headers[{index}]"), name, value)?;
            }
            let bytes: usize = response
                .headers
                .iter()
                .map(|(name, value)| name.len() + value.len())
                .sum();
            if bytes > MAX_HEADER_BYTES {
                return Err(Invalid::new(
                    "response.headers",
                    format!("are {bytes} bytes in all; the most is {MAX_HEADER_BYTES} (16 KiB)"),
                ));
            }
        }
        check_status("fail_next.status", self.fail_next.status)?;
        if self.fail_next.count > MAX_FAIL_COUNT {
            return Err(Invalid::new(
                "fail_next.count",
                format!("must be at most {MAX_FAIL_COUNT}"),
            ));
        }
        check_token(
            "handshakes.meta_verify_token",
            self.handshakes.meta_verify_token.as_deref(),
        )?;
        check_token(
            "kaizala.callback_token",
            self.kaizala.callback_token.as_deref(),
        )?;
        check_token("kaizala.context", self.kaizala.context.as_deref())?;
        Ok(())
    }
}

/// 128 random bits as 32 lowercase hex digits.
pub fn new_callback_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn check_status(field: &str, status: u16) -> Result<(), Invalid> {
    match status {
        _ if STATUS_RANGE.contains(&status) => Ok(()),
        100..=199 => Err(Invalid::new(
            field,
            format!(
                "{status} is informational, not an answer: senders would wait on for a final \
                 status; use 200 to 599"
            ),
        )),
        _ => Err(Invalid::new(
            field,
            format!("{status} is not an HTTP status: use 200 to 599"),
        )),
    }
}

/// Refuses a field the settings do not have, naming it (a typo must not pass for a default).
fn unknown_fields(object: &serde_json::Map<String, Value>) -> Result<(), Invalid> {
    for (parent, known) in FIELDS {
        let fields = match parent {
            "" => Some(object),
            _ => object.get(parent).and_then(Value::as_object),
        };
        let Some(fields) = fields else { continue };
        if let Some(key) = fields.keys().find(|key| !known.contains(&key.as_str())) {
            let field = match parent {
                "" => key.clone(),
                _ => format!("{parent}.{key}"),
            };
            return Err(Invalid::new(
                field,
                format!("is not a setting (the settings are {})", known.join(", ")),
            ));
        }
    }
    Ok(())
}

fn check_header(field: &str, name: &str, value: &str) -> Result<(), Invalid> {
    let Ok(parsed) = HeaderName::from_bytes(name.as_bytes()) else {
        return Err(Invalid::new(
            field,
            format!("{name:?} is not a legal header name (letters, digits and !#$%&'*+-.^_`|~)"),
        ));
    };
    if RESERVED_HEADERS.contains(&parsed.as_str()) {
        return Err(Invalid::new(
            field,
            format!("{name} is set by the server and cannot be configured"),
        ));
    }
    if HeaderValue::from_str(value).is_err() {
        return Err(Invalid::new(
            field,
            format!(
                "the value of {name} is not a legal header value (no line breaks or control \
                 characters)"
            ),
        ));
    }
    Ok(())
}

/// A token or context must fit in a header value (the callback token is sent as one) and be of
/// a sane length.
fn check_token(field: &str, token: Option<&str>) -> Result<(), Invalid> {
    let Some(token) = token else { return Ok(()) };
    if token.is_empty() || token.chars().count() > MAX_TOKEN_CHARS {
        return Err(Invalid::new(
            field,
            format!("must be 1 to {MAX_TOKEN_CHARS} characters, or null"),
        ));
    }
    if token.chars().any(char::is_control) {
        return Err(Invalid::new(field, "must not hold control characters"));
    }
    Ok(())
}

/// serde's message without its position ("at line 1 column 9"), which says nothing to a person
/// who is told the field.
fn plain_serde_message(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests;
