//! Integration tests of capture and the JSON API against the real app, each with its own database.

mod common;

use base64::Engine as _;
use common::{kaizala_event, spawn_app, spawn_app_with};
use serde_json::{json, Value};

#[actix_web::test]
async fn a_new_bin_has_urls_and_no_requests() {
    let app = spawn_app().await;
    let bin = app.create_bin().await;
    let id = bin["id"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(bin["capture_url"], format!("{}/{id}", app.base));
    assert_eq!(bin["inspect_url"], format!("{}/inspect/{id}", app.base));
    assert!(bin["created_at"].as_str().unwrap().ends_with('Z'));

    let fetched = app.get_json(&format!("/api/v1/bins/{id}")).await;
    assert_eq!(fetched["request_count"], 0);
    assert_eq!(fetched["id"], id);
}

#[actix_web::test]
async fn every_method_path_query_and_header_is_captured() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
        let response = app
            .client
            .request(
                method.parse().unwrap(),
                format!("{}/{bin}/hooks/kaizala?a=1&a=2&b=%20x", app.base),
            )
            .header("x-repeated", "one")
            .header("x-repeated", "two")
            .header("X-Mixed-Case", "Value")
            .body(format!("body of {method}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{method}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["stored"], true);
        assert!(answer["id"].as_str().is_some());
    }

    let requests = app.all_requests(&bin).await;
    let methods: Vec<_> = requests
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        ["OPTIONS", "DELETE", "PATCH", "PUT", "POST", "GET"],
        "newest first"
    );
    let post = &requests[4];
    assert_eq!(post["path"], "/hooks/kaizala");
    assert_eq!(post["query"], "a=1&a=2&b=%20x");
    assert_eq!(post["body_text"], "body of POST");
    assert_eq!(post["remote_addr"], "127.0.0.1");
    assert_eq!(post["outcome"], "stored");
    let headers = post["headers"].as_array().unwrap();
    let repeated: Vec<_> = headers
        .iter()
        .filter(|pair| pair[0] == "x-repeated")
        .map(|pair| pair[1].as_str().unwrap())
        .collect();
    assert_eq!(repeated, ["one", "two"]);
    assert!(headers
        .iter()
        .any(|pair| pair[0] == "x-mixed-case" && pair[1] == "Value"));
    assert_eq!(
        app.get_json(&format!("/api/v1/bins/{bin}")).await["request_count"],
        6
    );
}

#[actix_web::test]
async fn unknown_and_malformed_bins_are_404_and_store_nothing() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    for path in [
        "/6f1f7a52-1d0c-4d7e-9b7e-0c3f5a1e2d3c",
        "/6F1F7A52-1D0C-4D7E-9B7E-0C3F5A1E2D3C",
        "/not-a-bin/at/all",
        &format!("/{}", bin.to_uppercase()),
    ] {
        let response = app
            .client
            .post(format!("{}{path}", app.base))
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let error: Value = response.json().await.unwrap();
        assert!(error["error"].as_str().unwrap().contains("bin"));
    }
    assert!(app.all_requests(&bin).await.is_empty());
    assert_eq!(app.store.total_requests().await.unwrap(), 0);
}

#[actix_web::test]
async fn validation_token_is_echoed_as_plain_text_and_recorded() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    for method in ["GET", "POST"] {
        let response = app
            .client
            .request(
                method.parse().unwrap(),
                format!("{}/{bin}?validationToken=Zx%2B9%20token&other=1", app.base),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"));
        assert_eq!(response.text().await.unwrap(), "Zx+9 token");
    }
    let requests = app.all_requests(&bin).await;
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r["outcome"] == "handshake"));
}

