//! Integration tests of the HTML inspector: the pages a person sees, their forms, and their
//! defences against hostile captured content.
// Helpers here are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{kaizala_event, spawn_app, spawn_app_with, TestApp};
use serde_json::json;

/// GET a page as a browser would (asking for HTML), returning status and body.
async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let response = app
        .client
        .get(format!("{}{path}", app.base))
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// Text as askama's autoescape writes it into a page.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// POST a form from binspector's own origin, returning the response.
async fn own_form(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .post(format!("{}{path}", app.base))
        .header("origin", app.base.as_str())
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap()
}

async fn post_json(app: &TestApp, bin: &str, body: &serde_json::Value) -> String {
    common::capture_json(&app.client, &format!("{}/{bin}", app.base), body).await
}

#[actix_web::test]
async fn the_create_form_makes_a_bin_remembered_on_the_home_page() {
    let app = spawn_app().await;
    let (status, home) = page(&app, "/").await;
    assert_eq!(status, 200);
    assert!(home.contains("<form method=\"post\" action=\"/bins\">"));
    assert!(home.contains("Create a bin"));

    let created = own_form(&app, "/bins").await;
    assert_eq!(created.status(), 303);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let bin = location.strip_prefix("/inspect/").unwrap().to_owned();
    assert_eq!(bin.len(), 36);
    let cookie = created.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains(&bin) && cookie.contains("HttpOnly"));

    let (status, inspect) = page(&app, &location).await;
    assert_eq!(status, 200);
    assert!(
        inspect.contains(&format!("value=\"{}/{bin}\"", app.base)),
        "capture URL shown"
    );
    assert!(inspect.contains("Waiting for the first request"));
    assert!(
        inspect.contains(&escaped("\"callBackUrl\"")),
        "Kaizala registration body shown"
    );
    // All 13 documented event types are registered for, GroupAdded and GroupRemoved too.
    for event_type in binspector::kaizala::EventType::ALL {
        let quoted = escaped(&format!("\"{}\"", event_type.name()));
        assert!(inspect.contains(&quoted), "{event_type:?} missing");
    }
    assert!(inspect.contains("curl -k -X POST"));

    let cookie_pair = cookie.split(';').next().unwrap();
    let home = app
        .client
        .get(format!("{}/", app.base))
        .header("cookie", cookie_pair)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        home.contains(&format!("/inspect/{bin}")),
        "home lists the bin"
    );
    assert!(home.contains("0 requests"));
}

#[actix_web::test]
async fn forms_from_other_sites_are_refused() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    post_json(&app, &bin, &json!({"a": 1})).await;
    for path in [
        "/bins".to_owned(),
        format!("/inspect/{bin}/clear"),
        format!("/inspect/{bin}/delete"),
    ] {
        let forged = app
            .client
            .post(format!("{}{path}", app.base))
            .header("origin", "https://evil.example")
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403, "{path}");
    }
    assert_eq!(app.all_requests(&bin).await.len(), 1, "nothing was cleared");
}

