//! The workbench against the real app: per-bin settings through the API and the form, custom
//! answers, failing on purpose, every handshake, what each request was answered, and the
//! Kaizala token and context checks.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{kaizala_event, spawn_app, TestApp};
use serde_json::{json, Value};

impl TestApp {
    async fn put_settings(&self, bin: &str, settings: &Value) -> reqwest::Response {
        self.client
            .put(format!("{}/api/v1/bins/{bin}/settings", self.base))
            .json(settings)
            .send()
            .await
            .unwrap()
    }

    async fn settings(&self, bin: &str) -> Value {
        self.get_json(&format!("/api/v1/bins/{bin}/settings")).await
    }

    /// POSTs a form, as a browser on the inspector's own pages does.
    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// POSTs a JSON body.
    async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A page's HTML.
    async fn page(&self, path: &str) -> String {
        self.get(path).await.text().await.unwrap()
    }

    async fn capture(&self, bin: &str) -> reqwest::Response {
        self.post(&format!("/{bin}"), "ping").await
    }
}

#[actix_web::test]
async fn settings_round_trip_with_defaults_and_a_random_callback_token() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let other = app.bin_id().await;
    let defaults = app.settings(&bin).await;
    assert_eq!(defaults["response"], Value::Null);
    assert_eq!(defaults["fail_next"], json!({"count": 0, "status": 500}));
    assert_eq!(
        defaults["handshakes"],
        json!({"validation_token": true, "slack": false, "meta": false,
               "meta_verify_token": null, "dropbox": false})
    );
    let token = defaults["kaizala"]["callback_token"].as_str().unwrap();
    assert_eq!(token.len(), 32);
    assert_ne!(
        app.settings(&other).await["kaizala"]["callback_token"],
        token,
        "each bin has its own token"
    );
    assert_eq!(defaults["kaizala"]["context"], Value::Null);

    let whole = json!({
        "response": {"status": 202, "headers": [["X-Kind", "test"], ["X-Kind", "again"]],
                     "body": "accepted", "delay_ms": 0},
        "fail_next": {"count": 0, "status": 503},
        "handshakes": {"validation_token": true, "slack": true, "meta": true,
                       "meta_verify_token": "mv", "dropbox": false},
        "kaizala": {"callback_token": token, "context": "ctx-1"}
    });
    let put = app.put_settings(&bin, &whole).await;
    assert_eq!(put.status(), 200);
    assert_eq!(put.json::<Value>().await.unwrap(), whole);
    assert_eq!(app.settings(&bin).await, whole);

    // A partial object: absent fields return to their defaults, the token stays.
    let put = app
        .put_settings(&bin, &json!({"kaizala": {"context": "ctx-2"}}))
        .await;
    assert_eq!(put.status(), 200);
    let now = app.settings(&bin).await;
    assert_eq!(now["response"], Value::Null);
    assert_eq!(now["handshakes"]["slack"], false);
    assert_eq!(
        now["kaizala"],
        json!({"callback_token": token, "context": "ctx-2"})
    );

    // Unknown bins are 404, like every other bin path.
    let missing = uuid::Uuid::new_v4();
    assert_eq!(
        app.get(&format!("/api/v1/bins/{missing}/settings"))
            .await
            .status(),
        404
    );
}

