//! The access token (`--access-token`, `--access-token-file`): pages, the API and the live
//! stream need it; captures, handshakes, `/healthz`, static files and the login form do not.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{client, spawn_app_with, RunningBinary, TestApp};
use reqwest::{header, Method, StatusCode};
use serde_json::Value;

const TOKEN: &str = "s3cret-token-for-tests-0123456789";

/// A request to the app with an optional bearer token and session cookie.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    session: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.request(method, format!("{}{path}", app.base));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(session) = session {
        request = request.header(header::COOKIE, format!("binspector_session={session}"));
    }
    request.send().await.unwrap()
}

fn location(response: &reqwest::Response) -> &str {
    response.headers()[header::LOCATION].to_str().unwrap()
}

/// Logs in through the form and returns the session cookie's value and its attributes.
async fn log_in(app: &TestApp, token: &str, next: &str) -> reqwest::Response {
    app.client
        .post(format!("{}/login", app.base))
        .form(&[("token", token), ("next", next)])
        .send()
        .await
        .unwrap()
}

fn session_of(response: &reqwest::Response) -> (String, String) {
    let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap();
    let (pair, attributes) = set_cookie.split_once(';').unwrap();
    let value = pair.strip_prefix("binspector_session=").unwrap();
    (value.to_owned(), attributes.to_owned())
}

/// Creates a bin with the token and captures one request into it.
async fn bin_with_a_request(app: &TestApp) -> String {
    let created = send(app, Method::POST, "/api/v1/bins", Some(TOKEN), None).await;
    assert_eq!(created.status(), 201);
    let bin = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let captured = app
        .post(&format!("/{bin}/hook?x=1"), "captured without a token")
        .await;
    assert_eq!(captured.status(), 200, "capture URLs stay open");
    bin
}

