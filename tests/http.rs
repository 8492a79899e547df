//! The HTTP edge, probed as a stranger would: forged hosts and forwarding headers, head limits,
//! `Expect: 100-continue`, upgrades and CONNECT, errors in one shape, exact header bytes and
//! order, chunked trailers, and request ids that say nothing about other bins.
// Helpers here are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{raw_exchange, spawn_app, TestApp};
use serde_json::Value;

/// A raw HTTP/1.1 request to the plain listener; returns the whole answer.
async fn raw(app: &TestApp, request: &str) -> String {
    raw_exchange(&app.http_addr(), request.as_bytes(), Duration::from_secs(5)).await
}

/// The status codes of the answers in a raw exchange, in order.
fn statuses(answers: &str) -> Vec<&str> {
    answers
        .match_indices("HTTP/1.1 ")
        .filter_map(|(at, _)| answers.get(at + 9..at + 12))
        .collect()
}

/// The JSON body of a raw answer.
fn json_body(answer: &str) -> Value {
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {answer}"))
}

#[actix_web::test]
async fn forged_hosts_and_forwarding_headers_change_nothing_users_copy() {
    let app = spawn_app().await;
    let evil = "evil.example'; rm -rf ~; echo '";
    let created: Value = app
        .client
        .post(format!("{}/api/v1/bins", app.base))
        .header("x-forwarded-host", evil)
        .header("x-forwarded-proto", "javascript")
        .header("forwarded", "host=evil.example;proto=http")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bin = created["id"].as_str().unwrap();
    assert_eq!(created["capture_url"], format!("{}/{bin}", app.base));

    // A Host that is not a valid host[:port] is not used either; a valid one is.
    let forged = raw(
        &app,
        &format!("GET /api/v1/bins/{bin} HTTP/1.1\r\nHost: {evil}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    let shown = json_body(&forged)["capture_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(shown, format!("{}/{bin}", app.http_base));
    let named = raw(
        &app,
        &format!("GET /api/v1/bins/{bin} HTTP/1.1\r\nHost: bins.example:8080\r\nConnection: close\r\n\r\n"),
    ).await;
    assert_eq!(
        json_body(&named)["capture_url"],
        format!("http://bins.example:8080/{bin}")
    );

    // The page's curl line quotes the URL as one shell word, and the scheme stays https.
    let page = app
        .client
        .get(format!("{}/inspect/{bin}", app.base))
        .header("x-forwarded-host", evil)
        .header("x-forwarded-proto", "javascript")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("evil.example"), "forwarded host leaked");
    assert!(!page.contains("javascript:"), "forwarded scheme leaked");
    assert!(
        page.contains(&format!("-X POST &#39;{}/{bin}&#39;", app.base)),
        "curl line quotes the URL"
    );

    // X-Forwarded-Proto: http over HTTPS keeps the cookie Secure.
    let form = app
        .client
        .post(format!("{}/bins", app.base))
        .header("x-forwarded-proto", "http")
        .send()
        .await
        .unwrap();
    let cookie = form.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[actix_web::test]
async fn head_limits_are_answered_clearly_at_the_documented_sizes() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;

    // 96 header fields are fine, 97 are not: a 431 that says why, in the error shape.
    let head_with = |count: usize| {
        let mut head = format!("POST /{bin} HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n");
        for n in 3..count {
            head.push_str(&format!("x-h{n}: v\r\n"));
        }
        head.push_str("Connection: close\r\n\r\nok");
        head
    };
    let fine = raw(&app, &head_with(96)).await;
    assert!(fine.starts_with("HTTP/1.1 200"), "{fine}");
    let too_many = raw(&app, &head_with(97)).await;
    assert!(too_many.starts_with("HTTP/1.1 431"), "{too_many}");
    let body = json_body(&too_many);
    assert_eq!(body["status"], 431);
    assert!(
        body["error"].as_str().unwrap().contains("96 header fields"),
        "{body}"
    );

    // A 64 KB request line: 414 with a message (the limit is 8 KiB); 16 KiB of headers: 431.
    let long_line = format!(
        "GET /{bin}?q={} HTTP/1.1\r\nHost: h\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let big_head = format!(
        "GET /{bin} HTTP/1.1\r\nHost: h\r\nx-big: {}\r\n\r\n",
        "b".repeat(17 * 1024)
    );
    for (request, status, says) in [
        (long_line, "414", "8192 bytes"),
        (big_head, "431", "16384 bytes"),
    ] {
        let answer = raw(&app, &request).await;
        let head = &answer[..answer.len().min(200)];
        assert!(answer.starts_with(&format!("HTTP/1.1 {status}")), "{head}");
        let error = json_body(&answer)["error"].as_str().unwrap().to_owned();
        assert!(error.contains(says), "{error}");
    }

    // Browsers get the same answer (in JSON too: the head never became a request to answer).
    let page = raw(
        &app,
        &format!(
            "GET /{bin}?q={} HTTP/1.1\r\nHost: h\r\nAccept: text/html\r\n\r\n",
            "a".repeat(9 * 1024)
        ),
    )
    .await;
    assert!(page.starts_with("HTTP/1.1 414"), "{page}");

    // A refusal after a request whose target had a fragment (which the URI drops) is still
    // answered as a refusal, in order.
    let pipelined = raw(
        &app,
        &format!(
            "GET /healthz#x HTTP/1.1\r\nHost: h\r\n\r\nGET /{bin}?q={} HTTP/1.1\r\nHost: h\r\n\r\n",
            "a".repeat(9 * 1024)
        ),
    )
    .await;
    assert_eq!(statuses(&pipelined), ["200", "414"], "{pipelined}");

    // Heads actix-http would refuse with an empty 400 get the reason.
    let no_host = raw(&app, &format!("GET /{bin} HTTP/1.1\r\n\r\n")).await;
    assert!(no_host.starts_with("HTTP/1.1 400"), "{no_host}");
    assert!(json_body(&no_host)["error"]
        .as_str()
        .unwrap()
        .contains("needs a Host"));

    // Only the fine one was stored, and the server goes on.
    assert_eq!(app.all_requests(&bin).await.len(), 1);
    assert_eq!(app.post(&format!("/{bin}"), "after").await.status(), 200);
}

#[actix_web::test]
async fn expect_continue_hears_404_and_413_before_sending_the_body() {
    let app = common::spawn_app_with(&["--max-body-bytes", "1KiB"]).await;
    let bin = app.bin_id().await;
    let expecting = |path: &str, length: usize| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
        )
    };

    let unknown = raw(
        &app,
        &expecting("/0b8f5c1e-8f0a-4c4e-9a57-2f1d0d7e9a10", 10),
    )
    .await;
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
    assert!(!unknown.contains("100 Continue"), "{unknown}");
    assert_eq!(json_body(&unknown)["error"], "no such bin");

    let too_large = raw(&app, &expecting(&format!("/{bin}/big"), 5_000)).await;
    assert!(too_large.starts_with("HTTP/1.1 413"), "{too_large}");
    assert!(!too_large.contains("100 Continue"));
    assert!(
        too_large.contains("recorded without its body"),
        "{too_large}"
    );

    // A body within the limit gets 100 Continue, then is stored.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.http_addr())
        .await
        .unwrap();
    stream
        .write_all(expecting(&format!("/{bin}/ok"), 5).as_bytes())
        .await
        .unwrap();
    let mut first = [0u8; 25];
    stream.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"hello").await.unwrap();
    let mut rest = [0u8; 15];
    stream.read_exact(&mut rest).await.unwrap();
    assert_eq!(&rest, b"HTTP/1.1 200 OK");

    let stored = app.all_requests(&bin).await;
    let outcomes: Vec<(&str, &str)> = stored
        .iter()
        .map(|r| (r["path"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(outcomes, [("/ok", "stored"), ("/big", "rejected")]);
    assert_eq!(stored[1]["body_size"], 5_000);
}

#[actix_web::test]
async fn upgrades_and_connect_are_captured_and_answered_at_once() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let started = Instant::now();
    let websocket = raw(
        &app,
        &format!(
            "GET /{bin}/ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ),
    )
    .await;
    assert!(websocket.starts_with("HTTP/1.1 200"), "{websocket}");
    let connect = raw(&app, &format!("CONNECT /{bin} HTTP/1.1\r\nHost: h\r\n\r\n")).await;
    assert!(connect.starts_with("HTTP/1.1 200"), "{connect}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "answered at once, not at a timeout: {:?}",
        started.elapsed()
    );
    // Any other Upgrade (curl --http2 over plain HTTP says h2c) is a request like any other,
    // body included.
    let h2c = raw(
        &app,
        &format!(
            "POST /{bin}/h2c HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n\
             HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Length: 4\r\n\r\nbody"
        ),
    )
    .await;
    assert!(h2c.starts_with("HTTP/1.1 200"), "{h2c}");
    let stored = app.all_requests(&bin).await;
    let seen: Vec<(&str, &str)> = stored
        .iter()
        .map(|r| (r["method"].as_str().unwrap(), r["path"].as_str().unwrap()))
        .collect();
    assert_eq!(seen, [("POST", "/h2c"), ("CONNECT", "/"), ("GET", "/ws")]);
    assert_eq!(stored[0]["body_text"], "body");
    let upgrade = stored[2]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "upgrade")
        .unwrap();
    assert_eq!(upgrade[1], "websocket");
}

#[actix_web::test]
async fn every_error_has_the_error_shape() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;

    let twice = app
        .get(&format!("/api/v1/bins/{bin}/requests?limit=1&limit=2"))
        .await;
    assert_eq!(twice.status(), 400);
    assert!(twice.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: Value = twice.json().await.unwrap();
    assert_eq!(body["status"], 400);
    assert!(body["error"].as_str().unwrap().contains("limit"), "{body}");

    let wrong_method = app
        .client
        .put(format!("{}/api/v1/bins/{bin}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.headers()["allow"], "GET, HEAD, DELETE");
    let body: Value = wrong_method.json().await.unwrap();
    assert_eq!(body["status"], 405);

    for (method, path) in [("POST", "/healthz"), ("GET", "/bins"), ("DELETE", "/")] {
        let response = app
            .client
            .request(method.parse().unwrap(), format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], 405, "{method} {path}");
    }

    let page = app
        .client
        .put(format!("{}/inspect/{bin}", app.base))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 405);
    assert!(page.text().await.unwrap().contains("<h1>"));

    let missing_static = app.get("/static/nothing.css").await;
    assert_eq!(missing_static.status(), 404);
    let body: Value = missing_static.json().await.unwrap();
    assert_eq!(body["status"], 404);
}

#[actix_web::test]
async fn headers_keep_their_order_and_bytes_and_trailers_are_kept() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let request = [
        format!("POST /{bin}/ordered HTTP/1.1\r\nHost: h\r\nZ-First: 1\r\nA-Second: 2\r\n")
            .as_bytes(),
        b"X-Latin1: caf\xe9\r\nZ-First: again\r\nTransfer-Encoding: chunked\r\n",
        b"Connection: close\r\n\r\n",
        b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: sha256=abc\r\nX-Other: caf\xe9\r\n\r\n",
    ]
    .concat();
    let answer = raw_exchange(&app.http_addr(), &request, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let stored = &app.all_requests(&bin).await[0];
    assert_eq!(stored["body_text"], "hello world");
    let names: Vec<&str> = stored["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "host",
            "z-first",
            "a-second",
            "x-latin1",
            "z-first",
            "transfer-encoding",
            "connection"
        ],
        "arrival order"
    );
    let latin1 = &stored["headers"][3];
    assert_eq!(latin1[1], "caf\u{fffd}");
    let exact = base64::engine::general_purpose::STANDARD
        .decode(latin1[2].as_str().unwrap())
        .unwrap();
    assert_eq!(exact, b"caf\xe9");
    assert_eq!(stored["trailers"][0][0], "x-checksum");
    assert_eq!(stored["trailers"][0][1], "sha256=abc");
    assert_eq!(stored["trailers"][1][2], "Y2Fm6Q==");

    // The card shows the odd bytes escaped, and the trailers.
    let page = app
        .get(&format!("/inspect/{bin}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(r"caf\xe9"), "escaped bytes on the page");
    assert!(page.contains("x-checksum"));
}

#[actix_web::test]
async fn request_ids_are_numbered_within_their_bin() {
    let app = spawn_app().await;
    let busy = app.bin_id().await;
    for n in 0..25 {
        app.post(&format!("/{busy}"), format!("{n}")).await;
    }
    let quiet = app.bin_id().await;
    let answer: Value = app
        .post(&format!("/{quiet}"), "first")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["id"], "1", "a new bin's first request is number 1");
    let listed = app.all_requests(&quiet).await;
    assert_eq!(listed[0]["id"], "1");
    assert_eq!(
        app.get(&format!("/api/v1/bins/{quiet}/requests/1"))
            .await
            .status(),
        200
    );
    assert_eq!(app.get(&format!("/inspect/{quiet}/1")).await.status(), 200);
    // Numbers go on after deletes, so an old link never shows a newer request.
    app.delete(&format!("/api/v1/bins/{quiet}/requests")).await;
    let next: Value = app
        .post(&format!("/{quiet}"), "second")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(next["id"], "2");
}

#[actix_web::test]
async fn captured_data_is_never_cached_and_its_files_are_private() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    app.post(&format!("/{bin}"), "secret payload").await;
    for path in [
        "/".to_owned(),
        format!("/inspect/{bin}"),
        format!("/inspect/{bin}/1"),
        format!("/api/v1/bins/{bin}/requests"),
        format!("/api/v1/bins/{bin}/requests/1/raw"),
        format!("/{bin}"),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
    }
    // Styles may be cached (and revalidated): they hold nothing captured.
    let css = app.get("/static/app.css").await;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["cache-control"], "no-cache");
    // A self-signed certificate gets no HSTS: browsers would then refuse to click through.
    assert!(!app
        .get("/")
        .await
        .headers()
        .contains_key("strict-transport-security"));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |name: &str| {
            std::fs::metadata(app.dir.path().join(name))
                .unwrap_or_else(|err| panic!("{name}: {err}"))
                .permissions()
                .mode()
                & 0o777
        };
        for file in [
            "binspector.db",
            "binspector.db-wal",
            "binspector.db-shm",
            "tls/key.pem",
        ] {
            assert_eq!(mode(file), 0o600, "{file}");
        }
    }
}