#[actix_web::test]
async fn kaizala_events_show_badges_summaries_duplicates_and_handshakes() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    app.get(&format!("/{bin}?validationToken=hello")).await;
    let first = post_json(
        &app,
        &bin,
        &kaizala_event(
            "TextMessageCreated",
            "evt-1",
            json!({"text": "Standup at ten"}),
        ),
    )
    .await;
    post_json(
        &app,
        &bin,
        &kaizala_event(
            "TextMessageCreated",
            "evt-1",
            json!({"text": "Standup at ten"}),
        ),
    )
    .await;
    post_json(
        &app,
        &bin,
        &kaizala_event(
            "SurveyResponse",
            "evt-2",
            json!({"actionId": "act-9", "responder": "+15550111", "responderName": "Ben",
                   "responseDetails": {"responseWithQuestions": [
                       {"title": "Lunch choice?", "type": "SingleOption", "answer": "Noodles"},
                       {"title": "Secret", "type": "Text", "answer": "x", "isInvisible": true}]}}),
        ),
    )
    .await;
    post_json(
        &app,
        &bin,
        &kaizala_event(
            "JobCreated",
            "evt-3",
            json!({"title": "Fix the pump", "dueDate": 1795733333123i64, "assignedTo": ["+15550122"]}),
        ),
    )
    .await;
    post_json(
        &app,
        &bin,
        &kaizala_event(
            "MemberAdded",
            "evt-4",
            json!({"member": "+15550133", "memberName": "Chen", "type": "Admin"}),
        ),
    )
    .await;
    post_json(
        &app,
        &bin,
        &kaizala_event("BrandNewEvent", "evt-5", json!([1, 2])),
    )
    .await;
    app.client
        .post(format!("{}/{bin}", app.base))
        .header("kz-callback-token", "cb-token-123")
        .json(&kaizala_event(
            "GroupAdded",
            "evt-6",
            json!({"groupId": "g-2"}),
        ))
        .send()
        .await
        .unwrap();

    let (status, html) = page(&app, &format!("/inspect/{bin}")).await;
    assert_eq!(status, 200);
    for badge in [
        "TextMessageCreated",
        "SurveyResponse",
        "JobCreated",
        "MemberAdded",
        "BrandNewEvent",
        "GroupAdded",
    ] {
        assert!(html.contains(&format!(">{badge}</span>")), "badge {badge}");
    }
    assert!(html.contains("class=\"event fam-messages\""));
    assert!(html.contains("class=\"event fam-unknown\""));
    assert!(html.contains("class=\"event fam-groups\""));
    assert!(html.contains("Standup at ten"));
    assert!(html.contains("Asha Rao"), "sender name");
    assert!(html.contains("registered-from-tests"), "context");
    assert!(html.contains(
        "href=\"https://kaizala.example/pic/asha.png\" rel=\"noopener noreferrer nofollow\""
    ));
    assert!(
        !html.contains("<img src=\"https://kaizala.example"),
        "profile pictures never load"
    );
    assert!(html.contains("Lunch choice?") && html.contains("Noodles"));
    assert!(html.contains("Secret <span class=\"tag\">hidden</span>"));
    assert!(html.contains("Fix the pump") && html.contains("2026-11-26 22:48 UTC"));
    assert!(html.contains("Chen") && html.contains("Admin"));
    assert!(html.contains(&format!("duplicate delivery of #{first}")));
    assert!(html.contains("handshake: Kaizala / Graph validationToken"));
    assert!(
        html.contains("No summary for this event"),
        "unknown shapes fall back to the JSON"
    );
    assert!(
        html.contains("<span class=\"label\">kz-callback-token</span> <code>cb-token-123</code>")
    );

    // Filter chips with counts, and the filter itself.
    assert!(html.contains("TextMessageCreated <span class=\"n\">2</span>"));
    assert!(html.contains("All <span class=\"n\">8</span>"));
    let (_, filtered) = page(&app, &format!("/inspect/{bin}?event=SurveyResponse")).await;
    assert!(filtered.contains("Lunch choice?"));
    assert!(!filtered.contains("Standup at ten"));
}

