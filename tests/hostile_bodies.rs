//! Bodies built to hurt: a compression bomb, JSON nested 100,000 levels deep, a 10 MiB JSON
//! document on one line and bytes that are not UTF-8. Each is stored exactly as sent and
//! shown in bounded time and memory.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{client, free_port, peak_rss_kib, reset_peak_rss, RunningBinary};
use serde_json::Value;

/// 1 GiB of zeros, gzipped, then gzipped again: 1,827 bytes (see tests/fixtures/README.md).
const BOMB: &[u8] = include_bytes!("fixtures/gzip-bomb-1gib.gz.gz");

struct Server {
    binary: RunningBinary,
    http: String,
    client: reqwest::Client,
}

impl Server {
    async fn start(dir: &std::path::Path) -> (Server, String) {
        let http = format!("127.0.0.1:{}", free_port());
        let binary = RunningBinary::start(&dir.join("data"), &["--http-listen", &http]);
        let client = client();
        let bin = binary.bin_id(&client).await;
        (
            Server {
                binary,
                http,
                client,
            },
            bin,
        )
    }

    /// Captures `body` into `path` with these headers (over plain HTTP); panics unless stored.
    async fn capture(&self, path: &str, headers: &[(&str, &str)], body: Vec<u8>) {
        let mut request = self.client.post(format!("http://{}{path}", self.http));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let answer = request.body(body).send().await.unwrap();
        assert_eq!(answer.status(), 200, "capture to {path}");
    }

    /// The stored body of request `n`, byte for byte.
    async fn raw(&self, bin: &str, n: usize) -> bytes::Bytes {
        let url = format!("{}/api/v1/bins/{bin}/requests/{n}/raw", self.binary.base);
        self.client
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
    }

    async fn page(&self, path: &str) -> (String, Duration) {
        let started = Instant::now();
        let answer = self
            .client
            .get(format!("http://{}{path}", self.http))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{path}");
        let text = answer.text().await.unwrap();
        (text, started.elapsed())
    }
}

#[tokio::test]
async fn a_gzip_bomb_is_stored_as_sent_and_decoded_only_up_to_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let (server, bin) = Server::start(dir.path()).await;
    let pid = server.binary.child.id();
    let encoded = [
        ("content-encoding", "gzip, gzip"),
        ("content-type", "text/plain"),
    ];
    server
        .capture(&format!("/{bin}/upload"), &encoded, BOMB.to_vec())
        .await;

    let stored: Value = server
        .client
        .get(format!(
            "{}/api/v1/bins/{bin}/requests/1",
            server.binary.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored["body_size"], BOMB.len());
    let raw = server.raw(&bin, 1).await;
    assert_eq!(raw, BOMB, "stored byte for byte, never decompressed");

    let (card, _) = server.page(&format!("/inspect/{bin}/1")).await;
    // A debug build's code alone keeps most of 30 MiB resident, so what is judged here is
    // what the decoded view adds (the release binary's figures are in the README).
    let before = common::rss_kib(pid);
    reset_peak_rss(pid);
    assert!(
        card.contains("class=\"show-decoded\""),
        "the page offers the decoded view"
    );
    let (decoded, took) = server.page(&format!("/inspect/{bin}/1?decoded")).await;
    assert!(decoded.contains("class=\"note decoded-note\""));
    // The stored body's cut note (its 1.8 KiB, a link to this page) is not repeated here.
    assert!(
        !decoded.contains("body-cut"),
        "the stored body's cut note is shown"
    );
    assert!(
        decoded.contains("1.0 MiB, <strong>truncated</strong> at 1 MiB"),
        "{}",
        &decoded[..2000.min(decoded.len())]
    );
    let peak = peak_rss_kib(pid);
    println!("gzip bomb: decoded view in {took:?}; RSS {before} KiB before it, peak {peak} KiB");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(
        peak < before + 4 * 1024,
        "decoding took RSS from {before} KiB to {peak} KiB"
    );
}

/// A zstd frame whose header asks for a window of 2^`window_log` bytes, then `blocks` RLE
/// blocks of 128 KiB of 'a' each: four bytes of body per 128 KiB decoded.
fn zstd_rle(window_log: u8, blocks: usize) -> Vec<u8> {
    let mut body = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, (window_log - 10) << 3];
    for n in 0..blocks {
        let last = u32::from(n + 1 == blocks);
        let header = last | (1 << 1) | (128 * 1024) << 3;
        body.extend_from_slice(&header.to_le_bytes()[..3]);
        body.push(b'a');
    }
    body
}

