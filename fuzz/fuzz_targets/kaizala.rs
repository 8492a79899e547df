//! Fuzz target: Kaizala recognition and summaries on arbitrary bytes never panic, and the
//! byte-level recogniser used at capture agrees with the one run on a parsed value.
#![no_main]

use binspector::kaizala::{recognise, recognise_bytes, summary::summarise};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let quick = recognise_bytes(body);
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => {
            assert_eq!(quick, recognise(&value), "the two recognisers disagree");
            let _ = summarise(&value);
        }
        Err(_) => assert_eq!(quick, None, "recognised a body that is not JSON"),
    }
});
