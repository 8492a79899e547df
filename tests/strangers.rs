//! The three cheap ways one stranger could stop binspector for everyone, reproduced (scaled
//! down): listing a bin of large bodies, holding live-event streams open, and stalling
//! uploads. Each checks that everyone else is still served.
// Helpers here are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{
    client, client_from, free_port, peak_rss_kib, reset_peak_rss, spawn_app_with, RunningBinary,
};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn listing_a_bin_of_large_bodies_reads_only_their_start() {
    const BODIES: usize = 50;
    const BODY: usize = 2 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let http = format!("127.0.0.1:{}", free_port());
    let flags = ["--http-listen", http.as_str()];
    let mut server = RunningBinary::start(&data, &flags);
    let client = client();
    let bin = server.bin_id(&client).await;
    // Control bytes: the worst case for JSON, six bytes each as \u0001.
    let body = bytes::Bytes::from(vec![1u8; BODY]);
    let uploads = futures_util::stream::iter(0..BODIES).map(|_| {
        let request = client
            .post(format!("http://{http}/{bin}"))
            .body(body.clone())
            .send();
        async move { request.await.unwrap().status().as_u16() }
    });
    let statuses: Vec<u16> = uploads.buffer_unordered(2).collect().await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    // A fresh process, so what it holds is what listing costs.
    server.signal("TERM");
    server.wait();
    let server = RunningBinary::start(&data, &flags);
    let pid = server.child.id();
    reset_peak_rss(pid);

    let started = Instant::now();
    let listed: Value = client
        .get(format!("{}/api/v1/bins/{bin}/requests", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let took = started.elapsed();
    let requests = listed["requests"].as_array().unwrap();
    assert_eq!(requests.len(), BODIES);
    for request in requests {
        assert_eq!(request["body_truncated"], true);
        assert_eq!(request["body_size"], BODY);
        let prefix = base64::engine::general_purpose::STANDARD
            .decode(request["body_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(prefix.len(), 64 * 1024, "listings carry the first 64 KiB");
        assert_eq!(request["body_text"].as_str().unwrap().len(), 64 * 1024);
    }
    let peak = peak_rss_kib(pid);
    println!("listing 50 x 2 MiB: {took:?}, peak RSS {} MiB", peak / 1024);
    assert!(took < Duration::from_secs(1), "listing took {took:?}");
    assert!(peak < 60 * 1024, "peak RSS {peak} KiB while listing");

    // The inspect page reads the same prefixes.
    let get = |path: String| client.get(format!("{}{path}", server.base)).send();
    let page = get(format!("/inspect/{bin}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.len() < 6 * 1024 * 1024, "page of {} bytes", page.len());
    assert!(page.contains("Only the first 64 KiB of the body"));
    let peak = peak_rss_kib(pid);
    assert!(peak < 60 * 1024, "peak RSS {peak} KiB after the page");

    // One request still comes whole, byte for byte.
    let one = format!("/api/v1/bins/{bin}/requests/7");
    let raw = get(format!("{one}/raw"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(raw, body);
    let one: Value = get(one).await.unwrap().json().await.unwrap();
    assert_eq!(one["body_truncated"], false);
    assert_eq!(one["body_text"].as_str().unwrap().len(), BODY);
}

/// Opens a live-event stream and returns it once its headers came (the caller holds it open).
async fn open_stream(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client.get(url).send().await.unwrap()
}

#[actix_web::test]
async fn idle_live_streams_are_capped_and_never_stop_captures() {
    let app = spawn_app_with(&["--max-streams", "6", "--max-streams-per-client", "3"]).await;
    let bin = app.bin_id().await;
    let events = format!("{}/inspect/{bin}/events", app.base);
    let (a, b, c) = (
        client(),
        client_from([127, 0, 0, 2]),
        client_from([127, 0, 0, 3]),
    );

    let mut held = Vec::new();
    for _ in 0..3 {
        let stream = open_stream(&a, &events).await;
        assert_eq!(stream.status(), 200);
        held.push(stream);
    }
    let over = open_stream(&a, &events).await;
    assert_eq!(over.status(), 503, "a fourth from one address");
    assert_eq!(over.headers()["retry-after"], "1");
    let body: Value = over.json().await.unwrap();
    assert_eq!(body["status"], 503);
    for _ in 0..3 {
        held.push(open_stream(&b, &events).await);
    }
    assert!(held.iter().all(|s| s.status() == 200));
    assert_eq!(
        open_stream(&c, &events).await.status(),
        503,
        "a seventh in all"
    );

    // Everything else is served at once meanwhile.
    let started = Instant::now();
    assert_eq!(app.post(&format!("/{bin}"), "captured").await.status(), 200);
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert!(started.elapsed() < Duration::from_millis(500));

    // A client that goes away gives its slot back at once, not at the next heartbeat.
    drop(held.pop());
    let freed = Instant::now();
    let reopened = loop {
        let stream = open_stream(&c, &events).await;
        if stream.status() == 200 {
            break stream;
        }
        assert!(
            freed.elapsed() < Duration::from_secs(2),
            "the slot of a closed stream was not given back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    drop(held);

    // A stream wakes for its own bin only: another bin's arrivals never reach it.
    let other = app.bin_id().await;
    for _ in 0..3 {
        app.post(&format!("/{other}"), "elsewhere").await;
    }
    app.post(&format!("/{bin}"), "here").await;
    let mut chunks = reopened.bytes_stream();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !seen.contains("event: request") {
        let chunk = tokio::time::timeout_at(deadline.into(), chunks.next())
            .await
            .expect("an arrival in time")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        seen.contains(r#"data: {"id":"2","event_type":null}"#),
        "{seen}"
    );
}

#[actix_web::test]
async fn stalled_uploads_from_one_address_leave_room_for_everyone_else() {
    let app = spawn_app_with(&[
        "--max-body-bytes",
        "1MiB",
        "--body-memory",
        "4MiB",
        "--header-timeout",
        "2s",
        "--queue-timeout",
        "500ms",
    ])
    .await;
    let bin = app.bin_id().await;

    // Sixteen uploads from one address declare 1 MiB, send one byte less, and stall.
    let mut stalled = Vec::new();
    for _ in 0..16 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let mut stream = socket
            .connect(app.http_addr().parse().unwrap())
            .await
            .unwrap();
        let head = format!("POST /{bin} HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let body = vec![b'x'; 1_048_575];
        // The server may stop reading a body it has no memory for; do not wait on it.
        let _ = tokio::time::timeout(Duration::from_millis(300), stream.write_all(&body)).await;
        stalled.push(stream);
    }

    // Everyone else's captures with bodies are still served, promptly.
    for n in 0..5 {
        let started = Instant::now();
        let response = app
            .post(&format!("/{bin}/fine"), vec![b'y'; 512 * 1024])
            .await;
        assert_eq!(response.status(), 200, "capture {n} of another client");
        assert!(
            started.elapsed() < Duration::from_millis(1_500),
            "capture {n} took {:?}",
            started.elapsed()
        );
    }

    // The stalled uploads that got memory are cut off once they stop, with 408 (the others
    // wait for their address's share); nothing of them is kept.
    let answers = futures_util::future::join_all(stalled.iter_mut().map(|stream| async move {
        use tokio::io::AsyncReadExt;
        let mut answer = vec![0u8; 12];
        let read = tokio::time::timeout(Duration::from_secs(6), stream.read_exact(&mut answer));
        match read.await {
            Ok(Ok(_)) => Some(String::from_utf8_lossy(&answer).into_owned()),
            _ => None,
        }
    }))
    .await;
    let cut_off = answers
        .iter()
        .filter(|a| a.as_deref() == Some("HTTP/1.1 408"))
        .count();
    assert!(cut_off >= 2, "{answers:?}");
    assert!(
        answers
            .iter()
            .flatten()
            .all(|a| a == "HTTP/1.1 408" || a == "HTTP/1.1 503"),
        "{answers:?}"
    );
    let stored = app.all_requests(&bin).await;
    assert!(stored.iter().all(|r| r["path"] == "/fine"));
    assert_eq!(stored.len(), 5);
}
