//! `binspector send-sample` against the real binary over HTTPS: samples are stored and
//! recognised, a repeated delivery is marked as a duplicate, and mistakes read as one sentence.

mod common;

use std::{
    collections::HashSet,
    path::Path,
    process::{Command, Output},
};

use binspector::kaizala::EventType;
use common::{all_requests, binary, client, create_bin, RunningBinary};
use serde_json::Value;

/// Runs `binspector send-sample` with `args` and waits for it.
fn send_sample(args: &[&str]) -> Output {
    Command::new(binary())
        .arg("send-sample")
        .args(args)
        .env_remove("BINSPECTOR_SAMPLE_TOKEN")
        .output()
        .expect("send-sample runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A server with its own data directory, and a bin's id and capture URL on it.
async fn server_and_bin(dir: &Path) -> (RunningBinary, String, String) {
    let server = RunningBinary::start(&dir.join("data"), &[]);
    let bin = create_bin(&client(), &server.base).await;
    let id = bin["id"].as_str().expect("id").to_owned();
    let capture_url = bin["capture_url"].as_str().expect("capture url").to_owned();
    (server, id, capture_url)
}

/// The eventId a printed line names.
fn event_id_of(line: &str) -> &str {
    line.split_whitespace()
        .skip_while(|word| *word != "eventId")
        .nth(1)
        .unwrap_or_else(|| panic!("no eventId in {line:?}"))
}

#[tokio::test]
async fn twice_stores_the_second_delivery_as_a_duplicate_of_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let (server, bin, capture_url) = server_and_bin(dir.path()).await;

    let output = send_sample(&[
        "--to",
        &capture_url,
        "--event",
        "TextMessageCreated",
        "--twice",
        "--insecure",
    ]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for line in &lines {
        assert!(line.starts_with("TextMessageCreated "), "{line}");
        assert!(line.contains(" 200 OK"), "{line}");
    }
    assert!(!lines[0].contains("duplicate") && lines[1].contains("duplicate"));
    let event_id = event_id_of(lines[0]);
    assert_eq!(event_id_of(lines[1]), event_id);

    // Newest first.
    let requests = all_requests(&client(), &server.base, &bin).await;
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request["method"], "POST");
        assert_eq!(request["content_type"], "application/json");
        assert_eq!(request["kaizala"]["event_type"], "TextMessageCreated");
        assert_eq!(request["kaizala"]["event_id"], event_id);
        let headers = request["headers"].as_array().unwrap();
        assert!(!headers.iter().any(|pair| pair[0] == "kz-callback-token"));
        let body: Value = serde_json::from_str(request["body_text"].as_str().unwrap()).unwrap();
        assert!(body.get("context").is_none());
    }
    let (second, first) = (&requests[0], &requests[1]);
    assert_eq!(first["kaizala"]["duplicate_of"], Value::Null);
    assert_eq!(second["kaizala"]["duplicate_of"], first["id"]);
    assert_eq!(first["body_text"], second["body_text"]);
}

#[tokio::test]
async fn all_sends_one_of_each_of_the_13_types_with_the_token_and_context() {
    let dir = tempfile::tempdir().unwrap();
    let (server, bin, capture_url) = server_and_bin(dir.path()).await;

    let output = send_sample(&[
        "--to",
        &capture_url,
        "--event",
        "all",
        "--token",
        "sample-token-42",
        "--context",
        "sent by the tests",
        "--insecure",
    ]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", text(&output.stderr));
    assert_eq!(stdout.lines().count(), 13, "{stdout}");
    let printed: HashSet<&str> = stdout.lines().map(event_id_of).collect();
    assert_eq!(printed.len(), 13, "{stdout}");

    let requests = all_requests(&client(), &server.base, &bin).await;
    assert_eq!(requests.len(), 13);
    let types: HashSet<&str> = requests
        .iter()
        .map(|request| {
            request["kaizala"]["event_type"]
                .as_str()
                .expect("a Kaizala event")
        })
        .collect();
    let expected: HashSet<&str> = EventType::ALL.iter().map(|kind| kind.name()).collect();
    assert_eq!(types, expected);
    for request in &requests {
        assert_eq!(request["kaizala"]["duplicate_of"], Value::Null);
        assert!(printed.contains(request["kaizala"]["event_id"].as_str().unwrap()));
        let headers = request["headers"].as_array().unwrap();
        assert!(
            headers
                .iter()
                .any(|pair| pair[0] == "kz-callback-token" && pair[1] == "sample-token-42"),
            "{headers:?}"
        );
        let body: Value = serde_json::from_str(request["body_text"].as_str().unwrap()).unwrap();
        assert_eq!(body["context"], "sent by the tests");
    }
}

#[test]
fn an_unknown_event_type_fails_naming_the_valid_ones() {
    let output = send_sample(&["--to", "https://127.0.0.1:1/bin", "--event", "ChatCreated"]);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("ChatCreated"), "{stderr}");
    for kind in EventType::ALL {
        assert!(stderr.contains(kind.name()), "{stderr}");
    }
}

#[test]
fn a_url_that_is_not_http_fails_before_sending() {
    let output = send_sample(&["--to", "bins.example.com/abc", "--event", "all"]);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("is not an http:// or https:// URL"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_self_signed_certificate_is_refused_without_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let (server, bin, capture_url) = server_and_bin(dir.path()).await;

    let output = send_sample(&["--to", &capture_url, "--event", "MemberAdded"]);
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("certificate"), "{stderr}");
    assert!(stderr.contains("--insecure"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(all_requests(&client(), &server.base, &bin).await.is_empty());
}

#[tokio::test]
async fn an_answer_other_than_2xx_is_printed_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _bin, _capture_url) = server_and_bin(dir.path()).await;
    // A well-formed bin id that no bin has: 404, and nothing stored.
    let unknown = format!("{}/{}", server.base, uuid::Uuid::new_v4());

    let output = send_sample(&["--to", &unknown, "--event", "JobCreated", "--insecure"]);
    assert!(!output.status.success());
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with("JobCreated ") && stdout.contains(" 404 Not Found"),
        "{stdout}"
    );
    assert!(text(&output.stderr).contains("not every request was answered 2xx"));
}
