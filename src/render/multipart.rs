//! Multipart view: a lenient hand-rolled splitter that keeps what it found and says where it gave up.

/// One part of a multipart body, described rather than rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// `name=` from Content-Disposition.
    pub name: Option<String>,
    /// `filename=` from Content-Disposition (`filename*` is ignored).
    pub file_name: Option<String>,
    /// The part's own Content-Type header, as sent.
    pub content_type: Option<String>,
    /// Exact length of the part body in bytes.
    pub size: usize,
    /// First 2,048 chars of the body when it is UTF-8.
    pub preview: Option<String>,
    /// True when the body is not UTF-8.
    pub binary: bool,
}

/// Parts found, plus why parsing stopped early or what was malformed.
#[derive(Debug)]
pub(super) struct Parsed {
    pub parts: Vec<Part>,
    pub error: Option<String>,
}

/// Most parts listed for one body.
pub(super) const MAX_PARTS: usize = 200;
/// RFC 2046 allows 70; some slack for sloppy clients while keeping the search cheap.
const MAX_BOUNDARY: usize = 200;
const PREVIEW_CHARS: usize = 2_048;

/// Value of parameter `name` (case-insensitive) in a header like `type; a=b; c="d"`.
pub(super) fn param(header: &str, name: &str) -> Option<String> {
    // The first segment is the media type or disposition, never a parameter.
    split_params(header).into_iter().skip(1).find_map(|seg| {
        let (key, value) = seg.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| unquote(value.trim()))
    })
}

/// Splits on `;` outside quoted strings, so `filename="a;b.txt"` stays whole.
fn split_params(header: &str) -> Vec<&str> {
    let mut segments = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in header.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                segments.push(header.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    segments.push(header.get(start..).unwrap_or_default());
    segments
}

/// Strips quotes, undoing only `\"` and `\\` so Windows paths like `C:\dir\f.txt` survive.
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"') else {
        return value.to_string();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.clone().next() {
                Some(next @ ('"' | '\\')) => {
                    out.push(next);
                    chars.next();
                }
                _ => out.push('\\'),
            },
            _ => out.push(c),
        }
    }
    out
}

/// What follows a `--boundary`.
enum After {
    /// Another part starts at this index.
    Open(usize),
    /// `--boundary--`: the end.
    Close,
    /// The body stops right after the boundary.
    Cut,
}

/// Classifies what follows a boundary ending at `end`; None means the match is just content.
fn after_delimiter(body: &[u8], end: usize) -> Option<After> {
    let rest = body.get(end..).unwrap_or_default();
    if rest.starts_with(b"--") {
        return Some(After::Close);
    }
    let pad = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let rest = rest.get(pad..).unwrap_or_default();
    if rest.starts_with(b"\r\n") {
        Some(After::Open(end + pad + 2))
    } else if rest.starts_with(b"\n") {
        Some(After::Open(end + pad + 1))
    } else if rest.is_empty() {
        Some(After::Cut)
    } else {
        None
    }
}

/// Finds `needle`, which starts with its only `\n`, at or after `from`. Jumping between line
/// breaks keeps this linear: failed comparisons never overlap the next candidate.
fn find_line(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        at += hay.get(at..)?.iter().position(|&b| b == b'\n')?;
        if hay.get(at..)?.starts_with(needle) {
            return Some(at);
        }
        at += 1;
    }
}

/// Next real delimiter at or after `from`: where the preceding part body ends, and what follows.
fn next_delimiter(body: &[u8], line: &[u8], from: usize) -> Option<(usize, After)> {
    let mut from = from;
    loop {
        let at = find_line(body, line, from)?;
        if let Some(after) = after_delimiter(body, at + line.len()) {
            // The CRLF before a delimiter belongs to the delimiter, not to the part.
            let end = match body.get(at.wrapping_sub(1)) {
                Some(b'\r') => at - 1,
                _ => at,
            };
            return Some((end, after));
        }
        from = at + 1;
    }
}

