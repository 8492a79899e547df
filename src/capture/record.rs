//! What a capture stores about a request: its head as it arrived (through the tap, in order and
//! byte for byte; else from actix's header map), its body, and the Kaizala facts the store
//! indexes.

use std::{net::IpAddr, time::Instant};

use actix_http::RequestHead;
use actix_web::http::header::{self, HeaderMap};
use bytes::Bytes;

use crate::{
    clock,
    headers::{self, HeaderRef},
    kaizala,
    server::tap::{Field, RawHead},
    settings::answer::Asks,
    store::{duplicates, NewRequest, Outcome},
};

/// Splits a request path into the bin id and the path below it:
/// `/{bin}/a/b` gives `({bin}, "/a/b")`, `/{bin}` gives `({bin}, "/")`.
pub fn split_bin(path: &str) -> (&str, &str) {
    let path = path.strip_prefix('/').unwrap_or(path);
    match path.find('/') {
        Some(slash) => path.split_at(slash),
        None => (path, "/"),
    }
}

/// The body length a request declares in `Content-Length`, if it is a number.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The stored request for a head and what came after it (asking no handshake, and started
/// now: the capture handler sets both).
pub fn new_request(
    head: &RequestHead,
    raw: Option<&RawHead>,
    client: Option<IpAddr>,
    outcome: Outcome,
    body: Bytes,
    body_size: u64,
) -> NewRequest {
    let (bin_id, path) = split_bin(head.uri.path());
    let kaizala = match outcome {
        Outcome::Rejected => None,
        _ => kaizala::recognise_bytes(&body),
    };
    let trailers = raw
        .and_then(RawHead::trailers)
        .filter(|fields| !fields.is_empty())
        .map(|fields| headers::to_json(&field_refs(fields)));
    NewRequest {
        bin_id: bin_id.to_owned(),
        received_at: clock::now_millis(),
        outcome,
        method: head.method.as_str().to_owned(),
        path: path.to_owned(),
        query: head.uri.query().unwrap_or_default().to_owned(),
        headers_json: headers::to_json(&header_refs(head, raw)),
        trailers_json: trailers,
        content_type: head
            .headers
            .get(header::CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned()),
        body,
        body_size,
        remote_addr: client.map(|ip| ip.to_string()),
        callback_token: kaizala.as_ref().and_then(|_| {
            head.headers
                .get("kz-callback-token")
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        }),
        event_key: kaizala.as_ref().and_then(duplicates::event_key),
        kaizala,
        asks: Asks::default(),
        started: Instant::now(),
    }
}

/// Every header, borrowed: in arrival order from the tap when it read this head, else from
/// actix's header map, whose order across names is lost, so sorted by name (repeats in order).
fn header_refs<'a>(head: &'a RequestHead, raw: Option<&'a RawHead>) -> Vec<HeaderRef<'a>> {
    if let Some(raw) = raw {
        return raw
            .fields()
            .map(|(name, value)| HeaderRef { name, value })
            .collect();
    }
    let mut pairs: Vec<HeaderRef<'a>> = head
        .headers
        .iter()
        .map(|(name, value)| HeaderRef {
            name: name.as_str(),
            value: value.as_bytes(),
        })
        .collect();
    pairs.sort_by(|a, b| a.name.cmp(b.name));
    pairs
}

fn field_refs(fields: &[Field]) -> Vec<HeaderRef<'_>> {
    fields
        .iter()
        .map(|field| HeaderRef {
            name: &field.name,
            value: &field.value,
        })
        .collect()
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
