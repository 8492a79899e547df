//! The API's JSON shapes (DESIGN §2), and their encoding in pieces: a request's body is encoded
//! a slice at a time and a listing a request at a time, so an answer never holds a whole
//! encoded body, whatever size it is.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use bytes::Bytes;
use serde::Serialize;

use crate::{
    budget::Reservation,
    clock,
    headers::HeaderPair,
    settings::answer::Handshake,
    store::{BinRecord, Drops, StoredRequest, TokenCheck},
};

/// Body bytes encoded per piece (a multiple of 3, so base64 pieces join without padding).
const PIECE: usize = 48 * 1024;

/// A bin as the API shows it.
#[derive(Serialize)]
pub struct BinJson {
    pub id: String,
    pub capture_url: String,
    pub inspect_url: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_count: Option<i64>,
    /// Captures refused by `--capture-limit` (not stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_count: Option<u64>,
    /// When the first of them was refused; `null` while none was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_since: Option<Option<String>>,
}

impl BinJson {
    /// The bin's JSON; `base` is the base of capture URLs. With `counts` (the bin's refused
    /// captures, if any), the counts are included: a new bin's answer leaves them out.
    pub fn new(bin: &BinRecord, base: &str, counts: Option<Option<Drops>>) -> Self {
        BinJson {
            id: bin.id.clone(),
            capture_url: format!("{base}/{}", bin.id),
            inspect_url: format!("{base}/inspect/{}", bin.id),
            created_at: clock::rfc3339_millis(bin.created_at),
            request_count: counts.map(|_| bin.request_count),
            dropped_count: counts.map(|drops| drops.map_or(0, |drops| drops.count)),
            dropped_since: counts
                .map(|drops| drops.map(|drops| clock::rfc3339_millis(drops.since))),
        }
    }
}

/// Everything of a request but its body, in API order.
#[derive(Serialize)]
struct RequestMeta<'a> {
    id: String,
    bin_id: &'a str,
    received_at: String,
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: &'a [HeaderPair],
    trailers: &'a [HeaderPair],
    content_type: Option<&'a str>,
    body_size: i64,
    /// Whether `body_base64` and `body_text` stop before the end of the body.
    body_truncated: bool,
    remote_addr: Option<&'a str>,
    /// `stored`, `rejected` (body over the limit, not kept) or `handshake`.
    outcome: &'static str,
    /// For a handshake: whose (`validation_token`, `slack`, `meta` or `dropbox`).
    handshake: Option<&'static str>,
    /// What binspector answered; `null` for requests stored before it was recorded.
    response: Option<ResponseJson>,
    kaizala: Option<KaizalaJson<'a>>,
}

#[derive(Serialize)]
struct ResponseJson {
    status: u16,
    latency_ms: i64,
}

/// The Kaizala facts of a request.
#[derive(Serialize)]
struct KaizalaJson<'a> {
    event_type: &'a str,
    event_id: Option<&'a str>,
    object_type: Option<&'a str>,
    object_id: Option<&'a str>,
    duplicate_of: Option<String>,
    /// For a duplicate: whether its body is byte for byte the first delivery's; else `null`.
    duplicate_identical: Option<bool>,
    /// `kz-callback-token` against the bin's token: `ok`, `mismatch`, `missing`; `null` when
    /// the bin had none.
    token: Option<&'static str>,
    /// The echoed `context` against the bin's; `null` when the bin had none.
    context_ok: Option<bool>,
}

/// Where a request's encoding is.
enum Part {
    Meta,
    Base64,
    Text,
    Done,
}

/// One request's JSON, piece by piece.
pub struct RequestPieces {
    request: StoredRequest,
    /// How much of the body is UTF-8 text to show as `body_text` (`None`: not text).
    text_len: Option<usize>,
    part: Part,
    at: usize,
    /// Memory reserved for the body, given back when the answer is done or dropped.
    _reservation: Option<Reservation>,
}

impl RequestPieces {
    /// Encodes `request`, holding `reservation` until the last piece is sent.
    pub fn new(request: StoredRequest, reservation: Option<Reservation>) -> RequestPieces {
        let text_len = text_len(&request.body, request.body_truncated);
        RequestPieces {
            request,
            text_len,
            part: Part::Meta,
            at: 0,
            _reservation: reservation,
        }
    }

    fn meta(&self) -> Vec<u8> {
        let request = &self.request;
        let meta = RequestMeta {
            id: request.id.to_string(),
            bin_id: &request.bin_id,
            received_at: clock::rfc3339_millis(request.received_at),
            method: &request.method,
            path: &request.path,
            query: &request.query,
            headers: &request.headers,
            trailers: &request.trailers,
            content_type: request.content_type.as_deref(),
            body_size: request.body_size,
            body_truncated: request.body_truncated,
            remote_addr: request.remote_addr.as_deref(),
            outcome: request.outcome.as_str(),
            handshake: request.handshake.map(Handshake::as_str),
            response: request.response.map(|response| ResponseJson {
                status: response.status,
                latency_ms: response.latency_ms,
            }),
            kaizala: request.kaizala.as_ref().map(|event| KaizalaJson {
                event_type: &event.event_type,
                event_id: event.event_id.as_deref(),
                object_type: event.object_type.as_deref(),
                object_id: event.object_id.as_deref(),
                duplicate_of: request.duplicate_of.map(|id| id.to_string()),
                duplicate_identical: request.duplicate_of.and(request.duplicate_identical),
                token: request.token_check.map(TokenCheck::as_str),
                context_ok: request.context_ok,
            }),
        };
        let mut json = serde_json::to_vec(&meta).unwrap_or_else(|_| b"{}".to_vec());
        // Reopen the object for the body fields.
        json.pop();
        if json.len() > 1 {
            json.push(b',');
        }
        json.extend_from_slice(b"\"body_base64\":\"");
        json
    }
}

