//! The byte-level part of the tap: moves a connection's bytes from what was read to what
//! actix-http may read, holding back each head until it is complete, following each body's
//! framing (chunked bodies byte by byte, exactly as actix-http's decoder does), and recording
//! heads and trailers as it goes.

use std::sync::Arc;

use bytes::BytesMut;

use super::{
    head::{self, Framing, Parsed, MAX_HEADER_BYTES},
    Field, RawHead, Refusal, TapShared,
};

/// Where the scanner is in the connection's byte stream.
#[derive(Debug)]
enum State {
    /// Collecting a head; its end was searched for up to `searched`.
    Head { searched: usize },
    /// Passing a body of known length.
    Fixed { remaining: u64 },
    /// Passing a chunked body, following its framing.
    Chunked { head: Arc<RawHead>, chunk: Chunk },
    /// A head was refused; everything after it is dropped.
    Refused,
    /// What follows is not HTTP/1 (an upgrade, CONNECT), or the tap lost track: everything
    /// passes through.
    Opaque,
}

/// actix-http's chunked-decoder states, one for one.
#[derive(Debug)]
enum Chunk {
    SizeFirst,
    SizeRest {
        size: u64,
    },
    SizeLws {
        size: u64,
    },
    Extension {
        size: u64,
    },
    SizeLf {
        size: u64,
    },
    Data {
        remaining: u64,
    },
    DataCr,
    DataLf,
    /// After the last chunk: a trailer line or the final line break starts here.
    EndCr,
    Trailer,
    TrailerLf,
    EndLf,
}

/// The scanner of one connection.
#[derive(Debug)]
pub(super) struct Scanner {
    state: State,
    shared: Arc<TapShared>,
    /// Heads completed so far (the tap starts a new head deadline after each).
    pub(super) heads: u64,
    /// The trailer line being read, and the trailer fields so far.
    trailer_line: Vec<u8>,
    trailers: Vec<Field>,
    trailer_bytes: usize,
}

/// What the chunked decoder does with one framing byte.
enum Step {
    Next(Chunk),
    /// The body is complete.
    End,
    /// actix-http fails the body here (and closes the connection).
    Broken,
}

impl Scanner {
    pub(super) fn new(shared: Arc<TapShared>) -> Scanner {
        Scanner {
            state: State::Head { searched: 0 },
            shared,
            heads: 0,
            trailer_line: Vec::new(),
            trailers: Vec::new(),
            trailer_bytes: 0,
        }
    }

    /// Whether a head is being collected (or awaited).
    pub(super) fn in_head(&self) -> bool {
        matches!(self.state, State::Head { .. })
    }

    /// Whether a head was refused: nothing more is read from the connection.
    pub(super) fn refused(&self) -> bool {
        matches!(self.state, State::Refused)
    }

    /// Whether everything now passes through untouched.
    pub(super) fn opaque(&self) -> bool {
        matches!(self.state, State::Opaque)
    }

