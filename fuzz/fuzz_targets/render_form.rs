//! Fuzz target: the form body view on arbitrary bytes.
#![no_main]

use binspector::render::{view, BodyView};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let BodyView::Form { fields } = view(Some("application/x-www-form-urlencoded"), body) {
        assert!(fields.len() <= 1_000, "more fields than the cap");
    }
});
