//! ACME against a real CA (pebble, see `common::pebble`): the real binary obtains a certificate
//! by TLS-ALPN-01 on its HTTPS listener, or by HTTP-01 on its HTTP listener when TLS-ALPN-01
//! fails; a client that trusts only pebble's root then completes a verified handshake and
//! captures a request; a restart reuses the stored certificate without a new order; and a CA
//! that cannot be reached never stops the server.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    net::SocketAddr,
    path::Path,
    time::{Duration, Instant},
};

use common::{
    free_port, free_ports,
    pebble::{self, Pebble, DOMAIN},
    RunningBinary,
};

/// A client that trusts nothing but `root`, and finds `DOMAIN` at `addr`.
fn verifying_client(root: &reqwest::Certificate, addr: SocketAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(root.clone())
        .resolve(DOMAIN, addr)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Waits until a verified handshake with `DOMAIN` succeeds; returns how long it took.
async fn wait_for_trusted_certificate(
    client: &reqwest::Client,
    base: &str,
    server: &RunningBinary,
) -> Duration {
    let started = Instant::now();
    loop {
        match client.get(format!("{base}/healthz")).send().await {
            Ok(answer) if answer.status() == 200 => return started.elapsed(),
            _ => {}
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no trusted certificate after 60 s; binspector logged:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Captures a request over the verified connection and finds it stored.
async fn capture_over_verified_tls(client: &reqwest::Client, base: &str) {
    let bin = common::create_bin(client, base).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = client
        .post(format!("{base}/{bin}/kaizala"))
        .body(r#"{"eventType":"TextMessageCreated"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let stored = common::all_requests(client, base, &bin).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["path"], "/kaizala");
}

fn acme_flags(pebble: &Pebble) -> Vec<&str> {
    vec![
        "--acme-domain",
        DOMAIN,
        "--acme-email",
        "tests@bins.test",
        "--acme-directory",
        &pebble.directory,
        "--acme-ca-root",
        pebble.listener_root.to_str().unwrap(),
    ]
}

fn start(data: &Path, https_port: u16, extra: &[&str]) -> RunningBinary {
    RunningBinary::start_with(data, &format!("127.0.0.1:{https_port}"), "info", extra)
}

#[actix_web::test]
async fn tls_alpn_01_on_the_https_listener_and_a_restart_reuses_the_certificate() {
    let Some(tools) = pebble::tools() else { return };
    let [https_port, closed] = free_ports();
    // HTTP-01 would go to a closed port: only TLS-ALPN-01 can pass.
    let pebble = Pebble::start(&tools, https_port, closed);
    let root = pebble.issuing_root().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let addr: SocketAddr = format!("127.0.0.1:{https_port}").parse().unwrap();
    let base = format!("https://{DOMAIN}:{https_port}");
    let client = verifying_client(&root, addr);

    let mut server = start(&data, https_port, &acme_flags(&pebble));
    assert!(
        server
            .log()
            .contains("waiting for a certificate from the ACME CA"),
        "{}",
        server.log()
    );
    let took = wait_for_trusted_certificate(&client, &base, &server).await;
    println!(
        "tls-alpn-01: first trusted certificate {} ms after startup",
        took.as_millis()
    );
    capture_over_verified_tls(&client, &base).await;
    assert!(
        server.log().contains("challenge=\"tls-alpn-01\""),
        "{}",
        server.log()
    );
    // The account and the certificate are kept for the next start, readable by the owner only.
    let folder = std::fs::read_dir(data.join("acme"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for file in ["account.json", "cert.pem", "key.pem"] {
        let meta = std::fs::metadata(folder.join(file)).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
            0o600
        );
    }

    // A restart serves the stored certificate at once and asks the CA for nothing.
    let orders = pebble.count("Added order");
    assert_eq!(orders, 1);
    // The client's idle HTTP/2 connection stays open meanwhile and must not hold the stop.
    server.signal("TERM");
    let stopping = Instant::now();
    assert!(server.wait().success());
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );
    drop(client);
    let server = start(&data, https_port, &acme_flags(&pebble));
    let fresh = verifying_client(&root, addr);
    let answer = fresh.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(
        answer.status(),
        200,
        "the first handshake after a restart is trusted"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        pebble.count("Added order"),
        orders,
        "no new order after a restart"
    );
    assert!(
        server.log().contains("serving the stored ACME certificate"),
        "{}",
        server.log()
    );
}

#[actix_web::test]
async fn http_01_on_the_http_listener_when_tls_alpn_01_fails() {
    let Some(tools) = pebble::tools() else { return };
    let [https_port, http_port, closed] = free_ports();
    // TLS-ALPN-01 goes to a closed port, so it fails with the CA's reason; HTTP-01 reaches
    // binspector's plain listener.
    let pebble = Pebble::start(&tools, closed, http_port);
    let root = pebble.issuing_root().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let http_listen = format!("127.0.0.1:{http_port}");
    let mut flags = acme_flags(&pebble);
    flags.extend(["--http-listen", &http_listen]);
    let server = start(&data, https_port, &flags);
    let client = verifying_client(&root, format!("127.0.0.1:{https_port}").parse().unwrap());
    let base = format!("https://{DOMAIN}:{https_port}");

    let took = wait_for_trusted_certificate(&client, &base, &server).await;
    println!(
        "http-01 (after a failed tls-alpn-01): first trusted certificate {} ms after startup",
        took.as_millis()
    );
    capture_over_verified_tls(&client, &base).await;
    let log = server.log();
    let failure = log
        .lines()
        .find(|line| line.contains("the ACME CA did not issue a certificate"))
        .unwrap_or_else(|| panic!("the failed validation is logged: {log}"));
    assert!(
        failure.contains("unauthorized: Failed to connect") && failure.contains("tls-alpn-01"),
        "the CA's own reason is logged: {failure}"
    );
    assert!(log.contains("challenge=\"http-01\""), "{log}");
    assert_eq!(pebble.count("Added order"), 2);
}

#[actix_web::test]
async fn an_unreachable_ca_never_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let directory = format!("https://127.0.0.1:{}/dir", free_port());
    let server = RunningBinary::start_with(
        &data,
        "127.0.0.1:0",
        "info",
        &["--acme-domain", DOMAIN, "--acme-directory", &directory],
    );
    let client = common::client();
    let started = Instant::now();
    while !server
        .log()
        .contains("the ACME CA did not issue a certificate")
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = server.log();
    assert!(log.contains("cannot reach the CA"), "{log}");
    assert!(log.contains("retry_in_s=60"), "{log}");
    // The self-signed certificate still serves, and captures are stored.
    let bin = server.bin_id(&client).await;
    let answer = client
        .post(format!("{}/{bin}", server.base))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}