#[actix_web::test]
async fn body_views_highlight_json_and_explain_everything_else() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let send = |path: &'static str, content_type: &'static str, body: Vec<u8>| {
        let app = &app;
        let bin = bin.clone();
        async move {
            app.client
                .post(format!("{}/{bin}{path}", app.base))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
        }
    };
    send(
        "/json",
        "application/json",
        br#"{"zeta": [1, true, null], "alpha": "x"}"#.to_vec(),
    )
    .await;
    send("/broken", "application/json", b"{\"a\": 1,, }".to_vec()).await;
    send(
        "/form",
        "application/x-www-form-urlencoded",
        b"name=Asha+Rao&tag=a&tag=b".to_vec(),
    )
    .await;
    send(
        "/multipart",
        "multipart/form-data; boundary=XyZ",
        b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello part\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff\xe0\r\n--XyZ--\r\n".to_vec(),
    )
    .await;
    send("/binary", "application/octet-stream", (0..=255u8).collect()).await;

    let (_, html) = page(&app, &format!("/inspect/{bin}")).await;
    assert!(html.contains(&format!(
        "<span class=\"j-key\">{}</span>",
        escaped("\"zeta\"")
    )));
    assert!(html.contains("<span class=\"j-number\">1</span>"));
    assert!(html.contains("<span class=\"j-bool\">true</span>"));
    assert!(html.contains("<span class=\"j-null\">null</span>"));
    // Keys keep the order they were sent in.
    assert!(html.find(&escaped("\"zeta\"")).unwrap() < html.find(&escaped("\"alpha\"")).unwrap());
    assert!(html.contains("not valid JSON") && html.contains("line 1, column"));
    assert!(html.contains("<th>name</th><td>Asha Rao</td>"));
    assert!(html.contains("photo.jpg") && html.contains("hello part"));
    assert!(html.contains("00000000") && html.contains("00 01 02 03"));
    assert!(html.contains("/raw\" download>Download it</a>"));
}

#[actix_web::test]
async fn pages_are_paginated_newest_first() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    for n in 0..55 {
        app.post(&format!("/{bin}/n{n}"), "x").await;
    }
    let (_, first) = page(&app, &format!("/inspect/{bin}")).await;
    assert_eq!(first.matches("<article class=\"card").count(), 50);
    assert!(first.find("/n54<").unwrap() < first.find("/n53<").unwrap());
    let older = first
        .split("href=\"")
        .find_map(|rest| {
            rest.split('"')
                .next()
                .filter(|href| href.contains("before="))
        })
        .unwrap()
        .replace("&#38;", "&");
    let (_, second) = page(&app, &older).await;
    assert_eq!(second.matches("<article class=\"card").count(), 5);
    assert!(second.contains("/n0<"));
    assert!(second.contains("Newest"));
    assert!(!second.contains("Older requests"));
}

#[actix_web::test]
async fn delete_forms_remove_a_request_clear_and_delete_the_bin() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let keep = post_json(&app, &bin, &json!({"keep": true})).await;
    let drop = post_json(&app, &bin, &json!({"drop": true})).await;

    let deleted = own_form(&app, &format!("/inspect/{bin}/{drop}/delete")).await;
    assert_eq!(deleted.status(), 303);
    let ids: Vec<String> = app
        .all_requests(&bin)
        .await
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [keep]);

    assert_eq!(
        own_form(&app, &format!("/inspect/{bin}/clear"))
            .await
            .status(),
        303
    );
    assert!(app.all_requests(&bin).await.is_empty());

    assert_eq!(
        own_form(&app, &format!("/inspect/{bin}/delete"))
            .await
            .status(),
        303
    );
    let (status, html) = page(&app, &format!("/inspect/{bin}")).await;
    assert_eq!(status, 404);
    assert!(html.contains("no such bin"));
}

#[actix_web::test]
async fn errors_are_pages_for_browsers_and_json_for_machines() {
    let app = spawn_app().await;
    let (status, html) = page(&app, "/inspect/0b8f5c1e-8f0a-4c4e-9a57-2f1d0d7e9a10").await;
    assert_eq!(status, 404);
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("404") && html.contains("Not Found"));
    let (status, html) = page(&app, "/no/such/page").await;
    assert_eq!(status, 404);
    assert!(html.contains("<!doctype html>"));

    let json = app
        .client
        .get(format!(
            "{}/inspect/0b8f5c1e-8f0a-4c4e-9a57-2f1d0d7e9a10",
            app.base
        ))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 404);
    let body: serde_json::Value = json.json().await.unwrap();
    assert_eq!(body["error"], "no such bin");
}

