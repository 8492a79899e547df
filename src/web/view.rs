//! View models: a stored request turned into the plain data a request card shows. Everything
//! here is data; the templates escape it on the way out.

use crate::{
    clock,
    kaizala::{
        summary::{summarise, Summary},
        Family,
    },
    render::{self, BodyView},
    store::{Outcome, StoredRequest},
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
    pub handshake: bool,
    pub headers: Vec<(String, String)>,
    pub callback_token: Option<String>,
    pub kaizala: Option<KaizalaBadge>,
    pub body: BodyView,
    /// Open the body section unless a Kaizala summary already says what it holds.
    pub body_open: bool,
}

/// The Kaizala part of a card.
pub struct KaizalaBadge {
    pub event_type: String,
    pub family: &'static str,
    pub duplicate_of: Option<i64>,
    pub summary: Option<Summary>,
}

impl RequestCard {
    /// Builds the card for a stored request, as seen at `now` (Unix milliseconds).
    pub fn new(request: StoredRequest, now: i64) -> RequestCard {
        let body = render::view(request.content_type.as_deref(), &request.body);
        let kaizala = request.kaizala.as_ref().map(|event| KaizalaBadge {
            event_type: event.event_type.clone(),
            family: Family::of(&event.event_type).name(),
            duplicate_of: request.duplicate_of,
            summary: serde_json::from_slice(&request.body)
                .ok()
                .and_then(|value| summarise(&value)),
        });
        let callback_token = request
            .headers
            .iter()
            .find(|(name, _)| name == CALLBACK_TOKEN_HEADER)
            .map(|(_, value)| value.clone());
        let query_params = serde_urlencoded::from_str(&request.query).unwrap_or_default();
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
            handshake: request.outcome == Outcome::Handshake,
            headers: request.headers,
            callback_token,
            body_open: kaizala.as_ref().is_none_or(|badge| badge.summary.is_none()),
            kaizala,
            body,
        }
    }
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
    } else {
        format!("{:.1} MiB", value / (KIB * KIB))
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