#[actix_web::test]
async fn captures_handshakes_and_probes_stay_open() {
    let app = spawn_app_with(&["--access-token", TOKEN]).await;
    let bin = bin_with_a_request(&app).await;
    let handshake = app
        .get(&format!("/{bin}?validationToken=hello%20kaizala"))
        .await;
    assert_eq!(handshake.status(), 200);
    assert_eq!(handshake.text().await.unwrap(), "hello kaizala");
    for open in ["/healthz", "/static/app.css", "/login"] {
        assert_eq!(app.get(open).await.status(), 200, "{open}");
    }
    // RequestBin's `?inspect` still leads to the page, which then asks for a login.
    let inspect = app.get(&format!("/{bin}?inspect")).await;
    assert_eq!(location(&inspect), format!("/inspect/{bin}"));
    let stored = send(
        &app,
        Method::GET,
        &format!("/api/v1/bins/{bin}"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(stored.json::<Value>().await.unwrap()["request_count"], 2);
}

#[actix_web::test]
async fn every_page_api_call_and_stream_needs_the_token() {
    let app = spawn_app_with(&["--access-token", TOKEN]).await;
    let bin = bin_with_a_request(&app).await;
    let wrong = "not-the-token-0123456789";
    let forged_session = "v1.99999999999.0011223344556677.AAAA";

    // Pages: without a session (or with a forged one), a redirect to the login form that
    // comes back to the page.
    let pages = [
        (Method::GET, "/".to_owned()),
        (Method::GET, format!("/inspect/{bin}")),
        (Method::GET, format!("/inspect/{bin}?event=MemberAdded")),
        (Method::GET, format!("/inspect/{bin}/1")),
        (Method::GET, format!("/inspect/{bin}/1?decoded")),
        (Method::HEAD, format!("/inspect/{bin}")),
    ];
    for (method, path) in &pages {
        for session in [None, Some(forged_session)] {
            let answer = send(&app, method.clone(), path, None, session).await;
            assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{method} {path}");
            let next = serde_urlencoded::to_string([("next", path.as_str())]).unwrap();
            assert_eq!(
                location(&answer),
                format!("/login?{next}"),
                "{method} {path}"
            );
        }
    }
    // Forms: refused the same way, and nothing changes.
    for path in [
        "/bins".to_owned(),
        format!("/inspect/{bin}/clear"),
        format!("/inspect/{bin}/1/delete"),
        format!("/inspect/{bin}/delete"),
    ] {
        let answer = send(&app, Method::POST, &path, None, None).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&answer), "/login?next=%2F", "{path}");
    }
    // What the inspect page's script fetches: 401.
    for path in [
        format!("/inspect/{bin}/events"),
        format!("/inspect/{bin}/cards/1"),
    ] {
        let answer = send(&app, Method::GET, &path, None, None).await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{path}");
    }

    // The API: every verb is 401 JSON with WWW-Authenticate: Bearer, without or with a wrong
    // token; with the right one it works.
    let api = [
        (Method::POST, "/api/v1/bins".to_owned(), StatusCode::CREATED),
        (Method::GET, format!("/api/v1/bins/{bin}"), StatusCode::OK),
        (Method::HEAD, format!("/api/v1/bins/{bin}"), StatusCode::OK),
        (
            Method::GET,
            format!("/api/v1/bins/{bin}/requests"),
            StatusCode::OK,
        ),
        (
            Method::GET,
            format!("/api/v1/bins/{bin}/requests/1"),
            StatusCode::OK,
        ),
        (
            Method::GET,
            format!("/api/v1/bins/{bin}/requests/1/raw"),
            StatusCode::OK,
        ),
        (
            Method::DELETE,
            format!("/api/v1/bins/{bin}/requests/1"),
            StatusCode::OK,
        ),
        (
            Method::DELETE,
            format!("/api/v1/bins/{bin}/requests"),
            StatusCode::OK,
        ),
        (
            Method::DELETE,
            format!("/api/v1/bins/{bin}"),
            StatusCode::OK,
        ),
    ];
    for (method, path, allowed) in &api {
        for bearer in [None, Some(wrong)] {
            let answer = send(&app, method.clone(), path, bearer, None).await;
            assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
            let challenge = answer.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
            assert!(challenge.starts_with("Bearer"), "{challenge}");
            if *method != Method::HEAD {
                let body: Value = answer.json().await.unwrap();
                assert_eq!(body["status"], 401);
                assert!(body["error"].as_str().unwrap().contains("access token"));
            }
        }
        let answer = send(&app, method.clone(), path, Some(TOKEN), None).await;
        assert_eq!(answer.status(), *allowed, "{method} {path} with the token");
    }
    // However the path is spelled, what routes to a page or the API is closed.
    for (method, path, refused) in [
        (
            Method::POST,
            "/%61pi/v1/bins".to_owned(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Method::GET,
            format!("/%61pi/v1/bins/{bin}/requests"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Method::GET,
            format!("/api/v1/bins/{bin}/%72equests"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Method::GET,
            format!("/%69nspect/{bin}"),
            StatusCode::SEE_OTHER,
        ),
        (
            Method::GET,
            format!("/inspect/{bin}/%65vents"),
            StatusCode::UNAUTHORIZED,
        ),
        (Method::POST, "/%62ins".to_owned(), StatusCode::SEE_OTHER),
    ] {
        let answer = send(&app, method.clone(), &path, None, None).await;
        assert_eq!(answer.status(), refused, "{method} {path}");
    }

    // The scheme's name is case-insensitive.
    let lowercase = app
        .client
        .post(format!("{}/api/v1/bins", app.base))
        .header(header::AUTHORIZATION, format!("bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(lowercase.status(), StatusCode::CREATED);

    // The bin is gone (the last call deleted it), so nothing was refused by mistake.
    let gone = send(
        &app,
        Method::GET,
        &format!("/api/v1/bins/{bin}"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(gone.status(), 404);
}

#[actix_web::test]
async fn the_login_form_opens_a_strict_session_and_logout_ends_it() {
    let app = spawn_app_with(&["--access-token", TOKEN]).await;
    let bin = bin_with_a_request(&app).await;
    let page = format!("/inspect/{bin}");

    let form = app
        .get(&format!("/login?next={}", page.replace('/', "%2F")))
        .await;
    assert_eq!(form.status(), 200);
    let form = form.text().await.unwrap();
    assert!(
        form.contains(&format!("name=\"next\" value=\"{page}\"")),
        "{form}"
    );

    let refused = log_in(&app, "a-wrong-token-0123456789", &page).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers().get(header::SET_COOKIE).is_none());
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("That token is not right"));

    let accepted = log_in(&app, TOKEN, &page).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&accepted), page);
    let (session, attributes) = session_of(&accepted);
    for flag in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=2592000",
    ] {
        assert!(
            attributes.contains(flag),
            "{flag} missing from {attributes}"
        );
    }

    // The session opens pages, the stream, fragments and the API.
    for path in [
        page.clone(),
        format!("{page}/1"),
        format!("{page}/cards/1"),
        "/".to_owned(),
        format!("/api/v1/bins/{bin}"),
    ] {
        let answer = send(&app, Method::GET, &path, None, Some(&session)).await;
        assert_eq!(answer.status(), 200, "{path}");
    }
    let stream = send(
        &app,
        Method::GET,
        &format!("{page}/events"),
        None,
        Some(&session),
    )
    .await;
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()[header::CONTENT_TYPE], "text/event-stream");
    drop(stream);
    // The login form, asked for again with a session, goes straight on.
    let again = send(
        &app,
        Method::GET,
        &format!("/login?next=%2Finspect%2F{bin}"),
        None,
        Some(&session),
    )
    .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&again), page);
    let home = send(&app, Method::GET, "/", None, Some(&session)).await;
    let home = home.text().await.unwrap();
    assert!(home.contains("id=\"log-out\"") && !home.contains("id=\"open-mode\""));

    // A tampered session is not one.
    let tampered = format!("{}x", session);
    let answer = send(&app, Method::GET, &page, None, Some(&tampered)).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);

    let logout = app
        .client
        .post(format!("{}/logout", app.base))
        .header(header::COOKIE, format!("binspector_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&logout), "/login");
    let (cleared, attributes) = session_of(&logout);
    assert!(
        cleared.is_empty() && attributes.contains("Max-Age=0"),
        "{attributes}"
    );
}

#[actix_web::test]
async fn login_goes_back_only_to_paths_on_this_site() {
    let app = spawn_app_with(&["--access-token", TOKEN]).await;
    for next in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "https:/evil.example",
        "",
    ] {
        let answer = log_in(&app, TOKEN, next).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(location(&answer), "/", "next={next}");
        let form = app
            .get(&format!(
                "/login?{}",
                serde_urlencoded::to_string([("next", next)]).unwrap()
            ))
            .await
            .text()
            .await
            .unwrap();
        assert!(form.contains("name=\"next\" value=\"/\""), "next={next}");
    }
}