#[tokio::test]
async fn a_zstd_bomb_is_cut_at_the_cap_and_a_window_beyond_http_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (server, bin) = Server::start(dir.path()).await;
    let pid = server.binary.child.id();
    // 2,000 blocks: 8 KB that decode to 250 MiB within an 8 MiB window; then the same with
    // a 2 GiB window, which a decoder would fill before giving anything back.
    for body in [zstd_rle(23, 2_000), zstd_rle(31, 2_000)] {
        server
            .capture(&format!("/{bin}"), &[("content-encoding", "zstd")], body)
            .await;
    }
    let before = common::rss_kib(pid);
    reset_peak_rss(pid);
    let (within, took) = server.page(&format!("/inspect/{bin}/1?decoded")).await;
    assert!(within.contains("1.0 MiB, <strong>truncated</strong> at 1 MiB"));
    assert!(took < Duration::from_secs(5), "{took:?}");
    let (beyond, _) = server.page(&format!("/inspect/{bin}/2?decoded")).await;
    assert!(
        beyond.contains("asks for a 2048 MiB window; HTTP allows at most 8 MiB"),
        "{beyond}"
    );
    let peak = peak_rss_kib(pid);
    println!("zstd: RSS {before} KiB before, peak {peak} KiB");
    // The decoder's buffer for the 8 MiB window (about twice the window) and the 1 MiB cap,
    // however much the body would decode to.
    assert!(
        peak < before + 24 * 1024,
        "decoding took RSS from {before} KiB to {peak} KiB"
    );
}

#[tokio::test]
async fn deep_long_and_binary_bodies_render_in_bounded_time_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (server, bin) = Server::start(dir.path()).await;
    let pid = server.binary.child.id();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    // 10 MiB on one line: an array of short strings.
    let mut long = String::with_capacity(10 * 1024 * 1024);
    long.push('[');
    while long.len() < 10 * 1024 * 1024 - 16 {
        long.push_str("\"item\",");
    }
    long.push_str("\"end\"]");
    let binary: Vec<u8> = (0..200_000u32)
        .map(|n| (n * 7919 % 251) as u8 | 0x80)
        .collect();
    let bodies: [(&str, Vec<u8>); 3] = [
        ("application/json", deep.into_bytes()),
        ("application/json", long.into_bytes()),
        ("application/json", binary),
    ];
    for (content_type, body) in &bodies {
        let headers = [("content-type", *content_type)];
        server
            .capture(&format!("/{bin}"), &headers, body.clone())
            .await;
    }
    reset_peak_rss(pid);
    let (listing, took) = server.page(&format!("/inspect/{bin}")).await;
    println!(
        "inspect page of the three: {took:?}, {} bytes",
        listing.len()
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    for (n, expected) in [
        (1, "nests more than 127 levels deep"),
        (2, "j-string"),
        (3, "class=\"hex\""),
    ] {
        let (page, took) = server.page(&format!("/inspect/{bin}/{n}")).await;
        println!("request {n}: {took:?}, {} bytes", page.len());
        assert!(took < Duration::from_secs(5), "request {n}: {took:?}");
        assert!(page.contains(expected), "request {n} lacks {expected}");
        assert!(
            page.len() < 4 * 1024 * 1024,
            "request {n}: a page of {} bytes",
            page.len()
        );
    }
    // `?decoded` on a body sent without an encoding shows it as it is.
    let (plain, _) = server.page(&format!("/inspect/{bin}/3?decoded")).await;
    assert!(plain.contains("class=\"hex\"") && !plain.contains("decoded-note"));
    let peak = peak_rss_kib(pid);
    println!("peak RSS while rendering: {peak} KiB");
    assert!(peak < 120 * 1024, "peak RSS {peak} KiB");
    // Stored exactly.
    for (n, (_, body)) in bodies.iter().enumerate() {
        let raw = server.raw(&bin, n + 1).await;
        assert_eq!(raw.len(), body.len());
        assert!(raw == body.as_slice(), "request {} changed", n + 1);
    }
}
