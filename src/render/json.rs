//! JSON body view: validated by serde_json, then re-tokenized from the source so key order and number spelling survive.

use serde::Deserialize;

use super::clip;
use crate::skip::Skip;

/// Pretty-printed JSON as one string, and the class of each piece of it. A piece costs a
/// few bytes however small it is: a megabyte of numbers is hundreds of thousands of pieces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokens {
    text: String,
    /// Where each piece ends in `text`, and its class; a piece starts where the last ended.
    marks: Vec<(u32, Class)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Key,
    String,
    Number,
    Bool,
    Null,
    Punct,
    Space,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Key => "key",
            Class::String => "string",
            Class::Number => "number",
            Class::Bool => "bool",
            Class::Null => "null",
            Class::Punct => "punct",
            Class::Space => "space",
        }
    }
}

/// One piece of pretty-printed JSON: the template maps `class` to a style and escapes `text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    /// One of "key", "string", "number", "bool", "null", "punct", "space".
    pub class: &'static str,
    /// Source text of the piece, unescaped by us (a string keeps its quotes and JSON escapes).
    pub text: &'a str,
}

impl Token<'_> {
    /// Punctuation and whitespace, which pages write without a style of their own.
    pub fn bare(&self) -> bool {
        matches!(self.class, "punct" | "space")
    }
}

impl Tokens {
    /// The whole pretty-printed text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The pieces in order.
    pub fn iter(&self) -> impl Iterator<Item = Token<'_>> {
        let mut start = 0;
        self.marks.iter().map(move |&(end, class)| {
            let end = end as usize;
            let text = self.text.get(start..end).unwrap_or_default();
            start = end;
            Token {
                class: class.name(),
                text,
            }
        })
    }

    fn push(&mut self, class: Class, piece: &str) {
        self.text.push_str(piece);
        let end = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        match self.marks.last_mut() {
            Some((last, previous)) if *previous == class => *last = end,
            _ => self.marks.push((end, class)),
        }
    }
}

/// Tokens of a valid document, and whether the output cap cut them short.
#[derive(Debug)]
pub(super) struct Pretty {
    pub tokens: Tokens,
    pub truncated: bool,
}

/// serde_json's reason for a document nested deeper than its limit of 128 levels.
pub(super) const TOO_DEEP: &str = "recursion limit exceeded";

/// Where and why serde_json rejected a document.
#[derive(Debug)]
pub(super) struct SyntaxError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// Validates `text` as one JSON document and tokenizes it pretty-printed, capped at `max`
/// output bytes. When `cut`, `text` is only the start of the document: it is valid if nothing
/// is wrong before it ends, and the tokens are marked truncated.
pub(super) fn render(text: &str, cut: bool, max: usize) -> Result<Pretty, SyntaxError> {
    validate(text, cut)?;
    let mut pretty = tokenize(text, max);
    pretty.truncated |= cut;
    Ok(pretty)
}

fn validate(text: &str, cut: bool) -> Result<(), SyntaxError> {
    let mut de = serde_json::Deserializer::from_str(text);
    // Skip keeps serde_json's nesting limit, which the tokenizer relies on to keep
    // indentation small.
    Skip::deserialize(&mut de)
        .and_then(|_| de.end())
        .or_else(|e| if cut && e.is_eof() { Ok(()) } else { Err(e) })
        .map_err(|e| {
            let (line, column) = (e.line(), e.column());
            let full = e.to_string();
            // Line and column are reported separately, so keep only serde_json's reason.
            let suffix = format!(" at line {line} column {column}");
            let message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
            SyntaxError {
                message,
                line,
                column,
            }
        })
}

/// Collects tokens until the byte budget runs out.
struct Emitter {
    tokens: Tokens,
    room: usize,
    truncated: bool,
}

impl Emitter {
    /// Returns false once the budget is spent, so the walk can stop early on huge documents.
    fn push(&mut self, class: Class, text: &str) -> bool {
        if self.truncated {
            return false;
        }
        let piece = clip(text, self.room);
        if !piece.is_empty() {
            self.room -= piece.len();
            self.tokens.push(class, piece);
        }
        self.truncated = piece.len() < text.len();
        !self.truncated
    }
}

fn indent(depth: usize) -> String {
    let mut s = String::with_capacity(1 + 2 * depth);
    s.push('\n');
    s.push_str(&"  ".repeat(depth));
    s
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(|&b| is_ws(b)) {
        i += 1;
    }
    i
}

