//! The `zstd` content coding: every frame of the body in turn (as `MultiGzDecoder` does for
//! gzip members), skippable frames skipped, and a frame that asks for a window larger than
//! HTTP allows refused before anything is decoded. A decoder holds its whole window back
//! before it gives any output, so the window, not the output cap, is what bounds its memory.

use std::io::{self, Chain, Cursor, Read};

use ruzstd::decoding::{FrameDecoder, StreamingDecoder};

/// RFC 9659: the `zstd` content coding's window is at most 8 MiB.
pub const MAX_WINDOW: u64 = 8 * 1024 * 1024;

const MAGIC: u32 = 0xFD2F_B528;
/// Skippable frames carry any magic from `0x184D2A50` to `0x184D2A5F`.
const SKIPPABLE: u32 = 0x184D_2A50;
/// The longest frame header: magic, descriptor, window, dictionary id, content size.
const LONGEST_HEADER: usize = 4 + 1 + 1 + 4 + 8;

type Source<'a> = Chain<Cursor<Vec<u8>>, Box<dyn Read + 'a>>;

/// Decodes the frames of a zstd body one after the other.
pub struct Frames<'a> {
    /// The body between frames.
    rest: Option<Box<dyn Read + 'a>>,
    /// The frame being decoded.
    frame: Option<StreamingDecoder<Source<'a>, FrameDecoder>>,
    started: bool,
}

impl<'a> Frames<'a> {
    pub fn new(body: Box<dyn Read + 'a>) -> Frames<'a> {
        Frames {
            rest: Some(body),
            frame: None,
            started: false,
        }
    }

    /// Starts the next frame; `false` at the end of the body.
    fn next_frame(&mut self) -> io::Result<bool> {
        loop {
            let Some(mut rest) = self.rest.take() else {
                return Ok(false);
            };
            let mut head = Vec::with_capacity(LONGEST_HEADER);
            (&mut rest)
                .take(LONGEST_HEADER as u64)
                .read_to_end(&mut head)?;
            if head.is_empty() {
                return Ok(false);
            }
            let magic = head
                .get(..4)
                .map(|bytes| u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]));
            match magic {
                Some(magic) if magic & 0xFFFF_FFF0 == SKIPPABLE => {
                    let size = head
                        .get(4..8)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .ok_or_else(|| damaged("a skippable frame is cut short"))?;
                    let mut source = Cursor::new(head).chain(rest);
                    io::copy(&mut (&mut source).take(8), &mut io::sink())?;
                    let skipped =
                        io::copy(&mut (&mut source).take(u64::from(size)), &mut io::sink())?;
                    if skipped < u64::from(size) {
                        return Err(damaged("a skippable frame is cut short"));
                    }
                    let (left, rest) = source.into_inner();
                    let unread =
                        left.get_ref()[usize::try_from(left.position()).unwrap_or(0)..].to_vec();
                    self.rest = Some(Box::new(Cursor::new(unread).chain(rest)));
                    self.started = true;
                }
                Some(MAGIC) => {
                    let window = window_size(&head)?;
                    if window > MAX_WINDOW {
                        return Err(damaged(&format!(
                            "a zstd frame asks for a {} MiB window; HTTP allows at most {} MiB",
                            window.div_ceil(1024 * 1024),
                            MAX_WINDOW / (1024 * 1024)
                        )));
                    }
                    let source = Cursor::new(head).chain(rest);
                    let frame = StreamingDecoder::new(source)
                        .map_err(|err| damaged(&format!("a zstd frame is damaged: {err}")))?;
                    self.frame = Some(frame);
                    self.started = true;
                    return Ok(true);
                }
                _ if self.started => return Err(damaged("bytes after the last zstd frame")),
                _ => return Err(damaged("the body does not start a zstd frame")),
            }
        }
    }
}

impl Read for Frames<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(frame) = &mut self.frame {
                let read = frame.read(buf)?;
                if read > 0 || buf.is_empty() {
                    return Ok(read);
                }
                // The frame ended: what follows it is the rest of the body.
                if let Some(frame) = self.frame.take() {
                    let (source, _) = frame.into_parts();
                    let (left, rest) = source.into_inner();
                    let unread =
                        left.get_ref()[usize::try_from(left.position()).unwrap_or(0)..].to_vec();
                    self.rest = Some(Box::new(Cursor::new(unread).chain(rest)));
                }
            }
            if !self.next_frame()? {
                return Ok(0);
            }
        }
    }
}

/// The window a frame header asks for (RFC 8878, 3.1.1.1): from the window descriptor, or
/// for a single-segment frame, its content size.
fn window_size(head: &[u8]) -> io::Result<u64> {
    let short = || damaged("a zstd frame header is cut short");
    let descriptor = *head.get(4).ok_or_else(short)?;
    let single_segment = descriptor & 0x20 != 0;
    if !single_segment {
        let window = *head.get(5).ok_or_else(short)?;
        let log = 10 + u32::from(window >> 3);
        let base = 1u64 << log;
        return Ok(base + (base / 8) * u64::from(window & 7));
    }
    let dictionary_bytes = [0, 1, 2, 4][usize::from(descriptor & 3)];
    let size_bytes = [1, 2, 4, 8][usize::from(descriptor >> 6)];
    let start = 5 + dictionary_bytes;
    let field = head.get(start..start + size_bytes).ok_or_else(short)?;
    let mut size = [0u8; 8];
    size[..size_bytes].copy_from_slice(field);
    let size = u64::from_le_bytes(size);
    Ok(if size_bytes == 2 { size + 256 } else { size })
}

fn damaged(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf hello | zstd -c`.
    const HELLO: [u8; 18] = [
        0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x29, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0xa3,
        0x6d, 0x9f, 0x88,
    ];

    fn decode(body: Vec<u8>) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Frames::new(Box::new(Cursor::new(body))).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn every_frame_is_decoded_and_skippable_ones_skipped() {
        let mut body = HELLO.to_vec();
        body.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, b'x', b'y', b'z']);
        body.extend_from_slice(&HELLO);
        assert_eq!(decode(body).unwrap(), b"hellohello");
    }

    #[test]
    fn a_window_larger_than_http_allows_is_refused() {
        // A frame header asking for a 2 GiB window (exponent 21, mantissa 0).
        let mut body = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, 21 << 3];
        body.extend_from_slice(&[0; 16]);
        let err = decode(body).unwrap_err();
        assert!(err.to_string().contains("2048 MiB window"), "{err}");
        assert_eq!(window_size(&HELLO).unwrap(), 2 * 1024 * 1024);
        // Single segment: the window is the content size (one byte, then two with 256 added).
        assert_eq!(window_size(&[0x28, 0xb5, 0x2f, 0xfd, 0x20, 5]).unwrap(), 5);
        assert_eq!(
            window_size(&[0x28, 0xb5, 0x2f, 0xfd, 0x60, 0, 1]).unwrap(),
            512
        );
    }

    #[test]
    fn garbage_before_or_after_frames_is_damage() {
        assert!(decode(b"not zstd at all".to_vec()).is_err());
        let mut trailing = HELLO.to_vec();
        trailing.extend_from_slice(b"junk");
        assert!(decode(trailing).is_err());
        assert!(decode(HELLO[..10].to_vec()).is_err());
    }
}
