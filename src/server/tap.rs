//! The HTTP/1 tap: a thin layer between a connection and actix-http that reads each request
//! head as it came, in arrival order with every byte, and each chunked body's trailer section,
//! which actix-http's header map and chunked decoder do not keep.
//!
//! It also enforces the documented head limits before actix-http sees a head, so that a head
//! over them is answered with a clear message (actix-http would answer 431 with no body, and
//! not at all for a long request line under its own 128 KiB buffer): the tap holds each head
//! back until it is complete, and replaces one that is over a limit with a small synthetic
//! request that the app answers with `414` or `431` and `Connection: close`.
//!
//! The tap only observes bodies (it never holds them back), and mirrors actix-http's framing
//! rules: chunked, else an upgrade or CONNECT (the rest of the connection is opaque), else
//! Content-Length. Whenever it is unsure (a head actix-http will reject, a malformed chunk),
//! it stops looking and passes everything through, and requests fall back to the header map.

use std::{
    collections::VecDeque,
    io,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError},
    task::{Context, Poll},
};

use actix_web::http;
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Longest request line (method, target, version).
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Most header bytes after the request line, and in a trailer section.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most header fields (actix-http's own limit).
pub const MAX_HEADERS: usize = 96;
/// Longest chunk-size line the tap follows; a longer one makes it stop looking.
const MAX_CHUNK_LINE: usize = 4 * 1024;
/// Bytes asked of the connection at a time.
const READ_SIZE: usize = 16 * 1024;
/// What the app receives instead of a head over the limits.
const REFUSED_HEAD: &[u8] = b"GET / HTTP/1.1\r\nhost: refused.invalid\r\nconnection: close\r\n\r\n";

/// One header or trailer field as it came: the name lowercased, the value's exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub value: Bytes,
}

/// A request head as the tap read it.
#[derive(Debug)]
pub struct RawHead {
    method: String,
    target: String,
    fields: Vec<Field>,
    trailers: OnceLock<Vec<Field>>,
}

impl RawHead {
    /// The header fields in the order they arrived.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// The trailer section of a chunked body, once the body has been read; `None` before then
    /// and for bodies that had none.
    pub fn trailers(&self) -> Option<&[Field]> {
        self.trailers.get().map(Vec::as_slice)
    }

    /// Whether this head is the one actix-http parsed into a request with this method and URI.
    pub fn is_for(&self, method: &str, uri: &http::Uri) -> bool {
        if self.method != method {
            return false;
        }
        match uri.path_and_query() {
            Some(origin_form) if self.target.starts_with('/') => {
                origin_form.as_str() == self.target
            }
            _ => uri.to_string() == self.target,
        }
    }
}

/// A head over the documented limits, and what to tell its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// 414 or 431.
    pub status: u16,
    pub message: String,
}

/// What the tap saw for one request on the connection, in order.
#[derive(Debug)]
pub enum Seen {
    Head(Arc<RawHead>),
    Refused(Refusal),
}

/// The tap's findings, shared with the requests of its connection.
#[derive(Debug, Default)]
pub struct TapShared {
    seen: Mutex<VecDeque<Seen>>,
}

impl TapShared {
    fn seen(&self) -> MutexGuard<'_, VecDeque<Seen>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the tap saw for the request actix-http is dispatching now (requests of a
    /// connection are dispatched in the order they came).
    pub fn next(&self) -> Option<Seen> {
        self.seen().pop_front()
    }

    /// The head of the request being dispatched, without taking it (for the Expect check,
    /// which runs before the request reaches the app).
    pub fn peek(&self) -> Option<Arc<RawHead>> {
        match self.seen().front() {
            Some(Seen::Head(head)) => Some(head.clone()),
            _ => None,
        }
    }

    /// Forgets everything: the tap and actix-http disagree about this connection.
    pub fn forget(&self) {
        self.seen().clear();
    }
}

/// Where the scanner is in the connection's byte stream.
#[derive(Debug)]
enum State {
    /// Collecting a head; the end was searched for up to `searched`.
    Head { searched: usize },
    /// Passing a body of known length.
    Fixed { remaining: u64 },
    /// Passing a chunked body, reading its framing.
    Chunked { head: Arc<RawHead>, chunk: Chunk },
    /// A head over the limits was replaced; everything after it is dropped.
    Refused,
    /// Not looking any more: everything passes through.
    Opaque,
}

#[derive(Debug)]
enum Chunk {
    Size,
    Data { remaining: u64 },
    DataEnd,
    Trailers { fields: Vec<Field>, bytes: usize },
}

