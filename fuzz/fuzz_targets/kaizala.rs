//! Fuzz target: Kaizala recognition and summaries on arbitrary bytes never panic, and nothing
//! that is not JSON is taken for an event.
#![no_main]

use binspector::kaizala::{recognise_bytes, summary::summarise};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let found = recognise_bytes(body);
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => {
            let _ = summarise(&value);
        }
        Err(_) => assert_eq!(found, None, "recognised a body that is not JSON"),
    }
});