/// Index just past the closing quote of the string opening at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Index just past a number or literal starting at `start` (always beyond `start`, so the walk advances).
fn scalar_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while bytes
        .get(i)
        .is_some_and(|&b| !is_ws(b) && !matches!(b, b',' | b':' | b']' | b'}'))
    {
        i += 1;
    }
    i
}

/// Walks already-validated source in order, emitting what `to_string_pretty` would write
/// except that keys, strings and numbers keep their source spelling.
fn tokenize(text: &str, max: usize) -> Pretty {
    let bytes = text.as_bytes();
    let mut out = Emitter {
        tokens: Tokens::default(),
        room: max,
        truncated: false,
    };
    // One entry per open container, true for objects.
    let mut stack: Vec<bool> = Vec::new();
    let mut expect_key = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let more = match b {
            b'{' | b'[' => {
                let (open, close, empty) = if b == b'{' {
                    ("{", b'}', "{}")
                } else {
                    ("[", b']', "[]")
                };
                let next = skip_ws(bytes, i + 1);
                if bytes.get(next) == Some(&close) {
                    i = next + 1;
                    out.push(Class::Punct, empty)
                } else {
                    i += 1;
                    stack.push(b == b'{');
                    expect_key = b == b'{';
                    out.push(Class::Punct, open) && out.push(Class::Space, &indent(stack.len()))
                }
            }
            b'}' | b']' => {
                i += 1;
                stack.pop();
                expect_key = false;
                let close = if b == b'}' { "}" } else { "]" };
                out.push(Class::Space, &indent(stack.len())) && out.push(Class::Punct, close)
            }
            b',' => {
                i += 1;
                expect_key = stack.last() == Some(&true);
                out.push(Class::Punct, ",") && out.push(Class::Space, &indent(stack.len()))
            }
            b':' => {
                i += 1;
                expect_key = false;
                out.push(Class::Punct, ":") && out.push(Class::Space, " ")
            }
            b'"' => {
                let end = string_end(bytes, i);
                let class = if expect_key {
                    Class::Key
                } else {
                    Class::String
                };
                let piece = text.get(i..end).unwrap_or_default();
                i = end;
                out.push(class, piece)
            }
            _ if is_ws(b) => {
                i += 1;
                true
            }
            _ => {
                let end = scalar_end(bytes, i);
                let class = match b {
                    b't' | b'f' => Class::Bool,
                    b'n' => Class::Null,
                    _ => Class::Number,
                };
                let piece = text.get(i..end).unwrap_or_default();
                i = end;
                out.push(class, piece)
            }
        };
        if !more {
            break;
        }
    }
    Pretty {
        tokens: out.tokens,
        truncated: out.truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: usize = 256 * 1024;

    fn tokens(src: &str) -> Tokens {
        let pretty = render(src, false, CAP).unwrap();
        assert!(!pretty.truncated);
        pretty.tokens
    }

    fn concat(tokens: &Tokens) -> String {
        tokens.iter().map(|t| t.text).collect()
    }

    fn texts_of(tokens: &Tokens, class: &str) -> Vec<String> {
        tokens
            .iter()
            .filter(|t| t.class == class)
            .map(|t| t.text.to_owned())
            .collect()
    }

    #[test]
    fn classes_for_each_kind_of_value() {
        let t = tokens(r#"{"a":"s","n":1.50,"e":1e3,"t":true,"f":false,"z":null,"neg":-0.5}"#);
        assert_eq!(
            texts_of(&t, "key"),
            ["\"a\"", "\"n\"", "\"e\"", "\"t\"", "\"f\"", "\"z\"", "\"neg\""]
        );
        assert_eq!(texts_of(&t, "string"), ["\"s\""]);
        assert_eq!(texts_of(&t, "number"), ["1.50", "1e3", "-0.5"]);
        assert_eq!(texts_of(&t, "bool"), ["true", "false"]);
        assert_eq!(texts_of(&t, "null"), ["null"]);
        assert_eq!(texts_of(&t, "punct").first().map(String::as_str), Some("{"));
        assert!(t
            .iter()
            .filter(|t| t.class == "space")
            .all(|t| t.text.trim().is_empty()));
        assert_eq!(concat(&t), t.text());
    }

    #[test]
    fn concatenation_matches_serde_pretty_for_sorted_input() {
        let docs = [
            r#"{"a":1,"b":[1,2,{"c":null}],"d":{},"e":[],"f":"x"}"#,
            "[]",
            "{}",
            r#""just a string""#,
            "42",
            "true",
            "null",
            "[[[]],[{}]]",
            r#"{"a":{"b":{"c":[true,false,-3,2.5]}}}"#,
            r#"["line\nbreak \"q\" \\ é ☃"]"#,
            " \r\n\t{ \"a\" :\n [ 1 , 2 ] ,\"b\":{ } } \n",
        ];
        for doc in docs {
            let value: serde_json::Value = serde_json::from_str(doc).unwrap();
            let expected = serde_json::to_string_pretty(&value).unwrap();
            assert_eq!(concat(&tokens(doc)), expected, "for {doc}");
        }
    }

    #[test]
    fn keeps_source_key_order() {
        let t = tokens(r#"{"zeta":1,"alpha":{"y":2,"b":3},"mid":4}"#);
        assert_eq!(
            texts_of(&t, "key"),
            ["\"zeta\"", "\"alpha\"", "\"y\"", "\"b\"", "\"mid\""]
        );
        assert_eq!(
            concat(&t),
            "{\n  \"zeta\": 1,\n  \"alpha\": {\n    \"y\": 2,\n    \"b\": 3\n  },\n  \"mid\": 4\n}"
        );
    }

    #[test]
    fn script_tags_and_escapes_stay_literal() {
        let t = tokens(r#"{"<b onerror=x>":"<script>alert(1)</script>","u":"\u003cimg\/>"}"#);
        assert_eq!(texts_of(&t, "key"), ["\"<b onerror=x>\"", "\"u\""]);
        assert_eq!(
            texts_of(&t, "string"),
            ["\"<script>alert(1)</script>\"", r#""\u003cimg\/>""#]
        );
    }

    #[test]
    fn syntax_error_reports_serde_position() {
        let err = render("[1,\n 2,\n]", false, CAP).unwrap_err();
        assert_eq!(err.message, "trailing comma");
        assert_eq!((err.line, err.column), (3, 1));

        let err = render("{\"a\": 1} extra", false, CAP).unwrap_err();
        assert_eq!(err.message, "trailing characters");
        assert_eq!((err.line, err.column), (1, 10));
    }

    #[test]
    fn deep_nesting_is_rejected_without_overflow() {
        let doc = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let err = render(&doc, false, CAP).unwrap_err();
        assert_eq!(err.message, "recursion limit exceeded");
        assert_eq!(err.line, 1);
        // The limit is serde_json's own: 127 levels parse, 128 do not.
        for depth in [127, 128] {
            let doc = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let serde_ok = serde_json::from_str::<serde_json::Value>(&doc).is_ok();
            assert_eq!(render(&doc, false, CAP).is_ok(), serde_ok);
            assert_eq!(serde_ok, depth == 127);
        }
    }

    #[test]
    fn output_is_cut_at_the_cap() {
        let items: Vec<String> = (0..100_000).map(|i| format!("\"item{i}\"")).collect();
        let doc = format!("[{}]", items.join(","));
        let pretty = render(&doc, false, CAP).unwrap();
        assert!(pretty.truncated);
        let shown = concat(&pretty.tokens);
        assert_eq!(shown.len(), CAP);
        // A piece costs a mark, not an allocation.
        assert!(pretty.tokens.marks.len() * 8 < 3 * CAP);
        let value: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert!(serde_json::to_string_pretty(&value)
            .unwrap()
            .starts_with(&shown));
    }

    #[test]
    fn a_single_huge_string_is_cut_on_a_char_boundary() {
        let doc = format!("[\"{}\"]", "é".repeat(CAP));
        let pretty = render(&doc, false, 102).unwrap();
        assert!(pretty.truncated);
        let shown = concat(&pretty.tokens);
        // "[" and "\n  " leave 98 bytes: the quote, then 48 two-byte chars fit but not 49.
        assert_eq!(shown.len(), 101);
        assert!(shown.ends_with('é'));
    }

    #[test]
    fn exactly_full_output_is_not_marked_truncated() {
        let pretty = render("[1]", false, 7).unwrap();
        assert_eq!(concat(&pretty.tokens), "[\n  1\n]");
        assert!(!pretty.truncated);
    }
}
