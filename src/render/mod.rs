//! Body views for captured requests: raw bytes turned into plain data for templates to iterate over.
//!
//! Nothing here produces HTML or escapes anything; askama's autoescape does that. Captured
//! bodies are hostile, so everything here is panic-free and does bounded work per request.

mod form;
mod hex;
mod json;
mod multipart;

pub use self::form::Field;
pub use self::hex::HexRow;
pub use self::json::{Token, Tokens};
pub use self::multipart::Part;

/// Most bytes of text shown for text, JSON and invalid-JSON bodies.
pub const MAX_TEXT: usize = 256 * 1024;

/// What a captured body looks like, ready for a template to switch on via [`BodyView::kind`].
#[derive(Debug, Clone, PartialEq)]
pub enum BodyView {
    /// Zero-length body.
    Empty,
    /// Valid JSON, pretty-printed as classed tokens in source order.
    Json {
        /// Tokens whose texts concatenate to the pretty-printed document.
        tokens: Tokens,
        /// True when output stopped at [`MAX_TEXT`] bytes.
        truncated: bool,
    },
    /// The content type claims JSON but the body does not parse.
    InvalidJson {
        /// The body text (first [`MAX_TEXT`] bytes).
        text: String,
        /// serde_json's reason, without its position suffix.
        error: String,
        /// 1-based line of the failure.
        line: usize,
        /// Column of the failure as serde_json reports it (1-based; 0 at the very start of a line).
        column: usize,
        /// The document may be valid, but nests deeper than binspector formats.
        too_deep: bool,
    },
    /// An `application/x-www-form-urlencoded` body.
    Form {
        /// Decoded fields in body order, repeats kept; at most 1,000.
        fields: Vec<Field>,
    },
    /// A `multipart/*` body in which at least one part was found.
    Multipart {
        /// Parts in body order; at most 200.
        parts: Vec<Part>,
        /// Why parsing stopped early or what was malformed, if anything.
        error: Option<String>,
    },
    /// UTF-8 text that is none of the above.
    Text {
        /// The text (first [`MAX_TEXT`] bytes, cut on a char boundary).
        text: String,
        /// True when the text was cut.
        truncated: bool,
    },
    /// A body that is not UTF-8, as a hex dump of its start.
    Binary {
        /// 16-byte rows.
        rows: Vec<HexRow>,
        /// Bytes shown in `rows`.
        shown: usize,
        /// Length of the whole body.
        total: usize,
    },
}

impl BodyView {
    /// Stable name of the variant, for template switches, CSS classes and labels.
    pub fn kind(&self) -> &'static str {
        match self {
            BodyView::Empty => "empty",
            BodyView::Json { .. } => "json",
            BodyView::InvalidJson { .. } => "invalid-json",
            BodyView::Form { .. } => "form",
            BodyView::Multipart { .. } => "multipart",
            BodyView::Text { .. } => "text",
            BodyView::Binary { .. } => "binary",
        }
    }
}

/// Picks and builds the view for a whole body given its request's `Content-Type` header.
pub fn view(content_type: Option<&str>, body: &[u8]) -> BodyView {
    view_within(content_type, body, false, MAX_TEXT)
}

/// Builds the view of a body, or of its first bytes when `cut` (the listings read only the
/// start of each body), showing at most `max` bytes of text.
pub fn view_within(content_type: Option<&str>, body: &[u8], cut: bool, max: usize) -> BodyView {
    if body.is_empty() {
        return BodyView::Empty;
    }
    let essence = content_type.map(essence).unwrap_or_default();
    let utf8 = text_of(body, cut);
    if is_json(&essence) {
        return match utf8 {
            Some(text) => json_view(text, cut, max),
            None => binary(body),
        };
    }
    if essence == "application/x-www-form-urlencoded" {
        return match utf8 {
            Some(_) => BodyView::Form {
                fields: form::fields(body),
            },
            None => binary(body),
        };
    }
    if essence.starts_with("multipart/") {
        let boundary = content_type.and_then(|ct| multipart::param(ct, "boundary"));
        if let Some(boundary) = boundary {
            let parsed = multipart::parse(&boundary, body);
            // With nothing parsed, the raw body is more useful to an inspector than an error alone.
            if !parsed.parts.is_empty() {
                return BodyView::Multipart {
                    parts: parsed.parts,
                    error: parsed.error,
                };
            }
        }
    }
    // Senders often omit the type or say text/plain for JSON; only upgrade when it really parses.
    if essence.is_empty() || essence == "text/plain" {
        if let Some(text) = utf8.filter(|t| looks_like_json(t)) {
            if let Ok(pretty) = json::render(text, cut, max) {
                return BodyView::Json {
                    tokens: pretty.tokens,
                    truncated: pretty.truncated,
                };
            }
        }
    }
    match utf8 {
        Some(text) => BodyView::Text {
            text: clip(text, max).to_string(),
            truncated: cut || text.len() > max,
        },
        None => binary(body),
    }
}

