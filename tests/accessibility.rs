//! Accessibility: axe-core, run in headless Chromium on every kind of page (home, a bin full of
//! Kaizala events with its settings open, one request, the settings page, an error page), finds
//! no WCAG 2 A or AA violation, in the light and the dark colour scheme.
//!
//! Needs `chromium`, `chromedriver` and axe-core (`npm ci --prefix tests/a11y`). Without them
//! the test says it was skipped and passes, except under `CI=true`, where it fails.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::{
    kaizala_event,
    webdriver::{browser_tools, Browser},
};
use serde_json::{json, Value};

/// axe-core's browser build, from the npm package `.ci/run` installs.
fn axe_source() -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/a11y/node_modules/axe-core/axe.min.js");
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(err) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "axe-core is missing under CI ({}: {err}); run npm ci --prefix tests/a11y",
                path.display()
            )
        }
        Err(_) => {
            eprintln!("skipped: axe-core not installed (npm ci --prefix tests/a11y)");
            None
        }
    }
}

/// Runs axe on the current page, with every `<details>` opened so that nothing is left out,
/// and returns its WCAG 2 A/AA violations, one line per element. Two best-practice rules are
/// added, as the issue found both broken: headings that skip a level, and a page with no `h1`.
async fn violations(browser: &Browser, axe: &str) -> Vec<String> {
    browser
        .run(
            "document.querySelectorAll('details').forEach(d => d.open = true);",
            json!([]),
        )
        .await;
    if browser.run("return typeof axe;", json!([])).await != "object" {
        browser.run(axe, json!([])).await;
    }
    let found = browser
        .run(
            "return axe.run(document, { runOnly: { type: 'tag', values: \
               ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] }, \
               rules: { 'heading-order': { enabled: true }, \
                        'page-has-heading-one': { enabled: true } } })\
             .then(r => r.violations.flatMap(v => v.nodes.map(n =>\
               v.id + ' (' + v.impact + ') ' + n.target.join(' ') + ': ' + n.failureSummary)));",
            json!([]),
        )
        .await;
    serde_json::from_value(found).unwrap()
}

#[actix_web::test]
async fn every_page_passes_axe_in_light_and_dark_mode() {
    let Some((chromium, chromedriver)) = browser_tools() else {
        return;
    };
    let Some(axe) = axe_source() else {
        return;
    };
    let app = common::spawn_app().await;
    let session = Browser::launch(&chromium, &chromedriver).await;
    let browser = &session;

    // A bin made from the home page (so the home page lists it), filled with what the
    // inspect page shows: every family of event with its summary, a duplicate, each token
    // check, a handshake, a failed answer and a rejected body.
    browser.goto(&format!("{}/", app.base)).await;
    let create = browser.find("#create-bin").await;
    browser.click(&create).await;
    let bin = common::webdriver::wait_for("the new bin's page", || async {
        let url = browser.url().await;
        url.split("/inspect/").nth(1).map(str::to_owned)
    })
    .await;
    let settings: Value = app.get_json(&format!("/api/v1/bins/{bin}/settings")).await;
    let token = settings["kaizala"]["callback_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let capture = format!("{}/{bin}", app.base);
    let events = [
        kaizala_event("TextMessageCreated", "e-1", json!({"text": "hello"})),
        kaizala_event("TextMessageCreated", "e-1", json!({"text": "hello"})),
        kaizala_event(
            "Announcement",
            "e-2",
            json!({"title": "Office closed", "text": "Friday",
                   "media": [{"url": "https://kaizala.example/a.png", "fileName": "a.png"}]}),
        ),
        kaizala_event(
            "SurveyResponse",
            "e-3",
            json!({"actionId": "a", "responder": "+1555", "responderName": "Lee",
                   "responseDetails": {"responseWithQuestions": [
                       {"title": "Lunch?", "type": "SingleOption",
                        "options": [{"title": "Noodles"}, {"title": "Rice"}], "answer": 0},
                       {"title": "Where?", "type": "Location",
                        "answer": {"lt": 47.6, "lg": -122.1, "n": "Redmond"}}]}}),
        ),
        kaizala_event(
            "JobCreated",
            "e-4",
            json!({"title": "Fix the pump", "dueDate": 1795733333000_i64}),
        ),
        kaizala_event(
            "MemberAdded",
            "e-5",
            json!({"member": "+1555", "memberName": "Chen", "type": "Admin"}),
        ),
        kaizala_event("GroupAdded", "e-6", json!({"groupId": "g"})),
    ];
    for (index, event) in events.iter().enumerate() {
        let mut request = app.client.post(&capture).json(event);
        match index {
            0 => request = request.header("kz-callback-token", &token),
            1 => request = request.header("kz-callback-token", "wrong"),
            _ => {}
        }
        request.send().await.unwrap();
    }
    app.get(&format!("/{bin}?validationToken=t")).await;
    let fail = json!({"fail_next": {"count": 1, "status": 503}, "kaizala": {"context": "ctx"}});
    app.client
        .put(format!("{}/api/v1/bins/{bin}/settings", app.base))
        .json(&fail)
        .send()
        .await
        .unwrap();
    app.post(&format!("/{bin}"), "plain text, failed on purpose")
        .await;
    app.post(&format!("/{bin}"), vec![0u8, 159, 146, 150]).await;
    let settings_now = json!({"fail_next": {"count": 2, "status": 500},
        "response": {"status": 202, "body": "ok", "delay_ms": 10}});
    app.client
        .put(format!("{}/api/v1/bins/{bin}/settings", app.base))
        .json(&settings_now)
        .send()
        .await
        .unwrap();

    let missing = uuid::Uuid::new_v4();
    let pages = [
        ("home", format!("{}/", app.base)),
        ("inspect", format!("{}/inspect/{bin}", app.base)),
        ("request", format!("{}/inspect/{bin}/4", app.base)),
        ("settings", format!("{}/inspect/{bin}/settings", app.base)),
        ("error", format!("{}/inspect/{missing}", app.base)),
    ];
    let mut problems = Vec::new();
    for scheme in ["light", "dark"] {
        for (name, url) in &pages {
            browser.goto(url).await;
            browser.color_scheme(scheme).await;
            for violation in violations(browser, &axe).await {
                problems.push(format!("{name} page, {scheme}: {violation}"));
            }
        }
    }
    assert!(problems.is_empty(), "axe found:\n{}", problems.join("\n"));
    session.quit().await;
}
