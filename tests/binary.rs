//! End-to-end tests of the real `binspector` binary over HTTPS: the README's flow, durability
//! across SIGKILL, a graceful restart, and startup errors that read as one sentence.

mod common;

use std::{
    collections::HashSet,
    process::Command,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use common::{all_requests, capture_json, client, create_bin, kaizala_event, RunningBinary};
use serde_json::{json, Value};

#[tokio::test]
async fn the_readme_flow_works_against_the_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = RunningBinary::start(&data, &[]);
    let client = client();
    let base = &server.base;

    let bin = create_bin(&client, base).await;
    let capture_url = bin["capture_url"].as_str().unwrap();
    assert!(capture_url.starts_with("https://127.0.0.1:"));

    let handshake = client
        .post(format!("{capture_url}?validationToken=abc123"))
        .send()
        .await
        .unwrap();
    assert_eq!(handshake.status(), 200);
    assert_eq!(handshake.text().await.unwrap(), "abc123");

    let event = kaizala_event(
        "TextMessageCreated",
        "evt-42",
        json!({"text": "Hello group"}),
    );
    let stored = client
        .post(capture_url)
        .header("kz-callback-token", "tok")
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);

    let requests = all_requests(&client, base, bin["id"].as_str().unwrap()).await;
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["kaizala"]["event_type"], "TextMessageCreated");
    let body: Value = serde_json::from_str(requests[0]["body_text"].as_str().unwrap()).unwrap();
    assert_eq!(body, event);
    assert_eq!(requests[1]["outcome"], "handshake");

    // The self-signed certificate was generated into the data directory.
    assert!(data.join("tls/cert.pem").exists());
    assert!(data.join("binspector.db").exists());
}

#[tokio::test]
async fn every_acknowledged_capture_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = RunningBinary::start(&data, &[]);
    let client = client();
    let base = server.base.clone();
    let bin = create_bin(&client, &base).await;
    let bin_id = bin["id"].as_str().unwrap().to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for sender in 0..32 {
        let client = client.clone();
        let url = format!("{base}/{bin_id}/sender/{sender}");
        let stop = stop.clone();
        senders.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let sent = client.post(&url).body(format!("message {n}")).send().await;
                let Ok(response) = sent else { break };
                if !response.status().is_success() {
                    continue;
                }
                match response.json::<Value>().await {
                    Ok(answer) => acknowledged.push(answer["id"].as_str().unwrap().to_owned()),
                    Err(_) => break,
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    server.signal("KILL");
    server.wait();
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = HashSet::new();
    for sender in senders {
        acknowledged.extend(sender.await.unwrap());
    }
    assert!(
        acknowledged.len() > 100,
        "only {} captures were acknowledged",
        acknowledged.len()
    );

    let restarted = RunningBinary::start(&data, &[]);
    let stored: HashSet<String> = all_requests(&client, &restarted.base, &bin_id)
        .await
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged captures lost: {lost:?}",
        lost.len()
    );
}

#[tokio::test]
async fn sigterm_exits_cleanly_and_a_restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = RunningBinary::start(&data, &[]);
    let client = client();
    let bin = create_bin(&client, &server.base).await;
    let bin_id = bin["id"].as_str().unwrap().to_owned();
    for n in 0..20 {
        let response = client
            .post(format!("{}/{bin_id}", server.base))
            .body(format!("n={n}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let cert_before = std::fs::read(data.join("tls/cert.pem")).unwrap();
    server.signal("TERM");
    let status = server.wait();
    assert_eq!(status.code(), Some(0), "graceful shutdown exits 0");

    let restarted = RunningBinary::start(&data, &[]);
    let requests = all_requests(&client, &restarted.base, &bin_id).await;
    assert_eq!(requests.len(), 20);
    assert_eq!(requests[0]["body_text"], "n=19");
    let cert_after = std::fs::read(data.join("tls/cert.pem")).unwrap();
    assert_eq!(
        cert_before, cert_after,
        "the certificate is reused, not regenerated"
    );
}

/// Runs the binary with arguments that must stop startup; returns its stderr.
fn failed_start(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_binspector"))
        .args(args)
        .env("RUST_LOG", "off")
        .output()
        .expect("the binary runs");
    assert!(!output.status.success(), "{args:?} should fail");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "one sentence, got: {stderr}"
    );
    stderr
}

#[test]
fn bad_flags_stop_startup_with_one_clear_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();

    let missing_cert = failed_start(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data,
        "--tls-cert",
        "/nonexistent/cert.pem",
        "--tls-key",
        "/nonexistent/key.pem",
    ]);
    assert!(
        missing_cert.contains("/nonexistent/cert.pem"),
        "{missing_cert}"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let in_use = failed_start(&["--listen", &format!("127.0.0.1:{port}"), "--data-dir", data]);
    assert!(in_use.contains("already in use"), "{in_use}");

    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let under_file = file.join("data");
    let unwritable = failed_start(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        under_file.to_str().unwrap(),
    ]);
    assert!(unwritable.contains("data directory"), "{unwritable}");
}

