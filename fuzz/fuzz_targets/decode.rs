//! Fuzz target: undoing Content-Encoding on arbitrary bytes stays within its output cap; the
//! first byte picks the codings, the rest is the body.
#![no_main]

use binspector::decode::{decode, Coding};
use libfuzzer_sys::fuzz_target;

const CAP: usize = 64 * 1024;

fuzz_target!(|input: &[u8]| {
    let Some((&pick, body)) = input.split_first() else {
        return;
    };
    let all = [Coding::Gzip, Coding::Deflate, Coding::Brotli, Coding::Zstd];
    let first = all[usize::from(pick & 3)];
    let codings: Vec<Coding> = if pick & 4 == 0 {
        vec![first]
    } else {
        vec![first, all[usize::from((pick >> 3) & 3)]]
    };
    let decoded = decode(&codings, body, CAP);
    assert!(decoded.bytes.len() <= CAP, "decoded past the cap");
    assert!(!decoded.truncated || decoded.bytes.len() == CAP);
});