#[actix_web::test]
async fn hostile_captures_are_escaped_and_every_page_is_locked_down() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let mut event = kaizala_event("TextMessageCreated", "evt-x", json!({"text": evil}));
    event["fromUserName"] = json!(evil);
    event["fromUserProfilePic"] = json!("javascript:alert(3)");
    event["context"] = json!("\"><svg onload=alert(4)>");
    let id = app
        .client
        .post(format!(
            "{}/{bin}/%3Cscript%3E?q=%3Cimg%20src=x%20onerror=alert(5)%3E",
            app.base
        ))
        .header("x-evil", evil)
        .json(&event)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    for path in [
        format!("/inspect/{bin}"),
        format!("/inspect/{bin}/{id}"),
        format!("/inspect/{bin}/cards/{id}"),
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert_eq!(response.headers()["referrer-policy"], "no-referrer");
        let html = response.text().await.unwrap();
        assert!(!html.contains("<script>alert"), "{path}: raw script tag");
        assert!(!html.contains("<img src=x"), "{path}: raw img tag");
        assert!(!html.contains("<svg onload"), "{path}: raw svg tag");
        assert!(
            !html.contains("href=\"javascript:"),
            "{path}: javascript link"
        );
        assert!(
            html.contains(&escaped("<script>alert(1)</script>")),
            "{path}: shown as text"
        );
        assert_eq!(
            html.matches("<script").count(),
            usize::from(!path.contains("/cards/")),
            "{path}"
        );
    }
}