/// The body as text: all of it when it is UTF-8; when it is cut, up to the last whole character
/// (the cut may split one); `None` when it is not text.
fn text_of(body: &[u8], cut: bool) -> Option<&str> {
    match std::str::from_utf8(body) {
        Ok(text) => Some(text),
        Err(err) if cut && err.error_len().is_none() => {
            std::str::from_utf8(&body[..err.valid_up_to()]).ok()
        }
        Err(_) => None,
    }
}

/// The media type without parameters, lowercased and trimmed.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn is_json(essence: &str) -> bool {
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}

fn looks_like_json(text: &str) -> bool {
    let start = text.trim_start_matches([' ', '\t', '\n', '\r']);
    start.starts_with('{') || start.starts_with('[')
}

fn json_view(text: &str, cut: bool, max: usize) -> BodyView {
    match json::render(text, cut, max) {
        Ok(pretty) => BodyView::Json {
            tokens: pretty.tokens,
            truncated: pretty.truncated,
        },
        Err(e) => BodyView::InvalidJson {
            text: clip(text, max).to_string(),
            too_deep: e.message == json::TOO_DEEP,
            error: e.message,
            line: e.line,
            column: e.column,
        },
    }
}

fn binary(body: &[u8]) -> BodyView {
    let rows = hex::rows(body);
    BodyView::Binary {
        rows,
        shown: body.len().min(hex::MAX_BYTES),
        total: body.len(),
    }
}