#[actix_web::test]
async fn every_invalid_setting_is_422_naming_its_field_and_changes_nothing() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let before = app.settings(&bin).await;
    let cases = [
        (json!({"response": {"status": 99}}), "response.status"),
        (json!({"response": {"status": 600}}), "response.status"),
        (
            json!({"response": {"status": 200, "delay_ms": 30001}}),
            "response.delay_ms",
        ),
        (
            json!({"response": {"status": 200, "headers": [["Bad Name", "x"]]}}),
            "response.headers[0]",
        ),
        (
            json!({"response": {"status": 200, "headers": [["X-Ok", "a"], ["X-Split", "a\r\nInjected: 1"]]}}),
            "response.headers[1]",
        ),
        (
            json!({"response": {"status": 200, "body": "x".repeat(64 * 1024 + 1)}}),
            "response.body",
        ),
        (
            json!({"fail_next": {"count": 1, "status": 1000}}),
            "fail_next.status",
        ),
        (
            json!({"fail_next": {"count": 1, "status": 103}}),
            "fail_next.status",
        ),
        (
            json!({"response": {"status": 200, "headers": [["NEL", "{\"report_to\":\"x\"}"]]}}),
            "response.headers[0]",
        ),
        (json!({"handshakes": {"slak": true}}), "handshakes.slak"),
    ];
    for (settings, field) in cases {
        let response = app.put_settings(&bin, &settings).await;
        assert_eq!(response.status(), 422, "{settings}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["field"], field, "{error}");
        assert!(
            error["error"].as_str().unwrap().starts_with(field),
            "{error}"
        );
    }
    assert_eq!(
        app.settings(&bin).await,
        before,
        "a refused PUT changed something"
    );
    // Exactly 64 KiB and 30 s are allowed.
    let edge =
        json!({"response": {"status": 599, "body": "x".repeat(64 * 1024), "delay_ms": 30000}});
    assert_eq!(app.put_settings(&bin, &edge).await.status(), 200);
    let restore = app.put_settings(&bin, &before).await;
    assert_eq!(restore.status(), 200);
    // Not JSON at all is a 400.
    let garbage = app
        .client
        .put(format!("{}/api/v1/bins/{bin}/settings", app.base))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
    assert_eq!(app.settings(&bin).await, before);
}

#[actix_web::test]
async fn a_custom_response_answers_the_next_capture_after_its_commit() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let settings = json!({"response": {"status": 418,
        "headers": [["Content-Type", "text/html"], ["X-Reply", "one"], ["X-Reply", "two"]],
        "body": "<script>alert(1)</script>", "delay_ms": 0}});
    assert_eq!(app.put_settings(&bin, &settings).await.status(), 200);
    let answer = app.capture(&bin).await;
    assert_eq!(answer.status(), 418);
    let headers = answer.headers().clone();
    let replies: Vec<_> = headers.get_all("x-reply").iter().collect();
    assert_eq!(replies, ["one", "two"]);
    assert_eq!(headers["content-type"], "text/html");
    // Served from the inspector's origin, so it is sandboxed: no script in it ever runs there.
    assert!(headers
        .get_all("content-security-policy")
        .iter()
        .any(|value| value == "sandbox"));
    assert_eq!(answer.text().await.unwrap(), "<script>alert(1)</script>");

    // The request was stored before it was answered, and records the answer.
    let requests = app.all_requests(&bin).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["body_text"], "ping");
    assert_eq!(requests[0]["response"]["status"], 418);

    // Back to the default.
    assert_eq!(app.put_settings(&bin, &json!({})).await.status(), 200);
    let answer = app.capture(&bin).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json::<Value>().await.unwrap()["stored"], true);

    // A bodiless error status is sent as configured, not as binspector's error page.
    let empty = json!({"response": {"status": 500}});
    assert_eq!(app.put_settings(&bin, &empty).await.status(), 200);
    let answer = app
        .client
        .post(format!("{}/{bin}", app.base))
        .header("accept", "text/html")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 500);
    assert_eq!(answer.text().await.unwrap(), "");
}

#[actix_web::test]
async fn a_delay_holds_its_answer_without_holding_other_captures() {
    let app = spawn_app().await;
    let slow = app.bin_id().await;
    let fast = app.bin_id().await;
    let settings = json!({"response": {"status": 200, "body": "late", "delay_ms": 1500}});
    assert_eq!(app.put_settings(&slow, &settings).await.status(), 200);

    let started = Instant::now();
    let slow_answer = {
        let app = &app;
        let slow = &slow;
        async move {
            let answer = app.capture(slow).await;
            (answer.status(), started.elapsed())
        }
    };
    let fast_answers = async {
        // Give the slow capture a head start, then capture elsewhere while it waits.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut times = Vec::new();
        for _ in 0..5 {
            let sent = Instant::now();
            assert_eq!(app.capture(&fast).await.status(), 200);
            times.push(sent.elapsed());
        }
        times
    };
    let ((status, slow_time), fast_times) = tokio::join!(slow_answer, fast_answers);
    assert_eq!(status, 200);
    assert!(slow_time >= Duration::from_millis(1500), "{slow_time:?}");
    for time in &fast_times {
        assert!(*time < Duration::from_millis(1000), "{fast_times:?}");
    }
    // The slow capture was stored at once, before its answer.
    let recorded = app.all_requests(&slow).await;
    assert_eq!(recorded.len(), 1);
    let latency = recorded[0]["response"]["latency_ms"].as_i64().unwrap();
    assert!((1500..5000).contains(&latency), "{latency}");
}