/// The byte-level part of the tap: moves bytes from `input` to `output`, holding back
/// incomplete heads, and records what it saw in `shared`.
#[derive(Debug)]
struct Scanner {
    state: State,
    shared: Arc<TapShared>,
}

impl Scanner {
    fn new(shared: Arc<TapShared>) -> Scanner {
        Scanner {
            state: State::Head { searched: 0 },
            shared,
        }
    }

    /// Processes what it can; returns whether anything moved.
    fn advance(&mut self, input: &mut BytesMut, output: &mut BytesMut) -> bool {
        let before = (input.len(), output.len());
        loop {
            let moved = match &mut self.state {
                State::Head { .. } => self.head(input, output),
                State::Fixed { remaining } => {
                    let take = usize::try_from(*remaining)
                        .unwrap_or(usize::MAX)
                        .min(input.len());
                    output.extend_from_slice(&input.split_to(take));
                    *remaining -= take as u64;
                    if *remaining == 0 {
                        self.state = State::Head { searched: 0 };
                    }
                    take > 0
                }
                State::Chunked { .. } => self.chunked(input, output),
                State::Refused => {
                    input.clear();
                    false
                }
                State::Opaque => {
                    output.extend_from_slice(&input.split());
                    false
                }
            };
            if !moved || input.is_empty() {
                break;
            }
        }
        (input.len(), output.len()) != before
    }

    fn opaque(&mut self, input: &mut BytesMut, output: &mut BytesMut) -> bool {
        self.state = State::Opaque;
        output.extend_from_slice(&input.split());
        true
    }

    fn refuse(&mut self, input: &mut BytesMut, output: &mut BytesMut, refusal: Refusal) -> bool {
        self.shared.seen().push_back(Seen::Refused(refusal));
        output.extend_from_slice(REFUSED_HEAD);
        input.clear();
        self.state = State::Refused;
        true
    }

    fn head(&mut self, input: &mut BytesMut, output: &mut BytesMut) -> bool {
        let State::Head { mut searched } = self.state else {
            return false;
        };
        // Empty lines before a request line are allowed; pass them on.
        let blank = input
            .iter()
            .take_while(|byte| matches!(byte, b'\r' | b'\n'))
            .count();
        if blank > 0 {
            output.extend_from_slice(&input.split_to(blank));
            searched = 0;
        }
        let end = if input.is_empty() {
            None
        } else {
            head_end(input, &mut searched)
        };
        self.state = State::Head { searched };
        let Some(end) = end else {
            return match oversized(input) {
                Some(refusal) => self.refuse(input, output, refusal),
                None => blank > 0,
            };
        };
        if let Some(refusal) = oversized(&input[..end]) {
            return self.refuse(input, output, refusal);
        }
        let head = input.split_to(end).freeze();
        match parse_head(&head) {
            Parsed::TooManyHeaders => {
                let refusal = Refusal {
                    status: 431,
                    message: format!("more than {MAX_HEADERS} header fields; nothing was stored"),
                };
                self.refuse(input, output, refusal)
            }
            Parsed::Unsure => {
                output.extend_from_slice(&head);
                self.opaque(input, output)
            }
            Parsed::Head(raw, framing) => {
                output.extend_from_slice(&head);
                let raw = Arc::new(raw);
                self.shared.seen().push_back(Seen::Head(raw.clone()));
                self.state = match framing {
                    Framing::None => State::Head { searched: 0 },
                    Framing::Length(remaining) => State::Fixed { remaining },
                    Framing::Chunked => State::Chunked {
                        head: raw,
                        chunk: Chunk::Size,
                    },
                    Framing::Opaque => State::Opaque,
                };
                true
            }
        }
    }

