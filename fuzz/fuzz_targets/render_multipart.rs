//! Fuzz target: the multipart body view; the first line of the input is the Content-Type
//! (with its boundary), the rest is the body.
#![no_main]

use binspector::render::{view, BodyView};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let split = input
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(input.len());
    let content_type = String::from_utf8_lossy(&input[..split]);
    let body = input.get(split + 1..).unwrap_or_default();
    for content_type in [content_type.as_ref(), "multipart/form-data; boundary=b"] {
        if let BodyView::Multipart { parts, .. } = view(Some(content_type), body) {
            assert!(
                !parts.is_empty() && parts.len() <= 200,
                "part count out of bounds"
            );
        }
    }
});