/// Longest prefix of `s` that is at most `max` bytes and ends on a char boundary.
fn clip(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(tokens: &Tokens) -> String {
        tokens.iter().map(|t| t.text).collect()
    }

    #[test]
    fn empty_body() {
        let v = view(Some("application/json"), b"");
        assert_eq!(v, BodyView::Empty);
        assert_eq!(v.kind(), "empty");
    }

    #[test]
    fn json_content_types_including_plus_json() {
        for ct in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "text/json",
            "application/vnd.api+json",
            "application/problem+json ; q=1",
        ] {
            let v = view(Some(ct), br#"{"b":1,"a":[true]}"#);
            let BodyView::Json { tokens, truncated } = &v else {
                panic!("{ct}: got {v:?}");
            };
            assert!(!truncated);
            assert_eq!(
                text_of(tokens),
                "{\n  \"b\": 1,\n  \"a\": [\n    true\n  ]\n}"
            );
            assert_eq!(v.kind(), "json");
        }
    }

    #[test]
    fn claimed_json_that_does_not_parse() {
        let v = view(Some("application/json"), b"{\"a\": 1,\n  \"b\": }");
        assert_eq!(
            v,
            BodyView::InvalidJson {
                text: "{\"a\": 1,\n  \"b\": }".to_string(),
                error: "expected value".to_string(),
                line: 2,
                column: 8,
                too_deep: false,
            }
        );
        assert_eq!(v.kind(), "invalid-json");
    }

    #[test]
    fn deep_nesting_is_invalid_json() {
        let body = "[".repeat(10_000);
        let v = view(Some("application/json"), body.as_bytes());
        let BodyView::InvalidJson {
            error,
            line,
            too_deep,
            ..
        } = v
        else {
            panic!("not invalid json");
        };
        assert!(too_deep);
        assert_eq!(error, "recursion limit exceeded");
        assert_eq!(line, 1);
    }

    #[test]
    fn non_utf8_claimed_as_json_is_binary() {
        let v = view(Some("application/json"), b"{\"a\":\"\xff\"}");
        assert_eq!(v.kind(), "binary");
    }

    #[test]
    fn json_looking_text_is_sniffed() {
        for ct in [None, Some("text/plain"), Some("TEXT/PLAIN; charset=utf-8")] {
            let v = view(ct, b"  \n[1, 2]");
            assert_eq!(v.kind(), "json", "{ct:?}");
        }
        // Other declared types are respected even if the body is JSON.
        assert_eq!(view(Some("text/html"), b"[1]").kind(), "text");
    }

    #[test]
    fn json_looking_text_that_does_not_parse_stays_text() {
        let v = view(None, b"{not json}");
        assert_eq!(
            v,
            BodyView::Text {
                text: "{not json}".to_string(),
                truncated: false
            }
        );
        assert_eq!(view(Some("text/plain"), b"[1,").kind(), "text");
    }

    #[test]
    fn text_is_returned_as_is() {
        let body = "<script>alert(1)</script><img onerror=x>";
        let v = view(Some("text/html"), body.as_bytes());
        assert_eq!(
            v,
            BodyView::Text {
                text: body.to_string(),
                truncated: false
            }
        );
    }

    #[test]
    fn long_text_is_cut_on_a_char_boundary() {
        // 'é' is two bytes and the cap is even, so a leading 'a' puts the cap mid-char.
        let body = format!("a{}", "é".repeat(MAX_TEXT));
        let BodyView::Text { text, truncated } = view(None, body.as_bytes()) else {
            panic!("not text");
        };
        assert!(truncated);
        assert_eq!(text.len(), MAX_TEXT - 1);
        assert!(body.starts_with(&text));
    }

    #[test]
    fn binary_body_is_hex() {
        let body: Vec<u8> = (0..5000u32).map(|i| (i % 256) as u8).collect();
        let BodyView::Binary { rows, shown, total } = view(None, &body) else {
            panic!("not binary");
        };
        assert_eq!((rows.len(), shown, total), (256, 4096, 5000));
    }

    #[test]
    fn form_bodies() {
        let v = view(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            b"a=1&b=x+y&a=%3Cscript%3E",
        );
        let BodyView::Form { fields } = &v else {
            panic!("not form");
        };
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.as_str()))
            .collect();
        assert_eq!(pairs, [("a", "1"), ("b", "x y"), ("a", "<script>")]);
        assert_eq!(v.kind(), "form");
        assert_eq!(
            view(Some("application/x-www-form-urlencoded"), b"a=\xff").kind(),
            "binary"
        );
    }

    #[test]
    fn multipart_bodies() {
        let body =
            b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello\r\n--xyz--\r\n";
        let v = view(Some("multipart/form-data; boundary=xyz"), body);
        let BodyView::Multipart { parts, error } = &v else {
            panic!("not multipart: {v:?}");
        };
        assert_eq!(error, &None);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].preview.as_deref(), Some("hello"));
        assert_eq!(v.kind(), "multipart");
    }

    #[test]
    fn multipart_without_boundary_falls_back_to_text() {
        let body = b"--xyz\r\n\r\nhello\r\n--xyz--";
        let v = view(Some("multipart/form-data"), body);
        assert_eq!(v.kind(), "text");
        // A boundary that never occurs parses nothing either.
        let v = view(Some("multipart/form-data; boundary=other"), body);
        assert_eq!(v.kind(), "text");
        let v = view(Some("multipart/mixed"), b"\x00\xff");
        assert_eq!(v.kind(), "binary");
    }

    #[test]
    fn the_start_of_a_long_body_is_shown_as_what_the_whole_is() {
        // A JSON document cut in the middle of a string, and of a two-byte character.
        let whole = format!("{{\"a\": [1, 2], \"b\": \"{}\"}}", "é".repeat(100));
        let start = &whole.as_bytes()[..40];
        let BodyView::Json { tokens, truncated } =
            view_within(Some("application/json"), start, true, MAX_TEXT)
        else {
            panic!("a cut JSON body is still JSON");
        };
        assert!(truncated);
        assert!(text_of(&tokens).starts_with("{\n  \"a\": [\n    1,"));
        // A syntax error before the cut is still an error.
        assert_eq!(
            view_within(Some("application/json"), b"{\"a\": ]  ", true, MAX_TEXT).kind(),
            "invalid-json"
        );
        // Text is cut at the limit and says so.
        let BodyView::Text { text, truncated } = view_within(None, b"plain words", true, 5) else {
            panic!("not text");
        };
        assert_eq!((text.as_str(), truncated), ("plain", true));
    }

    #[test]
    fn clip_respects_char_boundaries() {
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("héllo", 3), "hé");
        assert_eq!(clip("abc", 10), "abc");
        assert_eq!(clip("abc", 0), "");
    }
}