    /// Processes what it can; returns whether anything moved.
    pub(super) fn advance(&mut self, input: &mut BytesMut, output: &mut BytesMut) -> bool {
        let before = (input.len(), output.len());
        while !input.is_empty() {
            let moved = match self.state {
                State::Head { .. } => self.head(input, output),
                State::Fixed { remaining } => {
                    let take = take(remaining, input.len());
                    output.extend_from_slice(&input.split_to(take));
                    self.state = match remaining - take as u64 {
                        0 => State::Head { searched: 0 },
                        remaining => State::Fixed { remaining },
                    };
                    true
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
            if !moved {
                break;
            }
        }
        (input.len(), output.len()) != before
    }

    /// Replaces what is being read with the synthetic head the app answers `refusal` to.
    pub(super) fn refuse(&mut self, input: &mut BytesMut, output: &mut BytesMut, refusal: Refusal) {
        output.extend_from_slice(&self.shared.refused_head(refusal));
        input.clear();
        self.state = State::Refused;
    }

    /// Stops following the connection (actix-http is about to fail it, or the tap cannot
    /// follow it); the requests still to come get no raw head.
    fn lose_track(&mut self, input: &mut BytesMut, output: &mut BytesMut) -> bool {
        self.shared.lose_track();
        self.state = State::Opaque;
        output.extend_from_slice(&input.split());
        true
    }

    fn head(&mut self, input: &mut BytesMut, output: &mut BytesMut) -> bool {
        let State::Head { mut searched } = self.state else {
            return false;
        };
        // Empty lines before a request line are allowed, and skipped; they are not passed on,
        // so that actix-http's keep-alive timer keeps running until a head is complete.
        let blank = input
            .iter()
            .take_while(|byte| matches!(byte, b'\r' | b'\n'))
            .count();
        if blank > 0 {
            let _ = input.split_to(blank);
            searched = 0;
        }
        let end = match input.is_empty() {
            true => None,
            false => head::end(input, &mut searched),
        };
        self.state = State::Head { searched };
        let Some(end) = end else {
            if let Some(refusal) = head::oversized(input) {
                self.refuse(input, output, refusal);
                return true;
            }
            return blank > 0;
        };
        if let Some(refusal) = head::oversized(&input[..end]) {
            self.refuse(input, output, refusal);
            return true;
        }
        let bytes = input.split_to(end).freeze();
        match head::parse(&bytes) {
            Parsed::Refused(refusal) => self.refuse(input, output, refusal),
            Parsed::Head(raw, framing) => {
                output.extend_from_slice(&bytes);
                self.heads += 1;
                let raw = Arc::new(raw);
                self.shared.push(raw.clone());
                self.state = match framing {
                    Framing::None => State::Head { searched: 0 },
                    Framing::Length(remaining) => State::Fixed { remaining },
                    Framing::Chunked => State::Chunked {
                        head: raw,
                        chunk: Chunk::SizeFirst,
                    },
                    Framing::Opaque => State::Opaque,
                };
            }
        }
        true
    }

    fn chunked(&mut self, input: &mut BytesMut, output: &mut BytesMut) -> bool {
        let State::Chunked { chunk, .. } = &mut self.state else {
            return false;
        };
        if let Chunk::Data { remaining } = *chunk {
            let take = take(remaining, input.len());
            output.extend_from_slice(&input.split_to(take));
            *chunk = match remaining - take as u64 {
                0 => Chunk::DataCr,
                remaining => Chunk::Data { remaining },
            };
            return true;
        }
        // Framing bytes one at a time, as actix-http reads them.
        let mut used = 0;
        let mut end = None;
        for &byte in input.iter() {
            used += 1;
            let current = std::mem::replace(chunk, Chunk::SizeFirst);
            let line_ended = matches!(current, Chunk::TrailerLf);
            match step(current, byte) {
                Step::Next(next) => *chunk = next,
                other => {
                    end = Some(other);
                    break;
                }
            }
            match chunk {
                Chunk::Trailer if self.trailer_bytes < MAX_HEADER_BYTES => {
                    self.trailer_line.push(byte);
                    self.trailer_bytes += 1;
                }
                Chunk::EndCr if line_ended => {
                    let line = std::mem::take(&mut self.trailer_line);
                    if let Some(field) = head::trailer_field(&line.into()) {
                        self.trailers.push(field);
                    }
                }
                Chunk::Data { .. } => break,
                _ => {}
            }
        }
        match end {
            Some(Step::Broken) => return self.lose_track(input, output),
            Some(_) => {
                if let State::Chunked { head, .. } = &self.state {
                    let _ = head.trailers.set(std::mem::take(&mut self.trailers));
                }
                self.trailer_line.clear();
                self.trailer_bytes = 0;
                self.state = State::Head { searched: 0 };
            }
            None => {}
        }
        output.extend_from_slice(&input.split_to(used));
        true
    }
}

fn take(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |remaining| remaining.min(available))
}

/// One byte of chunked framing, as actix-http's `ChunkedState::step` takes it.
fn step(chunk: Chunk, byte: u8) -> Step {
    let hex = |byte: u8| (byte as char).to_digit(16).map(u64::from);
    Step::Next(match chunk {
        Chunk::SizeFirst => match hex(byte) {
            Some(digit) => Chunk::SizeRest { size: digit },
            None => return Step::Broken,
        },
        Chunk::SizeRest { size } => match (hex(byte), byte) {
            (Some(digit), _) => match size.checked_mul(16) {
                Some(size) => Chunk::SizeRest { size: size + digit },
                None => return Step::Broken,
            },
            (None, b'\t' | b' ') => Chunk::SizeLws { size },
            (None, b';') => Chunk::Extension { size },
            (None, b'\r') => Chunk::SizeLf { size },
            _ => return Step::Broken,
        },
        Chunk::SizeLws { size } => match byte {
            b'\t' | b' ' => Chunk::SizeLws { size },
            b';' => Chunk::Extension { size },
            b'\r' => Chunk::SizeLf { size },
            _ => return Step::Broken,
        },
        Chunk::Extension { size } => match byte {
            b'\r' => Chunk::SizeLf { size },
            0x00..=0x08 | 0x0a..=0x1f | 0x7f => return Step::Broken,
            _ => Chunk::Extension { size },
        },
        Chunk::SizeLf { size } => match (byte, size) {
            (b'\n', 0) => Chunk::EndCr,
            (b'\n', size) => Chunk::Data { remaining: size },
            _ => return Step::Broken,
        },
        Chunk::Data { remaining } => Chunk::Data { remaining },
        Chunk::DataCr => match byte {
            b'\r' => Chunk::DataLf,
            _ => return Step::Broken,
        },
        Chunk::DataLf => match byte {
            b'\n' => Chunk::SizeFirst,
            // actix-http takes anything else as the start of a trailer; no sender does that.
            _ => return Step::Broken,
        },
        Chunk::EndCr => match byte {
            b'\r' => Chunk::EndLf,
            _ => Chunk::Trailer,
        },
        Chunk::Trailer => match byte {
            b'\r' => Chunk::TrailerLf,
            _ => Chunk::Trailer,
        },
        Chunk::TrailerLf => match byte {
            b'\n' => Chunk::EndCr,
            _ => return Step::Broken,
        },
        Chunk::EndLf => match byte {
            b'\n' => return Step::End,
            _ => return Step::Broken,
        },
    })
}

#[cfg(test)]
mod tests {
    use actix_web::http::Uri;

