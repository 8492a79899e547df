//! Fuzz target: the parsers of flag values: sizes, durations and rate limits.
#![no_main]

use binspector::config::{parse_duration, parse_limit, parse_size};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &[u8]| {
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let _ = parse_size(text);
    let _ = parse_duration(text);
    if let Ok(binspector::config::Limit(Some(rate))) = parse_limit(text) {
        assert!(rate.count.get() > 0 && !rate.period.is_zero());
    }
});