/// Splits `body` on `boundary`, keeping up to [`MAX_PARTS`] parts.
pub(super) fn parse(boundary: &str, body: &[u8]) -> Parsed {
    let mut parsed = Parsed {
        parts: Vec::new(),
        error: None,
    };
    if boundary.is_empty() || boundary.len() > MAX_BOUNDARY || boundary.contains(['\r', '\n']) {
        parsed.error = Some("the boundary parameter is empty, too long or malformed".into());
        return parsed;
    }
    let dash = format!("--{boundary}").into_bytes();
    let line = format!("\n--{boundary}").into_bytes();
    // The first delimiter may open the body; anything before it is preamble.
    let first = body
        .starts_with(&dash)
        .then(|| after_delimiter(body, dash.len()))
        .flatten()
        .or_else(|| next_delimiter(body, &line, 0).map(|(_, after)| after));
    let mut start = match first {
        Some(After::Open(start)) => start,
        Some(After::Close) => {
            parsed.error = Some("the body closes before its first part".into());
            return parsed;
        }
        Some(After::Cut) => {
            parsed.error = Some("the body ends right after its first boundary".into());
            return parsed;
        }
        None => {
            parsed.error = Some(format!(
                "the boundary \"{boundary}\" does not occur in the body"
            ));
            return parsed;
        }
    };
    loop {
        // Back up onto the line break ending the delimiter, so an empty part's successor is found.
        let next = next_delimiter(body, &line, start.saturating_sub(1));
        let end = next
            .as_ref()
            .map_or(body.len(), |(end, _)| (*end).max(start));
        let content = body.get(start..end).unwrap_or_default();
        let number = parsed.parts.len() + 1;
        let (part, headers_ended) = part(content);
        parsed.parts.push(part);
        if !headers_ended {
            parsed
                .error
                .get_or_insert(format!("part {number} has no blank line after its headers"));
        }
        let problem = match next {
            Some((_, After::Open(next_start))) if parsed.parts.len() < MAX_PARTS => {
                start = next_start;
                continue;
            }
            Some((_, After::Open(_))) => {
                format!("more than {MAX_PARTS} parts; only the first {MAX_PARTS} are shown")
            }
            Some((_, After::Close)) => break,
            Some((_, After::Cut)) => "the body ends without the closing \"--\" boundary".into(),
            None => {
                "the body ends before the closing boundary; the last part may be incomplete".into()
            }
        };
        parsed.error.get_or_insert(problem);
        break;
    }
    parsed
}

/// Splits a part into header block and body; the flag is false when the blank line is missing.
fn split_head(content: &[u8]) -> (&[u8], &[u8], bool) {
    if let Some(body) = content.strip_prefix(b"\r\n") {
        return (&[], body, true);
    }
    if let Some(body) = content.strip_prefix(b"\n") {
        return (&[], body, true);
    }
    let crlf = content.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = content.windows(2).position(|w| w == b"\n\n");
    let split = match (crlf, lf) {
        (Some(c), Some(l)) if l < c => Some((l, 2)),
        (Some(c), _) => Some((c, 4)),
        (None, Some(l)) => Some((l, 2)),
        (None, None) => None,
    };
    match split {
        Some((at, len)) => (
            content.get(..at).unwrap_or_default(),
            content.get(at + len..).unwrap_or_default(),
            true,
        ),
        None => (content, &[], content.is_empty()),
    }
}