#[actix_web::test]
async fn huge_bodies_make_bounded_pages_and_captures_go_on_meanwhile() {
    const BODIES: usize = 20;
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    // A 1 MB JSON array of 500,000 numbers: a token per number when highlighted.
    let array = format!("[{}1]", "1,".repeat(499_999)).into_bytes();
    for _ in 0..BODIES {
        let response = app
            .client
            .post(format!("{}/{bin}", app.base))
            .header("content-type", "application/json")
            .body(array.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    let (status, one) = page(&app, &format!("/inspect/{bin}/1")).await;
    assert_eq!(status, 200);
    let (_, list) = page(&app, &format!("/inspect/{bin}")).await;
    println!(
        "request page {} KB, list page of {BODIES} {} KB",
        one.len() / 1000,
        list.len() / 1000
    );
    // The request page highlights up to 256 KiB of the body, the list 64 KiB of each.
    assert!(one.len() < 2_000_000, "request page of {} bytes", one.len());
    assert!(
        list.len() < BODIES * 500_000,
        "list page of {} bytes",
        list.len()
    );
    assert!(one.contains("Only the first 256 KiB of the body"));
    assert!(list.contains("Only the first 64 KiB of the body"));
    assert!(list.contains(&format!("/api/v1/bins/{bin}/requests/1/raw")));
    // A page of many requests shows less of each: a page shows at most 4 MiB of bodies.
    let (_, long) = page(&app, &format!("/inspect/{bin}?limit=500")).await;
    assert!(long.contains("Only the first 8 KiB of the body"));
    assert!(long.len() < list.len() / 4, "page of {} bytes", long.len());

    // Pages are rendered off the threads that answer captures.
    let pages: Vec<_> = (0..3)
        .map(|_| {
            let client = app.client.clone();
            let url = format!("{}/inspect/{bin}", app.base);
            actix_web::rt::spawn(async move { client.get(url).send().await.unwrap().text().await })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let started = std::time::Instant::now();
    assert_eq!(
        app.post(&format!("/{bin}"), "meanwhile").await.status(),
        200
    );
    let took = started.elapsed();
    for page in pages {
        page.await.unwrap().unwrap();
    }
    println!("capture while pages render: {took:?}");
    assert!(
        took < std::time::Duration::from_millis(500),
        "capture took {took:?}"
    );
}

#[actix_web::test]
async fn the_registration_helper_warns_when_senders_cannot_reach_the_url() {
    let warning =
        |page: &str| page.contains(r#"id="reach-warning""#) && page.contains(r#"id="reach-note""#);
    // The generated certificate, over HTTPS and over plain HTTP.
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    let page = app
        .get(&format!("/inspect/{bin}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(warning(&page) && page.contains("self-signed"), "{page}");
    assert!(page.contains("--acme-domain") && page.contains("--trust-proxy"));
    assert!(page.contains("curl -k"), "the curl line needs -k");
    let plain = app
        .client
        .get(format!("{}/inspect/{bin}", app.http_base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(warning(&plain) && plain.contains("plain HTTP"), "{plain}");

    // A certificate the user gave: nothing to warn about.
    let files = tempfile::tempdir().unwrap();
    common::write_certificate(files.path(), "bins.example.com");
    let (cert, key) = (files.path().join("cert.pem"), files.path().join("key.pem"));
    let given = spawn_app_with(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
    .await;
    let bin = given.bin_id().await;
    let page = given
        .get(&format!("/inspect/{bin}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(!warning(&page) && !page.contains("curl -k"), "{page}");

    // Behind a trusted TLS proxy the proxy's certificate is the one senders see.
    let proxied = spawn_app_with(&["--trust-proxy", "127.0.0.2"]).await;
    let bin = proxied.bin_id().await;
    let page = common::client_from([127, 0, 0, 2])
        .get(format!("{}/inspect/{bin}", proxied.http_base))
        .header("X-Forwarded-Proto", "https")
        .header("X-Forwarded-Host", "bins.example.com")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("https://bins.example.com/{bin}")));
    assert!(!warning(&page), "{page}");
}

#[actix_web::test]
async fn the_body_is_shown_open_when_a_summary_finds_nothing_to_say() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    // A readable message (summary, body closed), then Kaizala's Member sample, which is
    // labelled JobResponse (an empty summary: the body open instead).
    let message = kaizala_event("TextMessageCreated", "e-1", json!({"text": "hello"}));
    let mislabelled = kaizala_event(
        "JobResponse",
        "e-2",
        json!({"member": "+15550101", "memberName": "Ravi", "type": "Member"}),
    );
    for event in [&message, &mislabelled] {
        let answer = app
            .client
            .post(format!("{}/{bin}", app.base))
            .json(event)
            .send();
        assert_eq!(answer.await.unwrap().status(), 200);
    }
    let (status, html) = page(&app, &format!("/inspect/{bin}")).await;
    assert_eq!(status, 200);
    for (id, open) in [(1, false), (2, true)] {
        let start = html.find(&format!("id=\"r{id}\"")).expect("the card");
        let card = &html[start..];
        let card = &card[..card.find("</article>").expect("the card's end")];
        let shown_open = card.contains("<details class=\"section body\" open>");
        assert_eq!(shown_open, open, "request {id}");
        // On its own page the body is always open.
        let (_, single) = page(&app, &format!("/inspect/{bin}/{id}")).await;
        assert!(
            single.contains("<details class=\"section body\" open>"),
            "request {id}"
        );
    }
}

#[actix_web::test]
async fn survey_answers_show_chosen_options_and_locations() {
    let app = spawn_app().await;
    let bin = app.bin_id().await;
    post_json(
        &app,
        &bin,
        &kaizala_event(
            "ActionResponse",
            "evt-answers",
            json!({"actionId": "act-7", "responseDetails": {"responseWithQuestions": [
                {"title": "Attending?", "type": "SingleOption",
                 "options": [{"title": "Yes"}, {"title": "No"}], "answer": ["Yes"]},
                {"title": "Where?", "type": "Location",
                 "answer": {"lt": 47.6, "lg": -122.1, "n": "Redmond <HQ>"}}]}}),
        ),
    )
    .await;
    let (status, html) = page(&app, &format!("/inspect/{bin}")).await;
    assert_eq!(status, 200);
    // The chosen option carries a ✓ and words for screen readers, not just a style.
    assert!(html.contains(
        "<li class=\"chosen\"><span class=\"mark\" aria-hidden=\"true\">✓</span>Yes\
         <span class=\"visually-hidden\"> (chosen)</span></li>"
    ));
    assert!(html.contains("<li><span class=\"mark\" aria-hidden=\"true\"></span>No</li>"));
    assert!(html.contains(&format!("47.6, -122.1 ({})", escaped("Redmond <HQ>"))));
}
