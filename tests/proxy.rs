//! Behind a proxy (`--trust-proxy`): only a trusted peer's `X-Forwarded-*`/`Forwarded` set the
//! client address, scheme and host; anyone else's change nothing, and every header is still
//! stored as received.
#![allow(clippy::unwrap_used)]

mod common;

use common::{client, client_from, spawn_app_with};
use serde_json::Value;

/// Sends a capture and a bin lookup from `client` with forged forwarding headers; returns the
/// stored request and the capture URL the API showed.
async fn forged_exchange(client: &reqwest::Client, base: &str, bin: &str) -> (Value, String) {
    let forge = |request: reqwest::RequestBuilder| {
        request
            .header("X-Forwarded-For", "6.6.6.6, 198.51.100.7")
            .header("X-Forwarded-Proto", "https")
            .header("X-Forwarded-Host", "bins.example.com")
    };
    let answer = forge(client.post(format!("{base}/{bin}/hook")))
        .body("through a proxy")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let shown: Value = forge(client.get(format!("{base}/api/v1/bins/{bin}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page = forge(client.get(format!("{base}/inspect/{bin}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let capture_url = shown["capture_url"].as_str().unwrap().to_owned();
    assert!(page.contains(&capture_url), "the page shows the same URL");
    let stored = common::all_requests(client, base, bin).await;
    (stored[0].clone(), capture_url)
}

#[actix_web::test]
async fn only_a_trusted_proxy_sets_the_client_address_scheme_and_host() {
    // The proxy is 127.0.0.2; 127.0.0.1 plays a stranger who reaches the listener directly.
    let app = spawn_app_with(&["--trust-proxy", "127.0.0.2/32,10.0.0.0/8"]).await;
    let proxy = client_from([127, 0, 0, 2]);
    let stranger = client();

    let bin = app.bin_id().await;
    let (stored, url) = forged_exchange(&proxy, &app.http_base, &bin).await;
    assert_eq!(
        stored["remote_addr"], "198.51.100.7",
        "the rightmost untrusted hop"
    );
    assert_eq!(url, format!("https://bins.example.com/{bin}"));
    let headers = stored["headers"].as_array().unwrap();
    let forwarded_for = headers.iter().find(|h| h[0] == "x-forwarded-for").unwrap();
    assert_eq!(
        forwarded_for[1], "6.6.6.6, 198.51.100.7",
        "kept as received"
    );

    let bin = app.bin_id().await;
    let (stored, url) = forged_exchange(&stranger, &app.http_base, &bin).await;
    assert_eq!(
        stored["remote_addr"], "127.0.0.1",
        "a stranger's forged hops are ignored"
    );
    assert_eq!(
        url,
        format!("{}/{bin}", app.http_base),
        "nor its scheme and host"
    );
    assert!(stored["headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h[0] == "x-forwarded-host" && h[1] == "bins.example.com"));
}