fn part(content: &[u8]) -> (Part, bool) {
    let (head, body, headers_ended) = split_head(content);
    let mut part = Part {
        name: None,
        file_name: None,
        content_type: None,
        size: body.len(),
        preview: None,
        binary: false,
    };
    for raw in head.split(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(raw);
        let Some((name, value)) = text.trim_end_matches('\r').split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-disposition") {
            part.name = param(value, "name");
            part.file_name = param(value, "filename");
        } else if name.eq_ignore_ascii_case("content-type") {
            part.content_type = Some(value.trim().to_string());
        }
    }
    match std::str::from_utf8(body) {
        Ok(text) => {
            let cut = text
                .char_indices()
                .nth(PREVIEW_CHARS)
                .map_or(text.len(), |(i, _)| i);
            part.preview = Some(text.get(..cut).unwrap_or_default().to_string());
        }
        Err(_) => part.binary = true,
    }
    (part, headers_ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &[u8] = b"preamble to ignore\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"comment\"\r\n\
\r\n\
<script>alert(1)</script>\r\nsecond line\r\n\
--XyZ\r\n\
Content-Disposition: form-data; name=\"upload\"; filename=\"a;b \\\"c\\\".png\"\r\n\
Content-Type: image/png\r\n\
\r\n\
\x89PNG\r\n\x1a\n\x00\xff--XyZ\r\n--XyZx\r\n\
--XyZ--\r\n\
epilogue to ignore";

    #[test]
    fn text_field_and_binary_file() {
        let parsed = parse("XyZ", FORM);
        assert_eq!(parsed.error, None);
        assert_eq!(
            parsed.parts,
            [
                Part {
                    name: Some("comment".into()),
                    file_name: None,
                    content_type: None,
                    size: 38,
                    preview: Some("<script>alert(1)</script>\r\nsecond line".into()),
                    binary: false,
                },
                Part {
                    name: Some("upload".into()),
                    file_name: Some("a;b \"c\".png".into()),
                    content_type: Some("image/png".into()),
                    // PNG magic (8) + 00 ff (2) + "--XyZ\r\n--XyZx" (13): boundary text that is
                    // not at a line start, or not followed by a line break, is content.
                    size: 23,
                    preview: None,
                    binary: true,
                },
            ]
        );
    }

    #[test]
    fn boundary_parameter_quoted_or_not() {
        let ct = "multipart/form-data; charset=utf-8; BOUNDARY=\"a b;c\"";
        assert_eq!(param(ct, "boundary").as_deref(), Some("a b;c"));
        assert_eq!(
            param("multipart/mixed;boundary=plain ; x=1", "boundary").as_deref(),
            Some("plain")
        );
        let body = b"--a b;c\r\n\r\nhi\r\n--a b;c--";
        let parsed = parse("a b;c", body);
        assert_eq!(parsed.error, None);
        assert_eq!(parsed.parts[0].preview.as_deref(), Some("hi"));
    }

    #[test]
    fn missing_or_absent_boundary() {
        assert_eq!(param("multipart/form-data", "boundary"), None);
        assert_eq!(param("multipart/form-data; boundaryx=1", "boundary"), None);
        let parsed = parse("", b"--\r\n\r\nx");
        assert!(parsed.parts.is_empty());
        assert!(parsed.error.is_some());
        let parsed = parse("nope", FORM);
        assert!(parsed.parts.is_empty());
        assert_eq!(
            parsed.error.as_deref(),
            Some("the boundary \"nope\" does not occur in the body")
        );
    }

    #[test]
    fn file_name_forms() {
        let cd = "form-data; name=f; filename=plain.txt; filename*=UTF-8''x.txt";
        assert_eq!(param(cd, "filename").as_deref(), Some("plain.txt"));
        assert_eq!(param(cd, "name").as_deref(), Some("f"));
        let cd = r#"form-data; name="f"; filename="C:\dir\<img onerror=x>.txt""#;
        assert_eq!(
            param(cd, "filename").as_deref(),
            Some(r"C:\dir\<img onerror=x>.txt")
        );
        assert_eq!(param("form-data", "name"), None);
    }

    #[test]
    fn lf_only_bodies_and_empty_parts() {
        let body = b"--b\nContent-Type: text/plain\n\nx\n--b\n\n--b\n--b--\n";
        let parsed = parse("b", body);
        assert_eq!(parsed.error, None);
        let sizes: Vec<usize> = parsed.parts.iter().map(|p| p.size).collect();
        assert_eq!(sizes, [1, 0, 0]);
        assert_eq!(parsed.parts[0].content_type.as_deref(), Some("text/plain"));
        assert_eq!(parsed.parts[1].preview.as_deref(), Some(""));
    }

    #[test]
    fn truncated_body_keeps_what_was_parsed() {
        let body = b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\none\r\n--b\r\n\
Content-Disposition: form-data; name=b\r\n\r\npartial";
        let parsed = parse("b", body);
        assert_eq!(parsed.parts.len(), 2);
        assert_eq!(parsed.parts[1].preview.as_deref(), Some("partial"));
        assert_eq!(
            parsed.error.as_deref(),
            Some("the body ends before the closing boundary; the last part may be incomplete")
        );

        let parsed = parse("b", b"--b\r\nno blank line\r\n--b--");
        assert_eq!(parsed.parts.len(), 1);
        assert_eq!(parsed.parts[0].size, 0);
        assert_eq!(
            parsed.error.as_deref(),
            Some("part 1 has no blank line after its headers")
        );
        let parsed = parse("b", b"--b--\r\n");
        assert!(parsed.parts.is_empty());
        assert!(parsed.error.is_some());
    }

    #[test]
    fn preview_is_capped_in_chars() {
        let text = "é".repeat(3_000);
        let body = format!("--b\r\n\r\n{text}\r\n--b--");
        let parsed = parse("b", body.as_bytes());
        let part = &parsed.parts[0];
        assert_eq!(part.size, 6_000);
        assert_eq!(
            part.preview.as_ref().map(|p| p.chars().count()),
            Some(2_048)
        );
    }

    #[test]
    fn part_count_is_capped() {
        let body = format!("{}--b--", "--b\r\n\r\nx\r\n".repeat(500));
        let parsed = parse("b", body.as_bytes());
        assert_eq!(parsed.parts.len(), MAX_PARTS);
        assert_eq!(
            parsed.error.as_deref(),
            Some("more than 200 parts; only the first 200 are shown")
        );
        let exact = format!("{}--b--", "--b\r\n\r\nx\r\n".repeat(MAX_PARTS));
        assert_eq!(parse("b", exact.as_bytes()).error, None);
    }
}