    fn chunked(&mut self, input: &mut BytesMut, output: &mut BytesMut) -> bool {
        let State::Chunked { head, chunk } = &mut self.state else {
            return false;
        };
        match chunk {
            Chunk::Size => {
                let Some(line_end) = line_end(input) else {
                    return input.len() > MAX_CHUNK_LINE && self.opaque(input, output);
                };
                let Some(size) = chunk_size(&input[..line_end - 2]) else {
                    return self.opaque(input, output);
                };
                output.extend_from_slice(&input.split_to(line_end));
                *chunk = if size == 0 {
                    Chunk::Trailers {
                        fields: Vec::new(),
                        bytes: 0,
                    }
                } else {
                    Chunk::Data { remaining: size }
                };
                true
            }
            Chunk::Data { remaining } => {
                let take = usize::try_from(*remaining)
                    .unwrap_or(usize::MAX)
                    .min(input.len());
                output.extend_from_slice(&input.split_to(take));
                *remaining -= take as u64;
                if *remaining == 0 {
                    *chunk = Chunk::DataEnd;
                }
                take > 0
            }
            Chunk::DataEnd => {
                if input.len() < 2 {
                    return false;
                }
                if &input[..2] != b"\r\n" {
                    return self.opaque(input, output);
                }
                output.extend_from_slice(&input.split_to(2));
                *chunk = Chunk::Size;
                true
            }
            Chunk::Trailers { fields, bytes } => {
                let Some(line_end) = line_end(input) else {
                    return input.len() > MAX_HEADER_BYTES && self.opaque(input, output);
                };
                let line = input.split_to(line_end).freeze();
                output.extend_from_slice(&line);
                if line_end == 2 {
                    // The empty line: the body is complete.
                    let _ = head.trailers.set(std::mem::take(fields));
                    self.state = State::Head { searched: 0 };
                    return true;
                }
                *bytes += line.len();
                if *bytes <= MAX_HEADER_BYTES {
                    if let Some(field) = trailer_field(&line.slice(..line_end - 2)) {
                        fields.push(field);
                    }
                }
                true
            }
        }
    }
}

/// Where the head in `input` ends (just past its empty line), searching from `searched`.
fn head_end(input: &[u8], searched: &mut usize) -> Option<usize> {
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

/// The end of the first `\r\n`-terminated line in `input`, past the line break.
fn line_end(input: &[u8]) -> Option<usize> {
    memchr::memmem::find(input, b"\r\n").map(|at| at + 2)
}

/// Checks a (possibly partial) head against the documented limits.
fn oversized(head: &[u8]) -> Option<Refusal> {
    let line = memchr::memchr(b'\n', head).unwrap_or(head.len());
    if line > MAX_REQUEST_LINE {
        return Some(Refusal {
            status: 414,
            message: format!(
                "the request line is longer than {MAX_REQUEST_LINE} bytes; nothing was stored"
            ),
        });
    }
    if head.len() - line > MAX_HEADER_BYTES + 4 {
        return Some(Refusal {
            status: 431,
            message: format!(
                "the request headers are larger than {MAX_HEADER_BYTES} bytes; nothing was stored"
            ),
        });
    }
    None
}

/// How a request's body is delimited, as actix-http decides it.
#[derive(Debug, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    /// An upgrade or CONNECT: what follows is not HTTP/1.
    Opaque,
}

#[derive(Debug)]
enum Parsed {
    Head(RawHead, Framing),
    TooManyHeaders,
    /// A head actix-http will refuse, or one the tap cannot follow.
    Unsure,
}

fn parse_head(head: &Bytes) -> Parsed {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut slots);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Err(httparse::Error::TooManyHeaders) => return Parsed::TooManyHeaders,
        _ => return Parsed::Unsure,
    }
    let (Some(method), Some(target), Some(version)) =
        (request.method, request.path, request.version)
    else {
        return Parsed::Unsure;
    };
    let mut fields = Vec::with_capacity(request.headers.len());
    let mut length = None;
    let mut transfer_encoding = None;
    let mut websocket = false;
    for header in request.headers.iter() {
        let name = header.name.to_ascii_lowercase();
        let value = head.slice_ref(header.value);
        match name.as_str() {
            "content-length" => {
                let parsed = std::str::from_utf8(header.value)
                    .ok()
                    .map(str::trim)
                    .filter(|text| !text.starts_with('+'))
                    .and_then(|text| text.parse::<u64>().ok());
                match (parsed, length) {
                    (Some(parsed), None) => length = Some(parsed),
                    _ => return Parsed::Unsure,
                }
            }
            "transfer-encoding" => {
                if transfer_encoding.is_some() {
                    return Parsed::Unsure;
                }
                transfer_encoding = Some(header.value.trim_ascii().to_ascii_lowercase());
            }
            "upgrade" => websocket |= header.value.trim_ascii().eq_ignore_ascii_case(b"websocket"),
            _ => {}
        }
        fields.push(Field { name, value });
    }
    let framing = match transfer_encoding {
        Some(encoding) if encoding == b"chunked" && version == 1 && length.is_none() => {
            Framing::Chunked
        }
        Some(_) => return Parsed::Unsure,
        None if websocket => Framing::Opaque,
        None => match length {
            Some(0) | None if method == "CONNECT" => Framing::Opaque,
            Some(0) | None => Framing::None,
            Some(length) => Framing::Length(length),
        },
    };
    let raw = RawHead {
        method: method.to_owned(),
        target: target.to_owned(),
        fields,
        trailers: OnceLock::new(),
    };
    Parsed::Head(raw, framing)
}

