//! View models: a stored request turned into the plain data a request card shows. Everything
//! here is data; the templates escape it on the way out.

use crate::{
    clock, decode,
    headers::HeaderPair,
    kaizala::{
        summary::{summarise, Summary},
        Family,
    },
    render::{self, BodyView},
    settings::answer::Handshake,
    store::{Outcome, StoredRequest, TokenCheck},
};

/// Headers whose values are shown prominently on the card.
const CALLBACK_TOKEN_HEADER: &str = "kz-callback-token";

/// One request as a card.
pub struct RequestCard {
    pub id: i64,
    pub bin_id: String,
    pub method: String,
    /// `get`, `post`, … or `other`: picks the badge colour.
    pub method_class: &'static str,
    pub path: String,
    pub query: String,
    pub query_params: Vec<(String, String)>,
    pub received_at: String,
    pub received_ms: i64,
    pub age: String,
    pub size: String,
    pub remote_addr: Option<String>,
    pub content_type: Option<String>,
    pub rejected: bool,
    /// Whose handshake answered it (`Slack url_verification`, …).
    pub handshake: Option<&'static str>,
    /// What binspector answered: the status, and after how many milliseconds.
    pub answered: Option<Answered>,
    /// Header fields as received; values that are not UTF-8 are shown with `\xNN` escapes.
    pub headers: Vec<ShownHeader>,
    /// The trailer section of a chunked body.
    pub trailers: Vec<ShownHeader>,
    pub callback_token: Option<String>,
    pub kaizala: Option<KaizalaBadge>,
    pub body: BodyView,
    /// Whether the card shows only the start of the body (the page reads a prefix, or the view
    /// stops at its limit).
    pub body_cut: bool,
    /// The most body text the card shows, in KiB.
    pub shown_kib: usize,
    /// Open the body section unless a Kaizala summary already says what it holds.
    pub body_open: bool,
    /// The `Content-Encoding` the body was sent (and is stored) with, if any.
    pub encoding: Option<String>,
    /// Set when `body` shows the body with its encoding undone.
    pub decoded: Option<DecodedNote>,
}

/// What a card says about a body it shows decoded.
pub struct DecodedNote {
    pub size: String,
    /// The decoded body goes on beyond [`decode::MAX_DECODED`].
    pub truncated: bool,
    /// Why decoding stopped early (the bytes before are shown), or could not start.
    pub error: Option<String>,
    /// The view shows only the start of the decoded bytes.
    pub shown_cut: bool,
}

/// Kaizala summaries are read from bodies up to this size; events are a few KiB, and a larger
/// document would cost a tree many times its size.
const MAX_SUMMARISED: usize = 256 * 1024;

/// A header field as a card shows it.
pub struct ShownHeader {
    pub name: String,
    pub value: String,
    /// The value was not UTF-8; `value` shows its other bytes as `\xNN`.
    pub escaped: bool,
}

impl From<&HeaderPair> for ShownHeader {
    fn from(pair: &HeaderPair) -> Self {
        ShownHeader {
            name: pair.name.clone(),
            value: pair.escaped().into_owned(),
            escaped: pair.is_binary(),
        }
    }
}

/// What a request was answered, as its badge shows it.
pub struct Answered {
    pub status: u16,
    pub latency_ms: i64,
}

impl Answered {
    /// `ok` for 2xx, `fail` otherwise: the badge's class.
    pub fn class(&self) -> &'static str {
        if (200..300).contains(&self.status) {
            "ok"
        } else {
            "fail"
        }
    }
}

/// The Kaizala part of a card.
pub struct KaizalaBadge {
    pub event_type: String,
    pub family: &'static str,
    pub duplicate_of: Option<i64>,
    /// For a duplicate: whether its body is exactly the first delivery's.
    pub duplicate_identical: Option<bool>,
    /// The `kz-callback-token` against the bin's token: `ok`, `mismatch` or `missing`.
    pub token: Option<&'static str>,
    /// The echoed context against the bin's.
    pub context_ok: Option<bool>,
    pub summary: Option<Summary>,
}