#[actix_web::test]
async fn kaizala_events_are_recognised_and_duplicates_linked() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let event = kaizala_event("TextMessageCreated", "evt-1", json!({"text": "hello"}));
    let mut ids = Vec::new();
    for _ in 0..2 {
        let answer: Value = app
            .client
            .post(format!("{}/{bin}", app.base))
            .header("kz-callback-token", "secret-token")
            .json(&event)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(answer["id"].as_str().unwrap().to_owned());
    }
    app.client
        .post(format!("{}/{bin}", app.base))
        .json(&json!({"hello": "not kaizala"}))
        .send()
        .await
        .unwrap();
    // The same eventId with another event type, or in another group, is another event; the
    // same event redelivered with another body is a duplicate that says so.
    let other_type = kaizala_event("MemberAdded", "evt-1", json!({"member": "+15550101"}));
    let mut other_group = event.clone();
    other_group["objectId"] = json!("another-group");
    let changed = kaizala_event("TextMessageCreated", "evt-1", json!({"text": "edited"}));
    for body in [&other_type, &other_group, &changed] {
        let answer = app
            .client
            .post(format!("{}/{bin}", app.base))
            .json(body)
            .send();
        assert_eq!(answer.await.unwrap().status(), 200);
    }

    let requests = app.all_requests(&bin).await;
    assert_eq!(requests[0]["kaizala"]["duplicate_of"], ids[0].as_str());
    assert_eq!(requests[0]["kaizala"]["duplicate_identical"], false);
    for different in &requests[1..3] {
        assert_eq!(different["kaizala"]["event_id"], "evt-1");
        assert_eq!(
            different["kaizala"]["duplicate_of"],
            Value::Null,
            "{different}"
        );
        assert_eq!(different["kaizala"]["duplicate_identical"], Value::Null);
    }
    let page = app
        .get(&format!("/inspect/{bin}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!(
        "duplicate delivery of #{}, identical body",
        ids[0]
    )));
    assert!(page.contains(&format!(
        "duplicate delivery of #{}, different body",
        ids[0]
    )));
    let requests = &requests[3..];
    assert_eq!(requests[0]["kaizala"], Value::Null);
    let second = &requests[1]["kaizala"];
    assert_eq!(second["event_type"], "TextMessageCreated");
    assert_eq!(second["event_id"], "evt-1");
    assert_eq!(second["object_type"], "Group");
    assert_eq!(second["object_id"], "5b7c0a3e-group");
    assert_eq!(second["duplicate_of"], ids[0].as_str());
    assert_eq!(second["duplicate_identical"], true);
    assert_eq!(requests[2]["kaizala"]["duplicate_of"], Value::Null);
    assert!(requests[2]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|pair| pair[0] == "kz-callback-token" && pair[1] == "secret-token"));
}

#[actix_web::test]
async fn listing_pages_newest_first_and_filters_by_event_type() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    for n in 0..7 {
        let event_type = if n % 2 == 0 {
            "SurveyResponse"
        } else {
            "MemberAdded"
        };
        app.client
            .post(format!("{}/{bin}", app.base))
            .json(&kaizala_event(event_type, &format!("e{n}"), json!({})))
            .send()
            .await
            .unwrap();
    }
    let first = app
        .get_json(&format!("/api/v1/bins/{bin}/requests?limit=3"))
        .await;
    let ids: Vec<i64> = first["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] > w[1]));
    let next = first["next_before"].as_str().unwrap();
    assert_eq!(next, ids[2].to_string());
    let second = app
        .get_json(&format!(
            "/api/v1/bins/{bin}/requests?limit=3&before={next}"
        ))
        .await;
    let third = app
        .get_json(&format!(
            "/api/v1/bins/{bin}/requests?limit=3&before={}",
            second["next_before"].as_str().unwrap()
        ))
        .await;
    assert_eq!(third["requests"].as_array().unwrap().len(), 1);
    assert_eq!(third["next_before"], Value::Null);

    let surveys = app
        .get_json(&format!("/api/v1/bins/{bin}/requests?event=SurveyResponse"))
        .await;
    let surveys = surveys["requests"].as_array().unwrap();
    assert_eq!(surveys.len(), 4);
    assert!(surveys
        .iter()
        .all(|r| r["kaizala"]["event_type"] == "SurveyResponse"));

    for bad in ["limit=0", "limit=abc", "limit=100000", "before=xyz"] {
        let response = app.get(&format!("/api/v1/bins/{bin}/requests?{bad}")).await;
        assert_eq!(response.status(), 400, "{bad}");
        let error: Value = response.json().await.unwrap();
        assert!(!error["error"].as_str().unwrap().is_empty());
    }
}

