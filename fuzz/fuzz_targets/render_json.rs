//! Fuzz target: the JSON body view (whole and cut, as the listings read it) on arbitrary bytes.
#![no_main]

use binspector::render::{view, view_within, BodyView};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    for shown in [view(Some("application/json"), body), view(None, body)] {
        if let BodyView::Json { tokens, .. } = &shown {
            let joined: usize = tokens.iter().map(|token| token.text.len()).sum();
            assert_eq!(joined, tokens.text().len(), "tokens do not cover the text");
        }
    }
    let cut = body.len() / 2;
    let _ = view_within(Some("application/json"), &body[..cut], true, 4096);
});