impl Iterator for RequestPieces {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        let body = &self.request.body;
        match self.part {
            Part::Meta => {
                self.part = Part::Base64;
                Some(Bytes::from(self.meta()))
            }
            Part::Base64 if self.at < body.len() => {
                let end = (self.at + PIECE).min(body.len());
                let piece = STANDARD.encode(&body[self.at..end]);
                self.at = end;
                Some(Bytes::from(piece))
            }
            Part::Base64 => {
                self.at = 0;
                if self.text_len.is_some() {
                    self.part = Part::Text;
                    Some(Bytes::from_static(b"\",\"body_text\":\""))
                } else {
                    self.part = Part::Done;
                    Some(Bytes::from_static(b"\",\"body_text\":null}"))
                }
            }
            Part::Text => {
                let len = self.text_len.unwrap_or(0);
                if self.at >= len {
                    self.part = Part::Done;
                    return Some(Bytes::from_static(b"\"}"));
                }
                let text = std::str::from_utf8(&body[..len]).unwrap_or_default();
                let mut end = (self.at + PIECE).min(len);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                let quoted = serde_json::to_string(&text[self.at..end]).unwrap_or_default();
                self.at = end;
                let inner = quoted
                    .get(1..quoted.len().saturating_sub(1))
                    .unwrap_or_default();
                Some(Bytes::copy_from_slice(inner.as_bytes()))
            }
            Part::Done => None,
        }
    }
}

/// How much of a body is text: all of it when it is UTF-8; for a body cut short, up to the
/// last whole character; `None` when it is not text.
fn text_len(body: &[u8], truncated: bool) -> Option<usize> {
    match std::str::from_utf8(body) {
        Ok(_) => Some(body.len()),
        // A character cut in two at the end of a prefix does not make it binary.
        Err(err) if truncated && err.error_len().is_none() => Some(err.valid_up_to()),
        Err(_) => None,
    }
}

/// A page of requests as `{"requests":[…],"next_before":…}`, piece by piece.
pub fn request_list(
    requests: Vec<StoredRequest>,
    next_before: Option<i64>,
) -> impl Iterator<Item = Bytes> {
    let tail = match next_before {
        Some(id) => format!("],\"next_before\":\"{id}\"}}"),
        None => "],\"next_before\":null}".to_owned(),
    };
    std::iter::once(Bytes::from_static(b"{\"requests\":["))
        .chain(requests.into_iter().enumerate().flat_map(|(n, request)| {
            let comma = (n > 0).then(|| Bytes::from_static(b","));
            comma.into_iter().chain(RequestPieces::new(request, None))
        }))
        .chain(std::iter::once(Bytes::from(tail)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Outcome;

    fn request(body: &[u8], truncated: bool) -> StoredRequest {
        StoredRequest {
            id: 7,
            bin_id: "b".to_owned(),
            received_at: 0,
            outcome: Outcome::Stored,
            method: "POST".to_owned(),
            path: "/".to_owned(),
            query: String::new(),
            headers: vec![HeaderPair {
                name: "x-bytes".to_owned(),
                value: b"caf\xe9".to_vec(),
            }],
            trailers: Vec::new(),
            content_type: None,
            body: body.to_vec(),
            body_size: body.len() as i64 + i64::from(truncated),
            body_truncated: truncated,
            remote_addr: None,
            kaizala: None,
            duplicate_of: None,
            duplicate_identical: None,
            handshake: None,
            token_check: None,
            context_ok: None,
            response: None,
        }
    }

    fn encode(request: StoredRequest) -> serde_json::Value {
        let bytes: Vec<u8> = RequestPieces::new(request, None).flatten().collect();
        serde_json::from_slice(&bytes).expect("valid JSON")
    }

    #[test]
    fn a_large_body_is_encoded_in_pieces_that_join_into_the_same_json() {
        let body: String = (0..200_000)
            .map(|n| char::from(b'a' + (n % 26) as u8))
            .collect();
        let body = format!("{body}\u{1}\"é");
        let pieces = RequestPieces::new(request(body.as_bytes(), false), None).count();
        assert!(pieces > 6, "{pieces} pieces");
        let json = encode(request(body.as_bytes(), false));
        assert_eq!(json["body_text"], body);
        assert_eq!(
            STANDARD
                .decode(json["body_base64"].as_str().unwrap())
                .unwrap(),
            body.as_bytes()
        );
        assert_eq!(json["id"], "7");
        assert_eq!(json["headers"][0][2], "Y2Fm6Q==");
    }

    #[test]
    fn binary_bodies_have_no_text_and_cut_characters_are_dropped_from_it() {
        let json = encode(request(b"\xff\x00", false));
        assert_eq!(json["body_text"], serde_json::Value::Null);
        let json = encode(request("abé".as_bytes().split_last().unwrap().1, true));
        assert_eq!(json["body_text"], "ab");
        assert_eq!(json["body_truncated"], true);
    }

    #[test]
    fn lists_join_requests_with_commas() {
        let list: Vec<u8> = request_list(vec![request(b"1", false), request(b"2", false)], Some(3))
            .flatten()
            .collect();
        let json: serde_json::Value = serde_json::from_slice(&list).unwrap();
        assert_eq!(json["requests"].as_array().unwrap().len(), 2);
        assert_eq!(json["next_before"], "3");
    }
}