#[actix_web::test]
async fn a_given_certificate_gets_hsts_over_https_only() {
    let dir = tempfile::tempdir().unwrap();
    let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("chain.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, pair.cert.pem()).unwrap();
    std::fs::write(&key, pair.signing_key.serialize_pem()).unwrap();
    let app = common::spawn_app_with(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
    .await;
    let over_https = app.get("/").await;
    assert_eq!(
        over_https.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let over_http = app
        .client
        .get(format!("{}/", app.http_base))
        .send()
        .await
        .unwrap();
    assert!(!over_http
        .headers()
        .contains_key("strict-transport-security"));
}

#[actix_web::test]
async fn a_sender_that_closes_its_side_still_gets_its_answer() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let mut stream = tokio::net::TcpStream::connect(app.http_addr())
        .await
        .unwrap();
    stream
        .write_all(
            format!("POST /{bin} HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nhalf").as_bytes(),
        )
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(app.all_requests(&bin).await.len(), 1);
}

#[actix_web::test]
async fn every_head_must_arrive_in_time_not_only_the_first() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = common::spawn_app_with(&["--header-timeout", "1s"]).await;
    let bin = app.bin_id().await;
    let mut stream = tokio::net::TcpStream::connect(app.http_addr())
        .await
        .unwrap();
    // One request, then blank lines and the start of a second head that never ends.
    stream
        .write_all(
            format!(
                "GET /{bin}/first HTTP/1.1\r\nHost: h\r\n\r\n\r\nPOST /{bin}/slow HTTP/1.1\r\nHo"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the connection is closed in time")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(statuses(&answer), ["200", "408"], "{answer}");
    assert!(answer.contains("did not arrive within 1 s"), "{answer}");
}