#[actix_web::test]
async fn a_login_form_from_another_site_is_refused() {
    let app = spawn_app_with(&["--access-token", TOKEN]).await;
    let forged = [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ];
    for (name, value) in forged {
        let answer = app
            .client
            .post(format!("{}/login", app.base))
            .header(name, value)
            .form(&[("token", TOKEN), ("next", "/")])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(answer.headers().get(header::SET_COOKIE).is_none());
    }
    // The same form from binspector's own page is taken.
    let own = app
        .client
        .post(format!("{}/login", app.base))
        .header("origin", &app.base)
        .header("sec-fetch-site", "same-origin")
        .form(&[("token", TOKEN), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn guessing_at_the_login_form_is_slowed_down() {
    let app = spawn_app_with(&["--access-token", TOKEN]).await;
    for attempt in 0..10 {
        let answer = log_in(&app, "a-guess-that-is-wrong-000", "/").await;
        assert_eq!(
            answer.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    // The eleventh wrong token in a minute uses up the allowance; after it, not even the
    // right token is checked.
    let answer = log_in(&app, "a-guess-that-is-wrong-000", "/").await;
    assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
    let answer = log_in(&app, TOKEN, "/").await;
    assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = answer.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=6).contains(&wait), "{wait}");
}

#[actix_web::test]
async fn guessing_bearer_tokens_is_slowed_down_too() {
    let app = spawn_app_with(&["--access-token", TOKEN]).await;
    let path = "/api/v1/bins";
    for attempt in 0..10 {
        let answer = send(
            &app,
            Method::POST,
            path,
            Some("a-wrong-guess-000000000"),
            None,
        )
        .await;
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "guess {attempt}");
    }
    // The eleventh wrong token uses up the address's allowance; then even the right token is
    // not looked at until it may guess again.
    let answer = send(
        &app,
        Method::POST,
        path,
        Some("a-wrong-guess-000000000"),
        None,
    )
    .await;
    assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
    let answer = send(&app, Method::POST, path, Some(TOKEN), None).await;
    assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(answer.headers().contains_key("retry-after"));
    // The login form shares the allowance.
    assert_eq!(
        log_in(&app, TOKEN, "/").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // A session still works: it is not a guess.
    let other = common::client_from([127, 0, 0, 2]);
    let login = other
        .post(format!("{}/login", app.base))
        .form(&[("token", TOKEN), ("next", "/")])
        .send()
        .await
        .unwrap();
    let (session, _) = session_of(&login);
    let answer = send(&app, Method::GET, "/", None, Some(&session)).await;
    assert_eq!(answer.status(), StatusCode::OK);
}

#[actix_web::test]
async fn without_a_token_nothing_is_closed_and_the_home_page_says_so() {
    let app = spawn_app_with(&[]).await;
    let bin = app.bin_id().await;
    assert_eq!(app.get(&format!("/inspect/{bin}")).await.status(), 200);
    assert_eq!(app.get(&format!("/api/v1/bins/{bin}")).await.status(), 200);
    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains("id=\"open-mode\""), "{home}");
    assert!(home.contains("anyone who knows a bin's URL can read its requests"));
    assert_eq!(
        location(&app.get("/login?next=%2Finspect").await),
        "/inspect"
    );
}

#[tokio::test]
async fn a_rotated_token_file_ends_the_old_tokens_sessions_and_wrong_tokens_are_logged() {
    let data = tempfile::tempdir().unwrap();
    let tokens = data.path().join("tokens.txt");
    let (old, new) = ("old-token-0123456789abcdef", "new-token-0123456789abcdef");
    std::fs::write(&tokens, format!("# binspector tokens\n{old}\n")).unwrap();
    let server = RunningBinary::start_with(
        &data.path().join("data"),
        "127.0.0.1:0",
        "info",
        &[
            "--access-token-file",
            tokens.to_str().unwrap(),
            "--tls-reload-interval",
            "100ms",
        ],
    );
    let client = client();
    let login = |token: &'static str| {
        let client = client.clone();
        let base = server.base.clone();
        async move {
            client
                .post(format!("{base}/login"))
                .form(&[("token", token), ("next", "/")])
                .send()
                .await
                .unwrap()
        }
    };
    let first = login(old).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let (session, _) = session_of(&first);
    let home = |session: String| {
        let client = client.clone();
        let base = server.base.clone();
        async move {
            client
                .get(format!("{base}/"))
                .header(header::COOKIE, format!("binspector_session={session}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(home(session.clone()).await, StatusCode::OK);

    // Both tokens for a while, then only the new one.
    std::fs::write(&tokens, format!("{new}\n{old}\n")).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(login(new).await.status(), StatusCode::SEE_OTHER);
    assert_eq!(home(session.clone()).await, StatusCode::OK);
    // A live stream the old token's session opened, to see it end too.
    let bin = {
        let created = client
            .post(format!("{}/api/v1/bins", server.base))
            .bearer_auth(new)
            .send()
            .await
            .unwrap();
        created.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let stream = client
        .get(format!("{}/inspect/{bin}/events", server.base))
        .header(header::COOKIE, format!("binspector_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    std::fs::write(&tokens, format!("{new}\n")).unwrap();
    let mut ended = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if home(session.clone()).await == StatusCode::SEE_OTHER {
            ended = true;
            break;
        }
    }
    assert!(ended, "the old token's session still opens pages");
    // The stream ends at its next heartbeat (every 15 s).
    let drained = tokio::time::timeout(Duration::from_secs(25), async {
        let mut chunks = stream.bytes_stream();
        while let Some(chunk) = futures_util::StreamExt::next(&mut chunks).await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(drained.is_ok(), "the old token's live stream is still open");
    assert_eq!(login(old).await.status(), StatusCode::UNAUTHORIZED);

    let log = server
        .log_with("refused a wrong access token at the login form")
        .await;
    assert!(
        log.contains("refused a wrong access token at the login form"),
        "{log}"
    );
    assert!(
        log.contains("127.0.0.1"),
        "the client address is logged: {log}"
    );
    assert!(
        !log.contains(old) && !log.contains(new),
        "a token was logged: {log}"
    );
}