    use super::super::{MAX_HEADERS, MAX_REQUEST_LINE};
    use super::*;

    /// Feeds `chunks` one at a time; returns what actix-http would read and the heads seen.
    fn scan(chunks: &[&[u8]]) -> (Vec<u8>, Vec<Arc<RawHead>>, Arc<TapShared>) {
        let shared = Arc::new(TapShared::new());
        let mut scanner = Scanner::new(shared.clone());
        let (mut input, mut output) = (BytesMut::new(), BytesMut::new());
        for chunk in chunks {
            input.extend_from_slice(chunk);
            scanner.advance(&mut input, &mut output);
        }
        let heads = std::iter::from_fn(|| shared.next()).collect();
        (output.to_vec(), heads, shared)
    }

    /// The refusal a scan ended with, found as the app finds it: by the synthetic request's path.
    fn refusal(output: &[u8], shared: &TapShared) -> Refusal {
        let text = String::from_utf8_lossy(output);
        let synthetic = text.rsplit("GET ").next().unwrap_or_default();
        let path = synthetic.split(' ').next().unwrap_or_default();
        shared.refusal_for(path).cloned().expect("a refusal")
    }

    fn names(head: &RawHead) -> Vec<&str> {
        head.fields().iter().map(|f| f.name.as_str()).collect()
    }

    #[test]
    fn heads_keep_their_order_and_bytes_and_bodies_pass_untouched() {
        let wire: &[u8] = b"POST /a?x=1 HTTP/1.1\r\nHost: h\r\nZ-Last: 1\r\nA-First: caf\xe9\r\n\
            Content-Length: 5\r\n\r\nhelloGET /b#frag HTTP/1.1\r\nhost: h\r\n\r\n";
        let (out, heads, _) = scan(&[wire]);
        assert_eq!(out, wire);
        assert_eq!(heads.len(), 2);
        assert!(heads[0].is_for("POST", &Uri::from_static("/a?x=1")));
        assert_eq!(
            names(&heads[0]),
            ["host", "z-last", "a-first", "content-length"]
        );
        assert_eq!(heads[0].fields()[2].value, &b"caf\xe9"[..]);
        assert!(
            heads[1].is_for("GET", &Uri::from_static("/b")),
            "the fragment is not compared"
        );
    }

