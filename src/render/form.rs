//! URL-encoded form view: decoded fields in body order.

/// One decoded `name=value` pair of a form body.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Decoded name (`+` and percent escapes undone, invalid UTF-8 replaced).
    pub name: String,
    /// Decoded value, empty when the pair had no `=`.
    pub value: String,
}

/// Most fields shown for one body.
pub(super) const MAX_FIELDS: usize = 1_000;

/// Decodes the first [`MAX_FIELDS`] pairs of an urlencoded body.
pub(super) fn fields(body: &[u8]) -> Vec<Field> {
    // Splitting first means a body with millions of pairs costs no more than its first thousand.
    body.split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .take(MAX_FIELDS)
        .filter_map(|pair| {
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(pair)
                .ok()?
                .into_iter()
                .next()
        })
        .map(|(name, value)| Field { name, value })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(body: &[u8]) -> Vec<(String, String)> {
        fields(body)
            .into_iter()
            .map(|f| (f.name, f.value))
            .collect()
    }

    fn owned(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn repeated_names_and_order_are_kept() {
        assert_eq!(
            pairs(b"tag=b&id=7&tag=a&tag=c"),
            owned(&[("tag", "b"), ("id", "7"), ("tag", "a"), ("tag", "c")])
        );
    }

    #[test]
    fn plus_and_percent_encoding_is_decoded() {
        assert_eq!(
            pairs(b"q=hello+world&x=%3Cscript%3Ealert(1)%3C%2Fscript%3E&caf%C3%A9=%E2%98%83&a%2Bb=1%2B1"),
            owned(&[
                ("q", "hello world"),
                ("x", "<script>alert(1)</script>"),
                ("café", "☃"),
                ("a+b", "1+1"),
            ])
        );
    }

    #[test]
    fn odd_pairs_are_decoded_leniently() {
        assert_eq!(
            pairs(b"&flag&empty=&=v&&bad=%FF%zz&eq=a=b"),
            owned(&[
                ("flag", ""),
                ("empty", ""),
                ("", "v"),
                ("bad", "\u{fffd}%zz"),
                ("eq", "a=b"),
            ])
        );
    }

    #[test]
    fn field_count_is_capped() {
        let body = vec!["k=v"; 5_000].join("&");
        assert_eq!(fields(body.as_bytes()).len(), MAX_FIELDS);
    }
}
