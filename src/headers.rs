//! Header fields as received: the name lowercased, the value's exact bytes, and the one JSON
//! shape used to store them and to show them in the API.
//!
//! A value that is UTF-8 is `[name, value]`. One that is not (HTTP allows any byte above 0x7f)
//! is `[name, value with U+FFFD for each bad byte, base64 of the exact bytes]`, so a reader that
//! only wants text keeps working and nothing that came is lost.

use std::{borrow::Cow, fmt::Write as _};

use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde::{
    de::{self, SeqAccess, Visitor},
    ser::SerializeSeq,
    Deserialize, Deserializer, Serialize, Serializer,
};

/// One header field, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderPair {
    /// Lowercased.
    pub name: String,
    /// Exactly as received.
    pub value: Vec<u8>,
}

/// One header field, borrowed from the request it came with (what the capture handler encodes).
#[derive(Debug, Clone, Copy)]
pub struct HeaderRef<'a> {
    pub name: &'a str,
    pub value: &'a [u8],
}

impl HeaderPair {
    /// The value as text, with U+FFFD for bytes that are not UTF-8.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.value)
    }

    /// The value for display: UTF-8 as it is, any other byte as `\xNN`.
    pub fn escaped(&self) -> Cow<'_, str> {
        escape_bytes(&self.value)
    }

    /// Whether the value is not UTF-8 (the page marks such values).
    pub fn is_binary(&self) -> bool {
        std::str::from_utf8(&self.value).is_err()
    }
}

/// `caf\xe9`: UTF-8 runs as they are, every other byte as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(bytes.len() + 16);
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for byte in chunk.invalid() {
            let _ = write!(out, "\\x{byte:02x}");
        }
    }
    Cow::Owned(out)
}

fn serialize_pair<S: Serializer>(
    name: &str,
    value: &[u8],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match std::str::from_utf8(value) {
        Ok(text) => {
            let mut seq = serializer.serialize_seq(Some(2))?;
            seq.serialize_element(name)?;
            seq.serialize_element(text)?;
            seq.end()
        }
        Err(_) => {
            let mut seq = serializer.serialize_seq(Some(3))?;
            seq.serialize_element(name)?;
            seq.serialize_element(&String::from_utf8_lossy(value))?;
            seq.serialize_element(&STANDARD.encode(value))?;
            seq.end()
        }
    }
}

impl Serialize for HeaderPair {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_pair(&self.name, &self.value, serializer)
    }
}

impl Serialize for HeaderRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_pair(self.name, self.value, serializer)
    }
}

impl<'de> Deserialize<'de> for HeaderPair {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairVisitor;

        impl<'de> Visitor<'de> for PairVisitor {
            type Value = HeaderPair;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("[name, value] or [name, text, base64]")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<HeaderPair, A::Error> {
                let name: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let text: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                let value = match seq.next_element::<String>()? {
                    Some(encoded) => STANDARD.decode(encoded).map_err(de::Error::custom)?,
                    None => text.into_bytes(),
                };
                Ok(HeaderPair { name, value })
            }
        }

        deserializer.deserialize_seq(PairVisitor)
    }
}

/// Encodes borrowed header fields as the stored JSON array.
pub fn to_json(headers: &[HeaderRef<'_>]) -> String {
    serde_json::to_string(headers).unwrap_or_else(|_| "[]".to_owned())
}

/// Decodes a stored JSON array; anything unreadable is an empty list (the row is still shown).
pub fn from_json(text: &str) -> Vec<HeaderPair> {
    serde_json::from_str(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_values_are_pairs_and_other_bytes_keep_their_exact_value() {
        let headers = [
            HeaderRef {
                name: "content-type",
                value: b"application/json",
            },
            HeaderRef {
                name: "x-legacy",
                value: b"caf\xe9",
            },
        ];
        let json = to_json(&headers);
        assert_eq!(
            json,
            "[[\"content-type\",\"application/json\"],[\"x-legacy\",\"caf\u{fffd}\",\"Y2Fm6Q==\"]]"
        );
        let back = from_json(&json);
        assert_eq!(back[1].value, b"caf\xe9");
        assert_eq!(back[1].escaped(), "caf\\xe9");
        assert!(back[1].is_binary());
        assert_eq!(back[0].text(), "application/json");
        assert!(!back[0].is_binary());
    }

    #[test]
    fn rows_from_before_the_exact_bytes_still_read() {
        let back = from_json(r#"[["a","b"]]"#);
        assert_eq!(
            back,
            [HeaderPair {
                name: "a".to_owned(),
                value: b"b".to_vec()
            }]
        );
        assert!(from_json("not json").is_empty());
    }
}
