//! Abuse limits: bin creations per client address (`--create-limit`), captures per bin
//! (`--capture-limit`), the database quota (`--max-db-size`) and idle bins
//! (`--bin-retention`).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{client, client_from, free_port, rss_kib, spawn_app_with, RunningBinary};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[actix_web::test]
async fn the_61st_bin_in_an_hour_from_one_address_is_refused() {
    let app = spawn_app_with(&[]).await;
    for n in 0..60 {
        let created = app
            .client
            .post(format!("{}/api/v1/bins", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), StatusCode::CREATED, "bin {}", n + 1);
    }
    let refused = app
        .client
        .post(format!("{}/api/v1/bins", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    // One more creation is allowed each minute.
    assert!(
        (1..=60).contains(&retry_after(&refused)),
        "{}",
        retry_after(&refused)
    );
    let body: Value = refused.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("60/h"), "{body}");
    // The home page's form is the same limit, answered as a page to a browser.
    let form = app
        .client
        .post(format!("{}/bins", app.base))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(form.headers().contains_key("retry-after"));
    assert!(form.text().await.unwrap().contains("<h1>"));
    // Another address is not affected.
    let other = client_from([127, 0, 0, 2]);
    let created = other
        .post(format!("{}/api/v1/bins", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
}

#[actix_web::test]
async fn captures_over_the_limit_are_refused_and_counted_on_the_bin() {
    let app = spawn_app_with(&["--capture-limit", "5/m", "--sweep-interval", "100ms"]).await;
    let bin = app.bin_id().await;
    let other = app.bin_id().await;
    let mut statuses = Vec::new();
    for n in 0..8 {
        let answer = app
            .post(&format!("/{bin}/hook"), format!("capture {n}"))
            .await;
        if answer.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!((1..=12).contains(&retry_after(&answer)));
            let body: Value = answer.json().await.unwrap();
            assert!(
                body["error"].as_str().unwrap().contains("not stored"),
                "{body}"
            );
            statuses.push(429);
        } else {
            statuses.push(answer.status().as_u16());
        }
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    // The refused ones are not stored; another bin has its own limit.
    let stored = app.all_requests(&bin).await;
    assert_eq!(stored.len(), 5);
    assert!(stored
        .iter()
        .all(|request| request["body_text"] != "capture 7"));
    assert_eq!(app.post(&format!("/{other}"), "x").await.status(), 200);

    // Counted at once, and still counted once the sweeper has written the count.
    for wait in [Duration::ZERO, Duration::from_millis(500)] {
        tokio::time::sleep(wait).await;
        let shown = app.get_json(&format!("/api/v1/bins/{bin}")).await;
        assert_eq!(shown["dropped_count"], 3, "{shown}");
        assert!(shown["dropped_since"].as_str().unwrap().ends_with('Z'));
        assert_eq!(shown["request_count"], 5);
    }
    // A capture refused before its body (Expect: 100-continue, body over the size limit) is
    // held to the same limit.
    let head = format!(
        "POST /{bin} HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        20 * 1024 * 1024
    );
    let answer =
        common::raw_exchange(&app.http_addr(), head.as_bytes(), Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after:"),
        "{answer}"
    );
    let shown = app.get_json(&format!("/api/v1/bins/{bin}")).await;
    assert_eq!(shown["dropped_count"], 4, "{shown}");
    assert_eq!(shown["request_count"], 5);

    let quiet = app.get_json(&format!("/api/v1/bins/{other}")).await;
    assert_eq!(
        (
            quiet["dropped_count"].clone(),
            quiet["dropped_since"].clone()
        ),
        (0.into(), Value::Null)
    );
    let page = app
        .get(&format!("/inspect/{bin}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("4 requests refused by the rate limit since"),
        "{page}"
    );
    // An unknown bin is still a 404, limit or not.
    let unknown = "2b1e5c8e-8f4f-4a43-9b7a-0a4f7f1f2f3a";
    for _ in 0..7 {
        assert_eq!(app.post(&format!("/{unknown}"), "x").await.status(), 404);
    }
}

#[tokio::test]
async fn requests_to_made_up_bins_cannot_reset_a_bins_capture_limit() {
    let dir = tempfile::tempdir().unwrap();
    let http = format!("127.0.0.1:{}", free_port());
    let server = RunningBinary::start(
        &dir.path().join("data"),
        &["--http-listen", &http, "--capture-limit", "3/h"],
    );
    let client = client();
    let bin = server.bin_id(&client).await;
    let capture = |path: String| {
        let request = client
            .post(format!("http://{http}/{path}"))
            .body("x")
            .send();
        async move { request.await.unwrap().status().as_u16() }
    };
    for expected in [200, 200, 200, 429] {
        assert_eq!(capture(bin.clone()).await, expected);
    }
    // More made-up bins than a limiter remembers: none of them becomes a key.
    let statuses: Vec<u16> = futures_util::stream::iter(0..17_000)
        .map(|_| capture(uuid::Uuid::new_v4().to_string()))
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(statuses.iter().all(|status| *status == 404));
    assert_eq!(capture(bin.clone()).await, 429, "the limit was reset");
}

#[tokio::test]
async fn the_limiters_stay_small_while_100000_addresses_hit_them() {
    const ADDRESSES: u32 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let http = format!("127.0.0.1:{}", free_port());
    let server = RunningBinary::start(
        &dir.path().join("data"),
        &[
            "--http-listen",
            &http,
            "--trust-proxy",
            "127.0.0.1",
            "--access-token",
            "the-right-token-0123456789",
        ],
    );
    let pid = server.child.id();
    let client = client();
    // Every forged address guesses at the login form once: each is a new key in the
    // per-address limiter, and nothing is written to the database.
    let login = format!("http://{http}/login");
    let guess = |n: u32| {
        let request = client
            .post(&login)
            .header(
                "x-forwarded-for",
                std::net::Ipv4Addr::from(0x0a00_0000 + n).to_string(),
            )
            .form(&[("token", "a-wrong-guess-0123456789"), ("next", "/")])
            .send();
        async move { request.await.unwrap().status().as_u16() }
    };
    let started = Instant::now();
    let mut samples = Vec::new();
    for chunk in 0..10 {
        let range = chunk * (ADDRESSES / 10)..(chunk + 1) * (ADDRESSES / 10);
        let statuses: Vec<u16> = futures_util::stream::iter(range)
            .map(guess)
            .buffer_unordered(32)
            .collect()
            .await;
        assert!(
            statuses.iter().all(|status| *status == 401),
            "a first guess was not checked"
        );
        samples.push(rss_kib(pid));
    }
    let took = started.elapsed();
    println!(
        "{ADDRESSES} addresses in {took:?}; RSS after each 10,000: {:?} KiB",
        samples
    );
    let (early, late) = (samples[1], *samples.last().unwrap());
    assert!(
        late < early + 4 * 1024,
        "RSS grew from {early} KiB to {late} KiB over 80,000 more addresses"
    );
    // The limit still holds for an address that keeps guessing.
    let stubborn = std::net::Ipv4Addr::from(0x0a00_0000 + ADDRESSES - 1).to_string();
    let mut refused = false;
    for _ in 0..12 {
        let answer = client
            .post(&login)
            .header("x-forwarded-for", &stubborn)
            .form(&[("token", "another-wrong-guess-0123"), ("next", "/")])
            .send()
            .await
            .unwrap();
        refused |= answer.status() == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(refused, "an address guessed twelve times in a row");
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|meta| meta.len()).unwrap_or(0)
}

#[tokio::test]
async fn the_database_is_kept_under_its_quota_by_removing_the_oldest_requests() {
    const QUOTA: u64 = 4 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let http = format!("127.0.0.1:{}", free_port());
    let server = RunningBinary::start(
        &data,
        &[
            "--http-listen",
            &http,
            "--max-db-size",
            "4MiB",
            "--sweep-interval",
            "200ms",
        ],
    );
    let client = client();
    let (first, second) = (server.bin_id(&client).await, server.bin_id(&client).await);
    // 12 MiB in 32 KiB bodies, spread over two bins.
    let body = |n: usize| format!("{n:06}:{}", "x".repeat(32 * 1024 - 7));
    for n in 0..384 {
        let bin = if n % 2 == 0 { &first } else { &second };
        let answer = client
            .post(format!("http://{http}/{bin}"))
            .body(body(n))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    let db = data.join("binspector.db");
    let mut size = file_size(&db);
    for _ in 0..100 {
        if size <= QUOTA {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        size = file_size(&db);
    }
    println!("database file after 12 MiB of captures: {size} bytes (quota {QUOTA})");
    assert!(size <= QUOTA, "the database file is {size} bytes");
    assert!(
        size > QUOTA / 2,
        "far more was removed than needed: {size} bytes"
    );

    // The newest requests of both bins are kept, the oldest are gone.
    let kept_first = common::all_requests(&client, &server.base, &first).await;
    let kept_second = common::all_requests(&client, &server.base, &second).await;
    let kept = kept_first.len() + kept_second.len();
    assert!((40..384).contains(&kept), "{kept} requests kept");
    let newest = |requests: &[Value]| requests[0]["body_text"].as_str().unwrap()[..6].to_owned();
    assert_eq!(newest(&kept_first), "000382");
    assert_eq!(newest(&kept_second), "000383");
    let oldest_kept: Vec<usize> = [&kept_first, &kept_second]
        .iter()
        .map(|requests| {
            requests.last().unwrap()["body_text"].as_str().unwrap()[..6]
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        oldest_kept.iter().all(|n| *n > 384 - kept - 4),
        "{oldest_kept:?}, {kept} kept"
    );
    let log = server.log_with("removed its oldest requests").await;
    assert!(log.contains("removed its oldest requests"), "{log}");

    // The home page shows the size against the quota.
    let home = client
        .get(format!("{}/", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("of the 4.0 MiB quota"), "{home}");
}

#[actix_web::test]
async fn bins_idle_longer_than_the_bin_retention_are_deleted() {
    let app = spawn_app_with(&["--bin-retention", "1s", "--sweep-interval", "100ms"]).await;
    let (visited, captured, idle) = (app.bin_id().await, app.bin_id().await, app.bin_id().await);
    for n in 0..3 {
        let answer = app.post(&format!("/{idle}"), format!("early {n}")).await;
        assert_eq!(answer.status(), 200);
    }
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(2_500) {
        assert_eq!(app.get(&format!("/inspect/{visited}")).await.status(), 200);
        assert_eq!(
            app.post(&format!("/{captured}"), "still used")
                .await
                .status(),
            200
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(app.get(&format!("/api/v1/bins/{idle}")).await.status(), 404);
    // A new bin may get the deleted one's internal key; captures to the old URL still find
    // no bin, and nothing lands in the new one.
    let fresh = app.bin_id().await;
    assert_eq!(app.post(&format!("/{idle}"), "late").await.status(), 404);
    let fresh_bin = app.get_json(&format!("/api/v1/bins/{fresh}")).await;
    assert_eq!(fresh_bin["request_count"], 0);
    // Its requests went with it: every stored row is the captured bin's.
    let database = format!("sqlite://{}/binspector.db", app.dir.path().display());
    let pool = sqlx::SqlitePool::connect(&database).await.unwrap();
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM requests")
        .fetch_one(&pool)
        .await
        .unwrap();
    let kept = app.get_json(&format!("/api/v1/bins/{captured}")).await;
    assert_eq!(rows, kept["request_count"].as_i64().unwrap());
    assert_eq!(
        app.get(&format!("/api/v1/bins/{visited}")).await.status(),
        200
    );
    assert_eq!(
        app.get(&format!("/api/v1/bins/{captured}")).await.status(),
        200
    );
}