/// The size on a chunk-size line (`1a`, `1a ; ext=1`), or `None` if actix-http would refuse it.
fn chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line
        .iter()
        .take_while(|byte| byte.is_ascii_hexdigit())
        .count();
    if digits == 0 || digits > 16 {
        return None;
    }
    let rest = &line[digits..];
    let rest = &rest[rest
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count()..];
    if !(rest.is_empty() || rest[0] == b';') {
        return None;
    }
    if rest
        .iter()
        .any(|byte| matches!(byte, 0x00..=0x08 | 0x0a..=0x1f | 0x7f))
    {
        return None;
    }
    let text = std::str::from_utf8(&line[..digits]).ok()?;
    u64::from_str_radix(text, 16).ok()
}

/// `name: value` from a trailer line without its line break.
fn trailer_field(line: &Bytes) -> Option<Field> {
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

/// A connection with the tap in front of it.
pub struct Tap<IO> {
    io: IO,
    input: BytesMut,
    output: BytesMut,
    scanner: Scanner,
    /// The connection ended (or a refusal was sent): no more reads from it.
    ended: bool,
}

impl<IO> Tap<IO> {
    /// Puts the tap in front of a fresh connection.
    pub fn new(io: IO) -> Tap<IO> {
        Tap {
            io,
            input: BytesMut::new(),
            output: BytesMut::new(),
            scanner: Scanner::new(Arc::new(TapShared::default())),
            ended: false,
        }
    }

    /// The findings this tap shares with its connection's requests.
    pub fn shared(&self) -> Arc<TapShared> {
        self.scanner.shared.clone()
    }

    /// The connection underneath.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tap<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.output.is_empty() {
                let take = buf.remaining().min(this.output.len());
                buf.put_slice(&this.output.split_to(take));
                return Poll::Ready(Ok(()));
            }
            if matches!(this.scanner.state, State::Refused) {
                // The synthetic head says `Connection: close`; an end of input now would make
                // actix-http drop the connection before it answers.
                return Poll::Pending;
            }
            if this.ended {
                return Poll::Ready(Ok(()));
            }
            if matches!(this.scanner.state, State::Opaque) && this.input.is_empty() {
                return Pin::new(&mut this.io).poll_read(cx, buf);
            }
            if !this.input.is_empty() && this.scanner.advance(&mut this.input, &mut this.output) {
                continue;
            }
            this.input.reserve(READ_SIZE);
            match tokio_util::io::poll_read_buf(Pin::new(&mut this.io), cx, &mut this.input) {
                Poll::Ready(Ok(0)) => {
                    // Whatever is held back (a partial head) goes on, then the end.
                    this.output.extend_from_slice(&this.input.split());
                    this.ended = true;
                }
                Poll::Ready(Ok(_)) => {
                    this.scanner.advance(&mut this.input, &mut this.output);
                }
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tap<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` one at a time; returns what actix-http would read and what the tap saw.
    fn scan(chunks: &[&[u8]]) -> (Vec<u8>, Vec<Seen>) {
        let shared = Arc::new(TapShared::default());
        let mut scanner = Scanner::new(shared.clone());
        let (mut input, mut output) = (BytesMut::new(), BytesMut::new());
        for chunk in chunks {
            input.extend_from_slice(chunk);
            scanner.advance(&mut input, &mut output);
        }
        let seen = std::iter::from_fn(|| shared.next()).collect();
        (output.to_vec(), seen)
    }

    fn head(seen: &Seen) -> &RawHead {
        match seen {
            Seen::Head(head) => head,
            Seen::Refused(refusal) => panic!("refused: {refusal:?}"),
        }
    }

    fn names(head: &RawHead) -> Vec<&str> {
        head.fields().iter().map(|f| f.name.as_str()).collect()
    }

    #[test]
    fn heads_keep_their_order_and_bytes_and_bodies_pass_untouched() {
        let wire: &[u8] = b"POST /a?x=1 HTTP/1.1\r\nHost: h\r\nZ-Last: 1\r\nA-First: caf\xe9\r\n\
            Content-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nhost: h\r\n\r\n";
        let (out, seen) = scan(&[wire]);
        assert_eq!(out, wire);
        assert_eq!(seen.len(), 2);
        let first = head(&seen[0]);
        assert!(first.is_for("POST", &http::Uri::from_static("/a?x=1")));
        assert_eq!(
            names(first),
            ["host", "z-last", "a-first", "content-length"]
        );
        assert_eq!(first.fields()[2].value, &b"caf\xe9"[..]);
        assert!(head(&seen[1]).is_for("GET", &http::Uri::from_static("/b")));
    }

    #[test]
    fn a_head_is_held_back_until_it_is_complete() {
        let shared = Arc::new(TapShared::default());
        let mut scanner = Scanner::new(shared.clone());
        let (mut input, mut output) = (BytesMut::new(), BytesMut::new());
        for byte in b"GET / HTTP/1.1\r\nHost: h\r\n\r" {
            input.extend_from_slice(&[*byte]);
            scanner.advance(&mut input, &mut output);
            assert!(output.is_empty());
        }
        input.extend_from_slice(b"\n");
        scanner.advance(&mut input, &mut output);
        assert_eq!(&output[..], b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        assert!(shared.next().is_some());
    }

    #[test]
    fn chunked_trailers_are_read_across_reads() {
        let wire: &[u8] = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
            5;ext=1\r\nhello\r\n0\r\nX-Checksum: abc \r\nX-Second:2\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n";
        let pieces: Vec<&[u8]> = wire.chunks(7).collect();
        let (out, seen) = scan(&pieces);
        assert_eq!(out, wire);
        assert_eq!(seen.len(), 2);
        let trailers = head(&seen[0]).trailers().expect("trailers were read");
        assert_eq!(
            trailers,
            [
                Field {
                    name: "x-checksum".to_owned(),
                    value: Bytes::from_static(b"abc")
                },
                Field {
                    name: "x-second".to_owned(),
                    value: Bytes::from_static(b"2")
                }
            ]
        );
        assert!(head(&seen[1]).is_for("GET", &http::Uri::from_static("/next")));
    }

    #[test]
    fn heads_over_the_limits_are_replaced_by_a_refusal() {
        let long_line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_REQUEST_LINE));
        let (out, seen) = scan(&[long_line.as_bytes()]);
        assert_eq!(out, REFUSED_HEAD);
        assert!(matches!(
            &seen[..],
            [Seen::Refused(Refusal { status: 414, .. })]
        ));

        let big = format!(
            "GET / HTTP/1.1\r\nx-big: {}\r\n",
            "b".repeat(MAX_HEADER_BYTES)
        );
        let (out, seen) = scan(&[big.as_bytes()]);
        assert_eq!(out, REFUSED_HEAD);
        assert!(matches!(
            &seen[..],
            [Seen::Refused(Refusal { status: 431, .. })]
        ));

        let mut many = String::from("GET / HTTP/1.1\r\nHost: h\r\n");
        for n in 0..MAX_HEADERS {
            many.push_str(&format!("x-{n}: v\r\n"));
        }
        many.push_str("\r\n");
        let (out, seen) = scan(&[many.as_bytes()]);
        assert_eq!(out, REFUSED_HEAD);
        assert!(matches!(
            &seen[..],
            [Seen::Refused(Refusal { status: 431, .. })]
        ));
    }

    #[test]
    fn a_first_request_still_goes_through_before_a_refused_second() {
        let wire = format!(
            "GET /ok HTTP/1.1\r\nHost: h\r\n\r\nGET /{} HTTP/1.1\r\n",
            "a".repeat(MAX_REQUEST_LINE)
        );
        let (out, seen) = scan(&[wire.as_bytes()]);
        let expected = [&b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n"[..], REFUSED_HEAD].concat();
        assert_eq!(out, expected);
        assert!(matches!(&seen[..], [Seen::Head(_), Seen::Refused(_)]));
    }

    #[test]
    fn upgrades_connect_and_heads_actix_refuses_make_the_tap_stand_aside() {
        let upgrade: &[u8] = b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\x81\x05hello";
        let (out, seen) = scan(&[upgrade, b"GET / HTTP/1.1\r\n\r\n"]);
        assert_eq!(out, [upgrade, b"GET / HTTP/1.1\r\n\r\n"].concat());
        assert_eq!(seen.len(), 1);

        let connect: &[u8] = b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\nanything";
        let (out, seen) = scan(&[connect]);
        assert_eq!(out, connect);
        assert_eq!(seen.len(), 1);

        let both: &[u8] = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc";
        let (out, seen) = scan(&[both]);
        assert_eq!(out, both);
        assert!(seen.is_empty());
    }

    #[test]
    fn chunk_size_lines_follow_actix_rules() {
        assert_eq!(chunk_size(b"1a"), Some(26));
        assert_eq!(chunk_size(b"1A \t;name=value"), Some(26));
        assert_eq!(chunk_size(b""), None);
        assert_eq!(chunk_size(b"g"), None);
        assert_eq!(chunk_size(b"1 2"), None);
        assert_eq!(chunk_size(b"11111111111111111"), None);
    }
}
