//! The byte-level part of the tap: decides, for the bytes read from a connection, which may go
//! on to actix-http now, holding back each head until it is complete, following each body's
//! framing (chunked bodies byte by byte, exactly as actix-http's decoder does), and recording
//! heads and trailers as it goes.

use std::sync::Arc;

use bytes::Bytes;

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
    /// A head was refused; nothing more is read.
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

/// What the chunked decoder does with one framing byte.
enum Byte {
    Next(Chunk),
    /// The body is complete.
    End,
    /// actix-http fails the body here (and closes the connection).
    Broken,
}

/// What to do with the first bytes of what is left to scan.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Hand these many on to actix-http.
    Pass(usize),
    /// Drop these many (empty lines before a head).
    Skip(usize),
    /// Nothing can be decided until more arrives.
    NeedMore,
    /// Answer this instead of the head being read, and read no more.
    Refuse(Refusal),
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

    /// Decides about the start of `unscanned` (the bytes read and not yet decided about).
    pub(super) fn step(&mut self, unscanned: &[u8]) -> Step {
        if unscanned.is_empty() {
            return Step::NeedMore;
        }
        match self.state {
            State::Head { searched } => self.head(unscanned, searched),
            State::Fixed { remaining } => {
                let take = take(remaining, unscanned.len());
                self.state = match remaining - take as u64 {
                    0 => State::Head { searched: 0 },
                    remaining => State::Fixed { remaining },
                };
                Step::Pass(take)
            }
            State::Chunked { .. } => self.chunked(unscanned),
            State::Refused => Step::NeedMore,
            State::Opaque => Step::Pass(unscanned.len()),
        }
    }

    /// Refuses the head being read (it is late, say): the app answers `refusal`.
    pub(super) fn refuse(&mut self, refusal: Refusal) -> Step {
        self.state = State::Refused;
        Step::Refuse(refusal)
    }

    /// Stops following the connection (actix-http is about to fail it, or the tap cannot
    /// follow it); the requests still to come get no raw head.
    fn lose_track(&mut self, unscanned: &[u8]) -> Step {
        self.shared.lose_track();
        self.state = State::Opaque;
        Step::Pass(unscanned.len())
    }

    fn head(&mut self, unscanned: &[u8], mut searched: usize) -> Step {
        // Empty lines before a request line are allowed, and skipped; they are not passed on,
        // so that actix-http's keep-alive timer keeps running until a head is complete.
        let blank = unscanned
            .iter()
            .take_while(|byte| matches!(byte, b'\r' | b'\n'))
            .count();
        if blank > 0 {
            self.state = State::Head { searched: 0 };
            return Step::Skip(blank);
        }
        let end = head::end(unscanned, &mut searched);
        self.state = State::Head { searched };
        let Some(end) = end else {
            return match head::oversized(unscanned) {
                Some(refusal) => self.refuse(refusal),
                None => Step::NeedMore,
            };
        };
        if let Some(refusal) = head::oversized(&unscanned[..end]) {
            return self.refuse(refusal);
        }
        match head::parse(Bytes::copy_from_slice(&unscanned[..end])) {
            Parsed::Refused(refusal) => self.refuse(refusal),
            Parsed::Head(raw, framing) => {
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
                Step::Pass(end)
            }
        }
    }

    fn chunked(&mut self, unscanned: &[u8]) -> Step {
        let State::Chunked { chunk, .. } = &mut self.state else {
            return Step::NeedMore;
        };
        if let Chunk::Data { remaining } = *chunk {
            let take = take(remaining, unscanned.len());
            *chunk = match remaining - take as u64 {
                0 => Chunk::DataCr,
                remaining => Chunk::Data { remaining },
            };
            return Step::Pass(take);
        }
        // Framing bytes one at a time, as actix-http reads them.
        let mut used = 0;
        let mut end = None;
        for &byte in unscanned {
            used += 1;
            let current = std::mem::replace(chunk, Chunk::SizeFirst);
            let line_ended = matches!(current, Chunk::TrailerLf);
            match framing_byte(current, byte) {
                Byte::Next(next) => *chunk = next,
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
                    let line = Bytes::from(std::mem::take(&mut self.trailer_line));
                    if let Some(field) = head::trailer_field(&line) {
                        self.trailers.push(field);
                    }
                }
                Chunk::Data { .. } => break,
                _ => {}
            }
        }
        match end {
            Some(Byte::Broken) => return self.lose_track(unscanned),
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
        Step::Pass(used)
    }
}

fn take(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |remaining| remaining.min(available))
}

/// One byte of chunked framing, as actix-http's `ChunkedState::step` takes it.
fn framing_byte(chunk: Chunk, byte: u8) -> Byte {
    let hex = |byte: u8| (byte as char).to_digit(16).map(u64::from);
    Byte::Next(match chunk {
        Chunk::SizeFirst => match hex(byte) {
            Some(digit) => Chunk::SizeRest { size: digit },
            None => return Byte::Broken,
        },
        Chunk::SizeRest { size } => match (hex(byte), byte) {
            (Some(digit), _) => match size.checked_mul(16) {
                Some(size) => Chunk::SizeRest { size: size + digit },
                None => return Byte::Broken,
            },
            (None, b'\t' | b' ') => Chunk::SizeLws { size },
            (None, b';') => Chunk::Extension { size },
            (None, b'\r') => Chunk::SizeLf { size },
            _ => return Byte::Broken,
        },
        Chunk::SizeLws { size } => match byte {
            b'\t' | b' ' => Chunk::SizeLws { size },
            b';' => Chunk::Extension { size },
            b'\r' => Chunk::SizeLf { size },
            _ => return Byte::Broken,
        },
        Chunk::Extension { size } => match byte {
            b'\r' => Chunk::SizeLf { size },
            0x00..=0x08 | 0x0a..=0x1f | 0x7f => return Byte::Broken,
            _ => Chunk::Extension { size },
        },
        Chunk::SizeLf { size } => match (byte, size) {
            (b'\n', 0) => Chunk::EndCr,
            (b'\n', size) => Chunk::Data { remaining: size },
            _ => return Byte::Broken,
        },
        Chunk::Data { remaining } => Chunk::Data { remaining },
        Chunk::DataCr => match byte {
            b'\r' => Chunk::DataLf,
            _ => return Byte::Broken,
        },
        Chunk::DataLf => match byte {
            b'\n' => Chunk::SizeFirst,
            // actix-http takes anything else as the start of a trailer; no sender does that.
            _ => return Byte::Broken,
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
            _ => return Byte::Broken,
        },
        Chunk::EndLf => match byte {
            b'\n' => return Byte::End,
            _ => return Byte::Broken,
        },
    })
}
