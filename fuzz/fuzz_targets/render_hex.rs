//! Fuzz target: the hex view of binary bodies, and the sniffing that decides a body is binary.
#![no_main]

use binspector::render::{view, BodyView};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    for content_type in [Some("application/octet-stream"), None, Some("text/plain")] {
        if let BodyView::Binary { rows, shown, total } = view(content_type, body) {
            assert_eq!(total, body.len());
            assert!(shown <= total);
            let bytes: usize = rows.iter().map(|row| row.ascii.len()).sum();
            assert_eq!(bytes, shown, "rows do not hold the bytes shown");
        }
    }
});