    #[test]
    fn a_head_is_held_back_until_it_is_complete_and_blank_lines_are_dropped() {
        let shared = Arc::new(TapShared::new());
        let mut scanner = Scanner::new(shared.clone());
        let (mut input, mut output) = (BytesMut::new(), BytesMut::new());
        for byte in b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r" {
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
    fn chunked_bodies_are_followed_byte_by_byte_and_their_trailers_kept() {
        let wire: &[u8] = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
            5;ext=1\r\nhello\r\n0000000000000000006 \t\r\n world\r\n0\r\nX-Checksum: abc \r\n\
            X-Second:2\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n";
        for size in [1, 7, wire.len()] {
            let pieces: Vec<&[u8]> = wire.chunks(size).collect();
            let (out, heads, shared) = scan(&pieces);
            assert_eq!(out, wire, "pieces of {size}");
            assert!(!shared.lost());
            assert_eq!(heads.len(), 2, "pieces of {size}");
            let trailers = heads[0].trailers().expect("trailers were read");
            let seen: Vec<(&str, &[u8])> = trailers
                .iter()
                .map(|field| (field.name.as_str(), &field.value[..]))
                .collect();
            assert_eq!(seen, [("x-checksum", &b"abc"[..]), ("x-second", &b"2"[..])]);
            assert!(heads[1].is_for("GET", &Uri::from_static("/next")));
        }
    }

    #[test]
    fn broken_chunk_framing_loses_track_and_says_so() {
        let wire: &[u8] =
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET / HTTP/1.1\r\n";
        let (out, heads, shared) = scan(&[wire]);
        assert_eq!(out, wire, "everything passes on");
        assert!(shared.lost());
        assert!(heads.is_empty(), "no head is matched once track is lost");
    }

    #[test]
    fn heads_over_the_limits_or_invalid_are_replaced_by_a_refusal() {
        let long_line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(MAX_REQUEST_LINE));
        let big = format!(
            "GET / HTTP/1.1\r\nx-big: {}\r\n",
            "b".repeat(MAX_HEADER_BYTES)
        );
        let mut many = String::from("GET / HTTP/1.1\r\nHost: h\r\n");
        for n in 0..MAX_HEADERS {
            many.push_str(&format!("x-{n}: v\r\n"));
        }
        many.push_str("\r\n");
        let no_host = "GET / HTTP/1.1\r\n\r\n".to_owned();
        for (wire, status) in [(long_line, 414), (big, 431), (many, 431), (no_host, 400)] {
            let (out, heads, shared) = scan(&[wire.as_bytes()]);
            assert!(heads.is_empty());
            assert!(out.starts_with(b"GET /.binspector-refused/"));
            assert_eq!(refusal(&out, &shared).status, status);
        }
    }

    #[test]
    fn a_first_request_still_goes_through_before_a_refused_second() {
        let wire = format!(
            "GET /ok HTTP/1.1\r\nHost: h\r\n\r\nGET /{} HTTP/1.1\r\n",
            "a".repeat(MAX_REQUEST_LINE)
        );
        let (out, heads, shared) = scan(&[wire.as_bytes()]);
        assert!(out.starts_with(b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\nGET /.binspector-refused/"));
        assert_eq!(heads.len(), 1);
        assert_eq!(refusal(&out, &shared).status, 414);
    }

    #[test]
    fn upgrades_and_connect_make_the_tap_stand_aside() {
        let upgrade: &[u8] = b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\x81\x05hello";
        let (out, heads, shared) = scan(&[upgrade, b"GET / HTTP/1.1\r\n\r\n"]);
        assert_eq!(out, [upgrade, b"GET / HTTP/1.1\r\n\r\n"].concat());
        assert_eq!(heads.len(), 1);
        assert!(!shared.lost(), "standing aside is not losing track");

        let connect: &[u8] = b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\nanything";
        let (out, heads, _) = scan(&[connect]);
        assert_eq!(out, connect);
        assert_eq!(heads.len(), 1);
    }
}
