//! Health that tells the truth: when the database file is gone or writes fail, `/healthz`
//! says so with the reason, and no capture is answered 2xx for data that did not land.
// Helpers here are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{client, RunningBinary};

async fn status_and_text(client: &reqwest::Client, url: String) -> (u16, String) {
    let response = client.get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn once_the_data_dir_is_removed_health_fails_and_captures_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = RunningBinary::start(&data, &[]);
    let client = client();
    let bin = server.bin_id(&client).await;
    let before = client
        .post(format!("{}/{bin}", server.base))
        .body("kept")
        .send()
        .await
        .unwrap();
    assert_eq!(before.status(), 200);
    assert_eq!(
        status_and_text(&client, format!("{}/healthz", server.base))
            .await
            .0,
        200
    );

    std::fs::remove_dir_all(&data).unwrap();

    let after = client
        .post(format!("{}/{bin}", server.base))
        .body("would be lost")
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 503, "no 2xx for data that cannot land");
    assert!(after.headers().contains_key("retry-after"));
    let (status, text) = status_and_text(&client, format!("{}/healthz", server.base)).await;
    assert_eq!(status, 503);
    assert!(text.contains("was removed"), "{text}");
}

#[tokio::test]
async fn on_a_full_disk_health_fails_and_no_failed_capture_is_answered_2xx() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Files may not grow past 2 MiB: the database soon cannot take more.
    let server = RunningBinary::start_with_file_limit(&data, 2_048, &[]);
    let client = client();
    let bin = server.bin_id(&client).await;
    let body = vec![b'z'; 256 * 1024];
    let mut acknowledged = 0;
    let mut refused = None;
    for _ in 0..40 {
        let response = client
            .post(format!("{}/{bin}", server.base))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => acknowledged += 1,
            status => {
                refused = Some(status);
                break;
            }
        }
    }
    let refused = refused.expect("the disk filled up");
    assert!(
        refused >= 500,
        "a failed write is a server error, got {refused}"
    );
    assert!(
        acknowledged > 0,
        "captures were stored before the disk filled"
    );

    let (status, text) = status_and_text(&client, format!("{}/healthz", server.base)).await;
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("write failed"), "{text}");

    // Every capture answered 200 is there.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let listed = common::all_requests(&client, &server.base, &bin).await;
    assert_eq!(listed.len(), acknowledged);
}