#[actix_web::test]
async fn fail_next_counts_down_and_then_the_default_answer_returns() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let settings = json!({"fail_next": {"count": 3, "status": 503}});
    assert_eq!(app.put_settings(&bin, &settings).await.status(), 200);
    // A handshake does not use a failure up.
    let handshake = app.get(&format!("/{bin}?validationToken=abc")).await;
    assert_eq!(handshake.status(), 200);
    for left in [2, 1, 0] {
        let answer = app.capture(&bin).await;
        assert_eq!(answer.status(), 503);
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["stored"], true);
        assert_eq!(body["failures_left"], left);
        assert_eq!(app.settings(&bin).await["fail_next"]["count"], left);
    }
    let answer = app.capture(&bin).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(
        app.settings(&bin).await["fail_next"],
        json!({"count": 0, "status": 503})
    );

    let statuses: Vec<_> = app
        .all_requests(&bin)
        .await
        .iter()
        .rev()
        .map(|request| request["response"]["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 503, 503, 503, 200]);

    // The inspect page says how many remain, and what Kaizala does with failures.
    let settings = json!({"fail_next": {"count": 2, "status": 500}});
    assert_eq!(app.put_settings(&bin, &settings).await.status(), 200);
    let page = app.page(&format!("/inspect/{bin}")).await;
    assert!(page.contains("The next 2 captures will be stored and answered <code>500</code>"));
    assert!(page.contains("6 times, with exponential backoff over 2 days"));
    assert!(page.contains("PUT {endpoint-url}/v1/webhook/{id}"));
}

#[actix_web::test]
async fn each_handshake_is_answered_byte_exact_and_captured_with_its_kind() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    // Off by default (but validationToken): each is then an ordinary capture.
    let slack =
        json!({"token": "t", "challenge": "3eZbrw1aBm2rZgRN+/=", "type": "url_verification"});
    let answer = app.post_json(&format!("/{bin}/slack"), &slack).await;
    assert_eq!(answer.json::<Value>().await.unwrap()["stored"], true);

    let on = json!({"handshakes": {"validation_token": true, "slack": true, "meta": true,
                                   "meta_verify_token": "verify-me", "dropbox": true}});
    assert_eq!(app.put_settings(&bin, &on).await.status(), 200);
    let text = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let plain = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain");
        (status, plain, response.bytes().await.unwrap().to_vec())
    };
    let slack_answer = app.post_json(&format!("/{bin}/slack"), &slack).await;
    assert_eq!(
        text(slack_answer).await,
        (200, true, b"3eZbrw1aBm2rZgRN+/=".to_vec())
    );
    let meta = app
        .get(&format!(
            "/{bin}/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=verify-me"
        ))
        .await;
    assert_eq!(text(meta).await, (200, true, b"1158201444".to_vec()));
    let meta_wrong = app
        .get(&format!(
            "/{bin}/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=guess"
        ))
        .await;
    assert_eq!(meta_wrong.status(), 403);
    let dropbox = app
        .get(&format!("/{bin}/dropbox?challenge=a%20b%2Bc"))
        .await;
    assert_eq!(text(dropbox).await, (200, true, b"a b+c".to_vec()));
    let graph = app
        .post(&format!("/{bin}?validationToken=Zx%2B9"), "")
        .await;
    assert_eq!(text(graph).await, (200, true, b"Zx+9".to_vec()));

    let requests = app.all_requests(&bin).await;
    let kinds: Vec<_> = requests
        .iter()
        .rev()
        .map(|r| {
            (
                r["outcome"].as_str().unwrap(),
                r["handshake"].as_str(),
                r["response"]["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("stored", None, 200),
            ("handshake", Some("slack"), 200),
            ("handshake", Some("meta"), 200),
            ("handshake", Some("meta"), 403),
            ("handshake", Some("dropbox"), 200),
            ("handshake", Some("validation_token"), 200),
        ]
    );
    let page = app.page(&format!("/inspect/{bin}")).await;
    for label in [
        "handshake: Slack url_verification",
        "handshake: Meta hub.challenge",
        "handshake: Dropbox challenge",
        "handshake: Kaizala / Graph validationToken",
    ] {
        assert!(page.contains(label), "{label}");
    }

    // validationToken switched off: an ordinary capture, answered as one.
    let off = json!({"handshakes": {"validation_token": false}});
    assert_eq!(app.put_settings(&bin, &off).await.status(), 200);
    let graph = app.post(&format!("/{bin}?validationToken=Zx"), "").await;
    assert_eq!(graph.json::<Value>().await.unwrap()["stored"], true);
}

#[actix_web::test]
async fn kaizala_requests_are_checked_against_the_bins_token_and_context() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let token = app.settings(&bin).await["kaizala"]["callback_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let with_context =
        json!({"kaizala": {"callback_token": token, "context": "registered-from-tests"}});
    assert_eq!(app.put_settings(&bin, &with_context).await.status(), 200);
    let send = |header: Option<&'static str>, event: Value| {
        let mut request = app.client.post(format!("{}/{bin}", app.base)).json(&event);
        if let Some(header) = header {
            request = request.header("kz-callback-token", header);
        }
        request.send()
    };
    let event = kaizala_event("TextMessageCreated", "e-1", json!({"text": "hi"}));
    let leaked: &'static str = Box::leak(token.clone().into_boxed_str());
    send(Some(leaked), event.clone()).await.unwrap();
    send(Some("not-the-token"), event.clone()).await.unwrap();
    send(None, event.clone()).await.unwrap();
    let mut other_context = event.clone();
    other_context["context"] = json!("someone-else");
    send(Some(leaked), other_context).await.unwrap();
    app.post(&format!("/{bin}"), "not kaizala").await;

    let checks: Vec<_> = app
        .all_requests(&bin)
        .await
        .iter()
        .rev()
        .map(|r| {
            (
                r["kaizala"]["token"].clone(),
                r["kaizala"]["context_ok"].clone(),
            )
        })
        .collect();
    assert_eq!(
        checks,
        [
            (json!("ok"), json!(true)),
            (json!("mismatch"), json!(true)),
            (json!("missing"), json!(true)),
            (json!("ok"), json!(false)),
            (Value::Null, Value::Null),
        ]
    );
    let page = app.page(&format!("/inspect/{bin}")).await;
    for badge in [
        "token ok",
        "token mismatch",
        "token missing",
        "context ok",
        "context mismatch",
    ] {
        assert!(page.contains(badge), "{badge}");
    }
    // The registration helper carries the bin's token and context.
    assert!(page.contains(&token));
    assert!(page.contains("registered-from-tests"));

    // Without a token or context set, neither is checked.
    let none = json!({"kaizala": {"callback_token": null}});
    assert_eq!(app.put_settings(&bin, &none).await.status(), 200);
    send(Some(leaked), event).await.unwrap();
    let newest = &app.all_requests(&bin).await[0];
    assert_eq!(newest["kaizala"]["token"], Value::Null);
    assert_eq!(newest["kaizala"]["context_ok"], Value::Null);
}