#[actix_web::test]
async fn binary_bodies_round_trip_byte_for_byte() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let body: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let answer: Value = app
        .client
        .put(format!("{}/{bin}/upload", app.base))
        .header("content-type", "application/octet-stream")
        .body(body.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = answer["id"].as_str().unwrap();

    let request = app
        .get_json(&format!("/api/v1/bins/{bin}/requests/{id}"))
        .await;
    assert_eq!(request["body_size"], 512);
    assert_eq!(request["body_text"], Value::Null);
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(request["body_base64"].as_str().unwrap())
        .unwrap();
    assert_eq!(decoded, body);

    let raw = app
        .get(&format!("/api/v1/bins/{bin}/requests/{id}/raw"))
        .await;
    assert_eq!(raw.status(), 200);
    assert_eq!(raw.headers()["x-content-type-options"], "nosniff");
    assert_eq!(raw.headers()["content-security-policy"], "sandbox");
    assert_eq!(raw.bytes().await.unwrap().as_ref(), body.as_slice());
}

#[actix_web::test]
async fn oversized_bodies_get_413_are_recorded_without_body_and_the_server_keeps_serving() {
    let app = spawn_app_with(&["--max-body-bytes", "1KiB"]).await;
    let bin = app.bin_id().await;

    let response = app.post(&format!("/{bin}"), vec![b'x'; 5_000]).await;
    assert_eq!(response.status(), 413);
    assert!(response.text().await.unwrap().contains("too large"));

    // A chunked body declares no length; it is cut off as soon as it passes the limit.
    let chunks = futures_util::stream::iter(
        (0..8).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'y'; 512]))),
    );
    let response = app
        .post(
            &format!("/{bin}/chunked"),
            reqwest::Body::wrap_stream(chunks),
        )
        .await;
    assert_eq!(response.status(), 413);

    let fits = app.post(&format!("/{bin}"), vec![b'z'; 1024]).await;
    assert_eq!(fits.status(), 200);

    let requests = app.all_requests(&bin).await;
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0]["outcome"], "stored");
    assert_eq!(requests[0]["body_size"], 1024);
    assert_eq!(requests[2]["outcome"], "rejected");
    assert_eq!(requests[2]["body_size"], 5_000);
    assert_eq!(requests[2]["body_base64"], "");
    assert_eq!(requests[1]["outcome"], "rejected");
    assert_eq!(requests[1]["path"], "/chunked");
}

#[actix_web::test]
async fn deleting_a_request_clearing_and_deleting_a_bin() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let answer: Value = app
            .client
            .post(format!("{}/{bin}", app.base))
            .json(&kaizala_event(
                "JobCreated",
                &format!("j{n}"),
                json!({"title": "t"}),
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(answer["id"].as_str().unwrap().to_owned());
    }
    let one = format!("{}/api/v1/bins/{bin}/requests/{}", app.base, ids[1]);
    let deleted: Value = app
        .client
        .delete(&one)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(deleted["deleted"], 1);
    assert_eq!(app.client.get(&one).send().await.unwrap().status(), 404);
    assert_eq!(app.client.delete(&one).send().await.unwrap().status(), 404);
    assert_eq!(
        app.get_json(&format!("/api/v1/bins/{bin}")).await["request_count"],
        2
    );

    let cleared: Value = app
        .delete(&format!("/api/v1/bins/{bin}/requests"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["deleted"], 2);
    assert_eq!(
        app.get_json(&format!("/api/v1/bins/{bin}")).await["request_count"],
        0
    );

    let gone = app.delete(&format!("/api/v1/bins/{bin}")).await;
    assert_eq!(gone.status(), 200);
    let after = app.get(&format!("/api/v1/bins/{bin}")).await;
    assert_eq!(after.status(), 404);
    let capture = app.post(&format!("/{bin}"), "late").await;
    assert_eq!(capture.status(), 404);
}

#[actix_web::test]
async fn health_inspect_redirect_and_plain_http_listener() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);

    let redirect = app.get(&format!("/{bin}?inspect")).await;
    assert_eq!(redirect.status(), 303);
    assert_eq!(redirect.headers()["location"], format!("/inspect/{bin}"));
    assert!(
        app.all_requests(&bin).await.is_empty(),
        "?inspect is not a capture"
    );

    let over_http = app
        .client
        .post(format!("{}/{bin}", app.http_base))
        .body("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(over_http.status(), 200);
    assert_eq!(app.all_requests(&bin).await.len(), 1);

    let missing = app.get("/api/v1/nothing").await;
    assert_eq!(missing.status(), 404);
}
