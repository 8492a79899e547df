//! Fuzz target: the query-string parsers: the listing parameters (`limit`, `before`, `event`)
//! and the capture's own (`inspect`, and the handshakes' parameters).
#![no_main]

use binspector::{capture::CaptureQuery, web::ListParams};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|query: &[u8]| {
    let Ok(query) = std::str::from_utf8(query) else {
        return;
    };
    if let Ok(params) = ListParams::parse(query) {
        assert!((1..=binspector::web::MAX_LIMIT).contains(&params.limit));
    }
    // The handshakes read the query and, for Slack, the body: here the same bytes as both.
    let _ = CaptureQuery::parse(query).asks(true, query.as_bytes());
});
