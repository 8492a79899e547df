//! Limits that keep binspector standing: backpressure, slow and abusive clients, oversized
//! heads, bounded database growth under endless load, and fast startup on a large database.
// Helpers here are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    io::Write,
    net::TcpStream,
    time::{Duration, Instant},
};

use binspector::{config::Config, startup::Application, store::Store};
use clap::Parser;
use common::{client, create_bin, free_port, read_until_closed, spawn_app_with, RunningBinary};
use sqlx::{Connection, SqliteConnection};

#[actix_web::test]
async fn a_full_write_queue_answers_503_with_retry_after_and_loses_nothing() {
    let app = spawn_app_with(&["--write-queue", "2", "--queue-timeout", "300ms"]).await;
    let bin = app.bin_id().await;

    // Another process holding SQLite's write lock stalls the writer, so the queue fills up.
    let db = format!(
        "sqlite://{}",
        app.dir.path().join("binspector.db").display()
    );
    let mut blocker = SqliteConnection::connect(&db).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();

    let mut sends = Vec::new();
    for n in 0..24 {
        let client = app.client.clone();
        let url = format!("{}/{bin}/n{n}", app.base);
        sends.push(actix_web::rt::spawn(async move {
            let response = client.post(url).body("payload").send().await.unwrap();
            let retry_after = response.headers().get("retry-after").cloned();
            (response.status().as_u16(), retry_after)
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();

    let mut stored = 0;
    let mut busy = 0;
    for send in sends {
        let (status, retry_after) = send.await.unwrap();
        match status {
            200 => stored += 1,
            503 => {
                busy += 1;
                assert_eq!(retry_after.unwrap(), "1");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(busy > 0, "some captures were turned away");
    assert!(
        stored > 0,
        "the queued captures were stored once the writer could go on"
    );
    assert_eq!(
        app.all_requests(&bin).await.len(),
        stored,
        "every 200 is stored, nothing else"
    );

    let after = app.post(&format!("/{bin}"), "after").await;
    assert_eq!(after.status(), 200);
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_cannot_hold_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let http_port = free_port();
    let http = format!("127.0.0.1:{http_port}");
    let server = RunningBinary::start(
        &dir.path().join("data"),
        &[
            "--http-listen",
            &http,
            "--header-timeout",
            "1s",
            "--body-timeout",
            "1s",
        ],
    );
    let client = client();
    let bin = create_bin(&client, &server.base).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Many clients trickle their request heads a header line at a time.
    let mut trickling = Vec::new();
    for _ in 0..64 {
        let mut stream = TcpStream::connect(&http).unwrap();
        stream
            .write_all(format!("POST /{bin} HTTP/1.1\r\nHost: x\r\n").as_bytes())
            .unwrap();
        trickling.push(stream);
    }
    let started = Instant::now();
    let trickler = std::thread::spawn(move || {
        let mut open = trickling;
        for _ in 0..15 {
            std::thread::sleep(Duration::from_millis(200));
            open.retain_mut(|stream| stream.write_all(b"X-Slow: yes\r\n").is_ok());
        }
        open
    });

    // Meanwhile everyone else is served promptly.
    let quick = Instant::now();
    let response = client
        .post(format!("{}/{bin}", server.base))
        .body("not slow")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        quick.elapsed() < Duration::from_millis(800),
        "served in {:?}",
        quick.elapsed()
    );

    let mut slow = trickler.join().unwrap();
    for stream in &mut slow {
        let answer = read_until_closed(stream, Duration::from_secs(3));
        let answer = answer.expect("the server closed the slow connection");
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(8));

    // A body that trickles in is answered 408 and nothing is stored.
    let mut stream = TcpStream::connect(&http).unwrap();
    stream
        .write_all(
            format!("POST /{bin}/slow-body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
                .as_bytes(),
        )
        .unwrap();
    let body_started = Instant::now();
    let answer = read_until_closed(&mut stream, Duration::from_secs(5)).unwrap_or_default();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(body_started.elapsed() < Duration::from_secs(4));

    let requests = common::all_requests(&client, &server.base, &bin).await;
    assert_eq!(requests.len(), 1, "only the prompt request was stored");
}

#[actix_web::test]
async fn oversized_request_heads_are_refused_and_the_server_keeps_serving() {
    let app = spawn_app_with(&[]).await;
    let bin = app.bin_id().await;

    // A fresh connection for each, so a connection the server closed is not reused.
    let mut many = client().post(format!("{}/{bin}", app.base));
    for n in 0..200 {
        many = many.header(format!("x-header-{n}"), "v");
    }
    let status = many.send().await.map(|r| r.status().as_u16());
    assert_eq!(status.ok(), Some(431), "too many headers");

    let huge = client()
        .post(format!("{}/{bin}", app.base))
        .header("x-huge", "h".repeat(24 * 1024))
        .send()
        .await
        .map(|r| r.status().as_u16());
    assert_eq!(huge.as_ref().ok(), Some(&431), "one huge header: {huge:?}");

    let fine = app.post(&format!("/{bin}"), "fine").await;
    assert_eq!(fine.status(), 200);
    assert_eq!(app.all_requests(&bin).await.len(), 1);
}

#[actix_web::test]
async fn under_endless_load_a_capped_bin_keeps_the_database_from_growing() {
    let app = spawn_app_with(&["--max-requests-per-bin", "300", "--sweep-interval", "50ms"]).await;
    let bin = app.bin_id().await;
    let db = app.dir.path().join("binspector.db");
    let body = "k".repeat(2_048);
    let mut sizes = Vec::new();
    for _round in 0..8 {
        let mut sends = Vec::new();
        for _ in 0..20 {
            let client = app.client.clone();
            let url = format!("{}/{bin}", app.base);
            let body = body.clone();
            sends.push(actix_web::rt::spawn(async move {
                for _ in 0..20 {
                    let response = client.post(&url).body(body.clone()).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                }
            }));
        }
        for send in sends {
            send.await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        sizes.push(std::fs::metadata(&db).unwrap().len());
    }
    // As in the benchmark: over the second half the file grows by at most 10 % past the
    // largest it was in the first (how soon it reaches that size depends on how the sweeper's
    // runs fall between the bursts).
    let first_half = *sizes[..4].iter().max().unwrap();
    let last = *sizes.last().unwrap();
    assert!(
        last <= first_half + first_half / 10,
        "database kept growing under a capped load: {sizes:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let count = app.get_json(&format!("/api/v1/bins/{bin}")).await["request_count"]
        .as_i64()
        .unwrap();
    assert_eq!(count, 300);
    assert_eq!(app.all_requests(&bin).await.len(), 300);
}

#[actix_web::test]
async fn the_retention_window_removes_old_requests() {
    let app = spawn_app_with(&["--retention", "1s", "--sweep-interval", "50ms"]).await;
    let bin = app.bin_id().await;
    for _ in 0..5 {
        app.post(&format!("/{bin}"), "old").await;
    }
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    app.post(&format!("/{bin}"), "new").await;
    let left = app.all_requests(&bin).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["body_text"], "new");
}

#[actix_web::test]
async fn startup_on_a_million_stored_requests_takes_under_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("binspector.db").display());
    let store = Store::open(&url, 16, None, Default::default())
        .await
        .unwrap();
    let bin = binspector::store::new_bin_id();
    store
        .writer()
        .run(binspector::store::Command::CreateBin {
            id: bin.clone(),
            created_at: 0,
            settings: binspector::store::StoredSettings("{}".to_owned()),
        })
        .await
        .unwrap();
    store.close().await;

    let mut conn = SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000) \
         INSERT INTO requests (id, bin_key, seq, received_at, outcome, method, path, query, \
         headers, body_head, body_rest, body_size) SELECT i, (SELECT key FROM bins WHERE id = ?), \
         i, 1795733333000 + i, 'stored', 'POST', '/', '', '[]', x'7b7d', x'', 2 FROM n",
    )
    .bind(&bin)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("UPDATE bins SET request_count = 1000000, last_seq = 1000000")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let config = Config::parse_from([
        "binspector",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--static-dir",
        common::static_dir().to_str().unwrap(),
        "--max-requests-per-bin",
        "0",
    ]);
    let started = Instant::now();
    let app = Application::build(config).await.unwrap();
    let base = format!("https://127.0.0.1:{}", app.https_port());
    let handle = app.server_handle();
    actix_web::rt::spawn(app.run_until_stopped());
    let client = client();
    loop {
        if let Ok(response) = client.get(format!("{base}/healthz")).send().await {
            if response.status() == 200 {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "never became healthy"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let startup = started.elapsed();
    assert!(startup < Duration::from_secs(1), "startup took {startup:?}");

    let bin_json: serde_json::Value = client
        .get(format!("{base}/api/v1/bins/{bin}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bin_json["request_count"], 1_000_000);
    handle.stop(true).await;
}
