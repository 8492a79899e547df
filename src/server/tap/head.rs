//! Request heads as the tap reads them: where one ends, whether it is within the documented
//! limits, and what actix-http will make of it (its fields in order, and how its body is
//! framed), mirroring actix-http's own rules so that the two never disagree.

use std::sync::OnceLock;

use actix_web::http;
use bytes::Bytes;

use super::{Field, FieldAt, RawHead, Refusal};

/// Longest request line (method, target, version).
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Most header bytes after the request line, and in a trailer section.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most header fields (actix-http's own limit).
pub const MAX_HEADERS: usize = 96;

/// How a request's body is delimited, as actix-http decides it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Framing {
    None,
    Length(u64),
    Chunked,
    /// A WebSocket upgrade or a CONNECT: what follows is not HTTP/1.
    Opaque,
}

/// What a complete head is.
#[derive(Debug)]
pub(super) enum Parsed {
    Head(RawHead, Framing),
    /// actix-http would refuse it (it answers `400` or `431` with no body): the app says why.
    Refused(Refusal),
}

/// Where the head in `input` ends (just past its empty line), searching from `searched`.
pub(super) fn end(input: &[u8], searched: &mut usize) -> Option<usize> {
    let from = (*searched).min(input.len());
    for newline in memchr::memchr_iter(b'\n', &input[from..]).map(|i| i + from) {
        match input.get(newline + 1) {
            Some(b'\n') => return Some(newline + 2),
            Some(b'\r') => match input.get(newline + 2) {
                Some(b'\n') => return Some(newline + 3),
                Some(_) => {}
                None => {
                    *searched = newline;
                    return None;
                }
            },
            Some(_) => {}
            None => {
                *searched = newline;
                return None;
            }
        }
    }
    *searched = input.len();
    None
}

/// Checks a head that arrived without the tap (over HTTP/2, already decoded) against the same
/// limits, counting each field as it would be written in HTTP/1 (`name: value` and CRLF).
pub fn beyond_limits(head: &actix_web::dev::RequestHead) -> Option<Refusal> {
    let target = head
        .uri
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if head.method.as_str().len() + target + " HTTP/1.1".len() > MAX_REQUEST_LINE {
        return Some(line_too_long());
    }
    if head.headers.len() > MAX_HEADERS {
        return Some(too_many_fields());
    }
    let bytes: usize = head
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if bytes > MAX_HEADER_BYTES {
        return Some(headers_too_large());
    }
    None
}

/// Checks a (possibly partial) head against the documented limits.
pub(super) fn oversized(head: &[u8]) -> Option<Refusal> {
    let line = memchr::memchr(b'\n', head).unwrap_or(head.len());
    if line > MAX_REQUEST_LINE {
        return Some(line_too_long());
    }
    if head.len() - line > MAX_HEADER_BYTES + 4 {
        return Some(headers_too_large());
    }
    None
}

/// The `414` for a request line over the limit.
fn line_too_long() -> Refusal {
    Refusal::new(
        414,
        format!("the request line is longer than {MAX_REQUEST_LINE} bytes; nothing was stored"),
    )
}

/// The `431` for header fields over the limit in bytes.
fn headers_too_large() -> Refusal {
    Refusal::new(
        431,
        format!("the request headers are larger than {MAX_HEADER_BYTES} bytes; nothing was stored"),
    )
}

/// The `431` for more header fields than the limit.
fn too_many_fields() -> Refusal {
    Refusal::new(
        431,
        format!("more than {MAX_HEADERS} header fields; nothing was stored"),
    )
}

/// A `400` for a head actix-http would not take.
fn invalid(reason: &str) -> Parsed {
    Parsed::Refused(Refusal::new(
        400,
        format!("the request is not valid HTTP/1.1 ({reason}); nothing was stored"),
    ))
}