impl RequestCard {
    /// Builds the card for a stored request (or the start of one, for listings), as seen at
    /// `now` (Unix milliseconds), showing at most `max` bytes of body text.
    pub fn new(request: StoredRequest, now: i64, max: usize) -> RequestCard {
        let body = render::view_within(
            request.content_type.as_deref(),
            &request.body,
            request.body_truncated,
            max,
        );
        let kaizala = request.kaizala.as_ref().map(|event| KaizalaBadge {
            event_type: event.event_type.clone(),
            family: Family::of(&event.event_type).name(),
            duplicate_of: request.duplicate_of,
            duplicate_identical: request.duplicate_of.and(request.duplicate_identical),
            token: request.token_check.map(TokenCheck::as_str),
            context_ok: request.context_ok,
            // A summary needs the whole document; a card of a cut body shows it raw instead.
            summary: (request.body.len() <= MAX_SUMMARISED)
                .then(|| serde_json::from_slice(&request.body).ok())
                .flatten()
                .and_then(|value| summarise(&value)),
        });
        let callback_token = request
            .headers
            .iter()
            .find(|pair| pair.name == CALLBACK_TOKEN_HEADER)
            .map(|pair| pair.text().into_owned());
        let encoding = content_encoding(&request);
        let query_params = serde_urlencoded::from_str(&request.query).unwrap_or_default();
        // A binary body's hex view says itself how much it shows.
        let body_cut = match body {
            BodyView::Empty | BodyView::Binary { .. } => false,
            BodyView::Json { truncated, .. } | BodyView::Text { truncated, .. } => {
                truncated || request.body_truncated
            }
            _ => request.body_truncated,
        };
        RequestCard {
            id: request.id,
            method_class: method_class(&request.method),
            method: request.method,
            bin_id: request.bin_id,
            path: request.path,
            query: request.query,
            query_params,
            received_at: clock::rfc3339_millis(request.received_at),
            received_ms: request.received_at,
            age: clock::relative_age(request.received_at, now),
            size: human_size(request.body_size),
            remote_addr: request.remote_addr,
            content_type: request.content_type,
            rejected: request.outcome == Outcome::Rejected,
            handshake: request.handshake.map(Handshake::label),
            answered: request.response.map(|response| Answered {
                status: response.status,
                latency_ms: response.latency_ms,
            }),
            headers: request.headers.iter().map(ShownHeader::from).collect(),
            trailers: request.trailers.iter().map(ShownHeader::from).collect(),
            callback_token,
            // Closed when there is none, or a summary already says what the body holds.
            body_open: !matches!(body, BodyView::Empty)
                && kaizala.as_ref().is_none_or(|badge| {
                    badge
                        .summary
                        .as_ref()
                        .is_none_or(|summary| summary.details.is_empty())
                }),
            kaizala,
            body,
            body_cut,
            shown_kib: max / 1024,
            encoding,
            decoded: None,
        }
    }

    /// Shows `body` (the card's whole stored body) with its `Content-Encoding` undone, at most
    /// [`decode::MAX_DECODED`] bytes of it.
    pub fn show_decoded(&mut self, body: &[u8]) {
        let Some(encoding) = &self.encoding else {
            return;
        };
        let decoded = match decode::codings(encoding) {
            Ok(codings) => decode::decode(&codings, body, decode::MAX_DECODED),
            Err(error) => decode::Decoded {
                bytes: Vec::new(),
                truncated: false,
                error: Some(error),
            },
        };
        self.body = render::view(self.content_type.as_deref(), &decoded.bytes);
        let view_cut = matches!(
            self.body,
            BodyView::Json {
                truncated: true,
                ..
            } | BodyView::Text {
                truncated: true,
                ..
            }
        );
        // The note below says how much was decoded and shown; the stored body's own cut note
        // (its size, a link to this very page) would say it wrongly.
        self.body_cut = false;
        self.body_open = true;
        self.decoded = Some(DecodedNote {
            size: human_size(i64::try_from(decoded.bytes.len()).unwrap_or(i64::MAX)),
            truncated: decoded.truncated,
            error: decoded.error,
            shown_cut: view_cut,
        });
    }
}

/// The `Content-Encoding` a request's body was sent with (several header lines are one list),
/// unless there is none to undo.
pub fn content_encoding(request: &StoredRequest) -> Option<String> {
    let codings: Vec<String> = request
        .headers
        .iter()
        .filter(|pair| pair.name == "content-encoding")
        .map(|pair| pair.text().trim().to_owned())
        .filter(|value| !value.is_empty() && !value.eq_ignore_ascii_case("identity"))
        .collect();
    (!codings.is_empty()).then(|| codings.join(", "))
}

fn method_class(method: &str) -> &'static str {
    match method {
        "GET" => "get",
        "POST" => "post",
        "PUT" => "put",
        "PATCH" => "patch",
        "DELETE" => "delete",
        "HEAD" => "head",
        "OPTIONS" => "options",
        _ => "other",
    }
}

/// `538 B`, `1.2 KiB`, `3.4 MiB`.
pub fn human_size(bytes: i64) -> String {
    const KIB: f64 = 1024.0;
    let value = bytes as f64;
    if value < KIB {
        format!("{bytes} B")
    } else if value < KIB * KIB {
        format!("{:.1} KiB", value / KIB)
    } else if value < KIB * KIB * KIB {
        format!("{:.1} MiB", value / (KIB * KIB))
    } else {
        format!("{:.1} GiB", value / (KIB * KIB * KIB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_human() {
        assert_eq!(human_size(538), "538 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(10 * 1024 * 1024), "10.0 MiB");
    }

    #[test]
    fn unknown_methods_get_a_neutral_badge() {
        assert_eq!(method_class("POST"), "post");
        assert_eq!(method_class("PROPFIND"), "other");
    }
}