#[actix_web::test]
async fn the_settings_form_saves_without_javascript_and_names_a_bad_field() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let form = [
        ("response", "custom"),
        ("status", "201"),
        ("headers", "X-From: form\r\nContent-Type: text/plain"),
        ("body", "made\r\nby form"),
        ("delay_ms", "0"),
        ("fail_count", "0"),
        ("fail_status", "500"),
        ("validation_token", "on"),
        ("dropbox", "on"),
        ("meta_verify_token", ""),
        ("callback_token", "form-token"),
        ("context", "form-context"),
    ];
    let saved = app
        .post_form(&format!("/inspect/{bin}/settings"), &form)
        .await;
    assert_eq!(saved.status(), 303);
    assert_eq!(saved.headers()["location"], format!("/inspect/{bin}?saved"));
    let settings = app.settings(&bin).await;
    assert_eq!(
        settings["response"],
        json!({"status": 201, "headers": [["X-From", "form"], ["Content-Type", "text/plain"]],
               "body": "made\nby form", "delay_ms": 0})
    );
    assert_eq!(settings["handshakes"]["dropbox"], true);
    assert_eq!(settings["handshakes"]["slack"], false);
    assert_eq!(settings["kaizala"]["callback_token"], "form-token");
    let answer = app.capture(&bin).await;
    assert_eq!(answer.status(), 201);
    assert_eq!(answer.text().await.unwrap(), "made\nby form");

    let mut bad = form;
    bad[1] = ("status", "700");
    let refused = app
        .post_form(&format!("/inspect/{bin}/settings"), &bad)
        .await;
    assert_eq!(refused.status(), 422);
    let page = refused.text().await.unwrap();
    assert!(
        page.contains("response.status: 700 is not an HTTP status"),
        "{page}"
    );
    // The form comes back as it was sent, to be corrected.
    assert!(page.contains(r#"value="700""#));
    assert_eq!(app.settings(&bin).await["response"]["status"], 201);

    // From another site, it is refused.
    let cross = app
        .client
        .post(format!("{}/inspect/{bin}/settings", app.base))
        .header("origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
}

#[actix_web::test]
async fn the_sample_menu_sends_every_type_through_the_capture_url_with_the_bins_token() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let context = json!({"kaizala": {"context": "from-the-menu"}});
    assert_eq!(app.put_settings(&bin, &context).await.status(), 200);
    let sent = app
        .post_form(
            &format!("/inspect/{bin}/samples"),
            &[("event", "all"), ("twice", "on")],
        )
        .await;
    assert_eq!(sent.status(), 303);
    assert_eq!(
        sent.headers()["location"],
        format!("/inspect/{bin}?sent=26&not_2xx=0")
    );
    let page = app.page(&format!("/inspect/{bin}?sent=26&not_2xx=0")).await;
    assert!(page.contains("Sent 26 sample events to the capture URL; each was answered 2xx."));
    // The page's shell line carries the bin's token and context.
    let token = app.settings(&bin).await["kaizala"]["callback_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        page.contains(&format!(
            "binspector send-sample --to &#39;{}/{bin}&#39; --event all --token &#39;{token}&#39; \
         --context &#39;from-the-menu&#39; --insecure",
            app.base
        )),
        "{page}"
    );

    let requests = app.all_requests(&bin).await;
    assert_eq!(requests.len(), 26);
    let mut types: Vec<_> = requests
        .iter()
        .map(|r| r["kaizala"]["event_type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    types.dedup();
    assert_eq!(types.len(), 13);
    for request in &requests {
        let kaizala = &request["kaizala"];
        assert_eq!(kaizala["token"], "ok", "{request}");
        assert_eq!(kaizala["context_ok"], true, "{request}");
        assert_eq!(request["response"]["status"], 200);
        assert_eq!(request["remote_addr"], "127.0.0.1");
    }
    // Each second delivery is a duplicate of the first, with the identical body; event ids
    // are fresh for every type.
    let duplicates: Vec<_> = requests
        .iter()
        .filter(|r| !r["kaizala"]["duplicate_of"].is_null())
        .collect();
    assert_eq!(duplicates.len(), 13);
    assert!(duplicates
        .iter()
        .all(|r| r["kaizala"]["duplicate_identical"] == true));
    let mut ids: Vec<_> = requests
        .iter()
        .map(|r| r["kaizala"]["event_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 13);

    // One type, once.
    let one = app
        .post_form(
            &format!("/inspect/{bin}/samples"),
            &[("event", "SurveyResponse")],
        )
        .await;
    assert_eq!(one.status(), 303);
    let newest = &app.all_requests(&bin).await[0];
    assert_eq!(newest["kaizala"]["event_type"], "SurveyResponse");
    assert!(newest["kaizala"]["duplicate_of"].is_null());

    // An unknown type is refused, and the menu is on the page with all 13.
    let bogus = app
        .post_form(
            &format!("/inspect/{bin}/samples"),
            &[("event", "ChatCreated")],
        )
        .await;
    assert_eq!(bogus.status(), 400);
    assert_eq!(app.all_requests(&bin).await.len(), 27);
    let page = app.page(&format!("/inspect/{bin}")).await;
    assert_eq!(page.matches("<option value=\"").count(), 14);
}

#[actix_web::test]
async fn samples_to_a_bin_with_a_delay_go_out_side_by_side() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let slow = json!({"response": {"status": 202, "delay_ms": 1500}});
    assert_eq!(app.put_settings(&bin, &slow).await.status(), 200);
    let started = Instant::now();
    let sent = app
        .post_form(&format!("/inspect/{bin}/samples"), &[("event", "all")])
        .await;
    let took = started.elapsed();
    assert_eq!(sent.status(), 303);
    // One after another, the 13 would take 19.5 s.
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(8),
        "{took:?}"
    );
    let requests = app.all_requests(&bin).await;
    assert_eq!(requests.len(), 13);
    assert!(requests.iter().all(|r| r["response"]["status"] == 202));
}