/// Parses a complete head the way actix-http's decoder does.
pub(super) fn parse(bytes: Bytes) -> Parsed {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut slots);
    match request.parse(&bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return invalid("the head is incomplete"),
        Err(httparse::Error::TooManyHeaders) => return Parsed::Refused(too_many_fields()),
        Err(err) => return invalid(&err.to_string()),
    }
    let (Some(method), Some(target), Some(version)) =
        (request.method, request.path, request.version)
    else {
        return invalid("the request line is incomplete");
    };
    if http::Method::from_bytes(method.as_bytes()).is_err() {
        return invalid("the method is not a token");
    }
    if http::Uri::try_from(target).is_err() {
        return invalid("the request target is not a URI");
    }
    // Where a slice of `bytes` is in it.
    let at = |piece: &[u8]| {
        let start = piece.as_ptr() as usize - bytes.as_ptr() as usize;
        (start, start + piece.len())
    };
    let mut names = String::with_capacity(request.headers.iter().map(|h| h.name.len()).sum());
    let mut fields = Vec::with_capacity(request.headers.len());
    let mut length = None;
    let mut transfer_encoding = None;
    let mut hosts = 0;
    let mut websocket = false;
    for header in request.headers.iter() {
        let start = names.len();
        names.extend(header.name.chars().map(|c| c.to_ascii_lowercase()));
        match &names[start..] {
            "content-length" => {
                let parsed = std::str::from_utf8(header.value)
                    .ok()
                    .map(str::trim)
                    .filter(|text| !text.starts_with('+'))
                    .and_then(|text| text.parse::<u64>().ok());
                match (parsed, length) {
                    (Some(parsed), None) => length = Some(parsed),
                    (None, _) => return invalid("Content-Length is not a number"),
                    (Some(_), Some(_)) => return invalid("Content-Length is given twice"),
                }
            }
            "transfer-encoding" => {
                if transfer_encoding.is_some() {
                    return invalid("Transfer-Encoding is given twice");
                }
                transfer_encoding = Some(header.value.trim_ascii().to_ascii_lowercase());
            }
            "host" => hosts += 1,
            "upgrade" => websocket |= header.value.trim_ascii().eq_ignore_ascii_case(b"websocket"),
            _ => {}
        }
        fields.push(FieldAt {
            name: (start, names.len()),
            value: at(header.value),
        });
    }
    if hosts > 1 {
        return invalid("Host is given twice");
    }
    if version == 1 && hosts == 0 {
        return invalid("an HTTP/1.1 request needs a Host");
    }
    let framing = match transfer_encoding {
        Some(_) if version == 0 => {
            return invalid("HTTP/1.0 has no Transfer-Encoding");
        }
        Some(_) if length.is_some() => {
            return invalid("Content-Length and Transfer-Encoding are both given");
        }
        Some(encoding) if encoding == b"chunked" => Framing::Chunked,
        Some(_) => return invalid("the only Transfer-Encoding taken is chunked"),
        None if websocket => Framing::Opaque,
        None => match length.filter(|length| *length > 0) {
            Some(length) => Framing::Length(length),
            None if method == "CONNECT" => Framing::Opaque,
            None if version == 0 && method == "POST" && length.is_none() => {
                return invalid("an HTTP/1.0 POST needs a Content-Length");
            }
            None => Framing::None,
        },
    };
    let raw = RawHead {
        method: at(method.as_bytes()),
        target: at(target.as_bytes()),
        bytes,
        names,
        fields,
        trailers: OnceLock::new(),
    };
    Parsed::Head(raw, framing)
}

/// `name: value` from a trailer line without its line break.
pub(super) fn trailer_field(line: &Bytes) -> Option<Field> {
    let colon = memchr::memchr(b':', line)?;
    let name = std::str::from_utf8(&line[..colon]).ok()?;
    if name.is_empty() || name.bytes().any(|byte| byte.is_ascii_whitespace()) {
        return None;
    }
    let value = line.slice(colon + 1..);
    let start = value
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    let end = value.len()
        - value[start..]
            .iter()
            .rev()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
    Some(Field {
        name: name.to_ascii_lowercase(),
        value: value.slice(start..end),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(head: &str) -> Parsed {
        parse(Bytes::copy_from_slice(head.as_bytes()))
    }

    fn refusal(head: &str) -> Refusal {
        match parsed(head) {
            Parsed::Refused(refusal) => refusal,
            Parsed::Head(..) => panic!("taken: {head:?}"),
        }
    }

    #[test]
    fn framing_follows_actix() {
        let framing = |head: &str| match parsed(head) {
            Parsed::Head(_, framing) => framing,
            Parsed::Refused(refusal) => panic!("{head:?}: {refusal:?}"),
        };
        assert_eq!(framing("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), Framing::None);
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n"),
            Framing::Length(3)
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"),
            Framing::Chunked
        );
        // A WebSocket upgrade is opaque even with a length; chunked wins over it.
        assert_eq!(
            framing("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nContent-Length: 3\r\n\r\n"),
            Framing::Opaque
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nContent-Length: 3\r\n\r\n"),
            Framing::Length(3)
        );
        assert_eq!(
            framing("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"),
            Framing::Opaque
        );
        assert_eq!(framing("GET / HTTP/1.0\r\n\r\n"), Framing::None);
    }

    #[test]
    fn heads_actix_refuses_get_a_reason() {
        for (head, reason) in [
            ("GET / HTTP/1.1\r\n\r\n", "needs a Host"),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "Host is given twice"),
            (
                "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
                "given twice",
            ),
            ("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", "not a number"),
            (
                "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                "both given",
            ),
            ("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", "only Transfer-Encoding"),
            ("POST / HTTP/1.0\r\n\r\n", "needs a Content-Length"),
            ("GET / HTTP/1.1 extra\r\nHost: h\r\n\r\n", "not valid"),
        ] {
            let refusal = refusal(head);
            assert_eq!(refusal.status, 400, "{head:?}");
            assert!(refusal.message.contains(reason), "{head:?}: {}", refusal.message);
        }
    }

    #[test]
    fn heads_end_at_their_empty_line_whatever_the_line_breaks() {
        let mut searched = 0;
        assert_eq!(
            end(b"GET / HTTP/1.1\r\nHost: h\r\n\r\nrest", &mut searched),
            Some(27)
        );
        let mut searched = 0;
        assert_eq!(end(b"GET / HTTP/1.0\n\nrest", &mut searched), Some(16));
        let mut searched = 0;
        assert_eq!(end(b"GET / HTTP/1.1\r\nHost: h\r\n\r", &mut searched), None);
        assert_eq!(searched, 24);
    }
}
