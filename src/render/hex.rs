//! Hex dump view for bodies that are not UTF-8.

/// One 16-byte line of a hex dump.
#[derive(Debug, Clone, PartialEq)]
pub struct HexRow {
    /// Offset of the row's first byte, as 8 lowercase hex digits.
    pub offset: String,
    /// Bytes as lowercase hex pairs separated by spaces, with a double space after the 8th.
    pub hex: String,
    /// Printable ASCII (0x20..=0x7e) as itself, every other byte as '.'.
    pub ascii: String,
}

/// Most bytes dumped for one body.
pub(super) const MAX_BYTES: usize = 4_096;

const ROW: usize = 16;

/// Rows for the first [`MAX_BYTES`] bytes of `body`; the last row may be short and is not padded.
pub(super) fn rows(body: &[u8]) -> Vec<HexRow> {
    let shown = body.get(..MAX_BYTES).unwrap_or(body);
    shown
        .chunks(ROW)
        .enumerate()
        .map(|(i, chunk)| HexRow {
            offset: format!("{:08x}", i * ROW),
            hex: chunk
                .chunks(ROW / 2)
                .map(|half| {
                    half.iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect::<Vec<_>>()
                .join("  "),
            ascii: chunk
                .iter()
                .map(|&b| {
                    if (0x20..=0x7e).contains(&b) {
                        char::from(b)
                    } else {
                        '.'
                    }
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_byte_values() {
        let body: Vec<u8> = (0..=255u8).collect();
        let rows = rows(&body);
        assert_eq!(rows.len(), 16);
        assert_eq!(
            rows[0],
            HexRow {
                offset: "00000000".into(),
                hex: "00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f".into(),
                ascii: "................".into(),
            }
        );
        assert_eq!(
            rows[2],
            HexRow {
                offset: "00000020".into(),
                hex: "20 21 22 23 24 25 26 27  28 29 2a 2b 2c 2d 2e 2f".into(),
                ascii: " !\"#$%&'()*+,-./".into(),
            }
        );
        assert_eq!(rows[7].ascii, "pqrstuvwxyz{|}~.");
        assert_eq!(
            rows[15],
            HexRow {
                offset: "000000f0".into(),
                hex: "f0 f1 f2 f3 f4 f5 f6 f7  f8 f9 fa fb fc fd fe ff".into(),
                ascii: "................".into(),
            }
        );
    }

    #[test]
    fn short_last_row_is_not_padded() {
        let rows = rows(b"<script>alert(1)\xff\x00ok<");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].ascii, "<script>alert(1)");
        assert_eq!(
            rows[1],
            HexRow {
                offset: "00000010".into(),
                hex: "ff 00 6f 6b 3c".into(),
                ascii: "..ok<".into(),
            }
        );
        let nine = super::rows(b"123456789");
        assert_eq!(nine[0].hex, "31 32 33 34 35 36 37 38  39");
    }

    #[test]
    fn only_the_first_4096_bytes_are_dumped() {
        let body = vec![0xffu8; 10_000];
        let rows = rows(&body);
        assert_eq!(rows.len(), 256);
        assert_eq!(rows[255].offset, "00000ff0");
        assert!(super::rows(b"").is_empty());
    }
}