#[test]
fn a_real_certificate_can_be_given_and_a_bad_one_is_blamed_on_the_right_file() {
    let dir = tempfile::tempdir().unwrap();
    common::write_certificate(dir.path(), "localhost");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let data = dir.path().join("data");
    let server = RunningBinary::start(
        &data,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(server.base.starts_with("https://"));
    assert!(
        !data.join("tls/cert.pem").exists(),
        "no certificate generated when one is given"
    );

    // Whatever is wrong with the pair is blamed on the right file.
    let other_data = dir.path().join("other-data");
    let start_with = |cert: &std::path::Path, key: &std::path::Path| {
        failed_start(&[
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            other_data.to_str().unwrap(),
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ])
    };
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let other_key = dir.path().join("other-key.pem");
    std::fs::write(&other_key, other.signing_key.serialize_pem()).unwrap();
    let mismatch = start_with(&cert, &other_key);
    assert!(
        mismatch.contains("does not belong to the certificate"),
        "{mismatch}"
    );

    let corrupt = dir.path().join("corrupt.pem");
    std::fs::write(
        &corrupt,
        "-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let bad_cert = start_with(&corrupt, &key);
    assert!(
        bad_cert.contains(&format!("cannot use the certificate {}", corrupt.display()))
            && !bad_cert.contains("private key"),
        "{bad_cert}"
    );

    let bad_key = start_with(&cert, &corrupt);
    assert!(
        bad_key.contains(&format!("cannot use the private key {}", corrupt.display())),
        "{bad_key}"
    );
}

#[tokio::test]
async fn a_second_binspector_on_the_same_data_dir_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = RunningBinary::start(&data, &[]);
    let second = failed_start(&[
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(
        second.contains("in use by another binspector")
            && second.contains(&format!("process {}", first.child.id())),
        "{second}"
    );
    // The first goes on serving, and captures are stored.
    let client = client();
    let bin = first.bin_id(&client).await;
    let stored = client
        .post(format!("{}/{bin}", first.base))
        .body("still mine")
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);
    assert_eq!(all_requests(&client, &first.base, &bin).await.len(), 1);
}

#[tokio::test]
async fn repeat_deliveries_are_named_across_a_restart_and_within_one_batch() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = RunningBinary::start(&data, &[]);
    let client = client();
    let bin = create_bin(&client, &server.base).await;
    let bin_id = bin["id"].as_str().unwrap().to_owned();
    let send = |base: String, body: Value| {
        let client = client.clone();
        let url = format!("{base}/{bin_id}");
        async move { capture_json(&client, &url, &body).await }
    };
    let first = kaizala_event("TextMessageCreated", "evt-kept", json!({"text": "hello"}));
    let deleted = kaizala_event("JobCreated", "evt-deleted", json!({"title": "gone"}));
    let first_id = send(server.base.clone(), first.clone()).await;
    let deleted_id = send(server.base.clone(), deleted.clone()).await;
    for n in 0..10 {
        let other = kaizala_event("TextMessageCreated", &format!("evt-{n}"), json!({}));
        send(server.base.clone(), other).await;
    }
    // Twenty deliveries of one event at once land in the same few batches: one is the first,
    // and every other names it.
    let together = kaizala_event("MemberAdded", "evt-together", json!({"member": "+1555"}));
    let ids = futures_util::future::join_all(
        (0..20).map(|_| send(server.base.clone(), together.clone())),
    )
    .await;
    let deleting = client
        .delete(format!(
            "{}/api/v1/bins/{bin_id}/requests/{deleted_id}",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(deleting.status(), 200);
    server.signal("TERM");
    assert_eq!(server.wait().code(), Some(0));

    // After the restart the writer reads the bin's recent event keys back from the index.
    let restarted = RunningBinary::start(&data, &[]);
    let again = send(restarted.base.clone(), first).await;
    let redelivered = send(restarted.base.clone(), deleted).await;
    let requests = all_requests(&client, &restarted.base, &bin_id).await;
    let by_id = |id: &str| {
        requests
            .iter()
            .find(|request| request["id"] == id)
            .unwrap_or_else(|| panic!("request {id} listed"))["kaizala"]
            .clone()
    };
    assert_eq!(by_id(&again)["duplicate_of"], first_id.as_str());
    assert_eq!(by_id(&again)["duplicate_identical"], true);
    // Its first delivery was deleted: nothing stored is named.
    assert_eq!(by_id(&redelivered)["duplicate_of"], Value::Null);
    let mut firsts: Vec<&String> = ids
        .iter()
        .filter(|id| by_id(id)["duplicate_of"].is_null())
        .collect();
    assert_eq!(firsts.len(), 1, "one first delivery among {ids:?}");
    let first_together = firsts.pop().unwrap();
    let lowest = ids
        .iter()
        .map(|id| id.parse::<i64>().unwrap())
        .min()
        .unwrap();
    assert_eq!(first_together, &lowest.to_string());
    for id in ids.iter().filter(|id| *id != first_together) {
        assert_eq!(by_id(id)["duplicate_of"], first_together.as_str(), "{id}");
        assert_eq!(by_id(id)["duplicate_identical"], true);
    }
}
