//! Reading settings from clients: defaults, the kept callback token, and every refusal naming
//! its field.

use serde_json::json;

use super::*;

fn read(value: Value) -> Result<Settings, Invalid> {
    Settings::from_client(value, &Settings::for_new_bin())
}

fn field_of(value: Value) -> String {
    match read(value) {
        Ok(settings) => panic!("accepted: {settings:?}"),
        Err(invalid) => invalid.field,
    }
}

#[test]
fn absent_fields_take_their_defaults_and_the_token_is_kept() {
    let current = Settings::for_new_bin();
    let settings = Settings::from_client(json!({}), &current).unwrap();
    assert_eq!(settings, current);
    assert!(settings.handshakes.validation_token);
    assert_eq!(
        settings.fail_next,
        FailNext {
            count: 0,
            status: 500
        }
    );
    // null removes the token; a string replaces it.
    let none = Settings::from_client(json!({"kaizala": {"callback_token": null}}), &current);
    assert_eq!(none.unwrap().kaizala.callback_token, None);
    let mine = Settings::from_client(json!({"kaizala": {"callback_token": "mine"}}), &current);
    assert_eq!(
        mine.unwrap().kaizala.callback_token.as_deref(),
        Some("mine")
    );
}

#[test]
fn a_whole_object_round_trips_through_its_stored_form() {
    let value = json!({
        "response": {"status": 201, "headers": [["X-A", "1"], ["X-A", "2"]],
                     "body": "{\"ok\":true}", "delay_ms": 250},
        "fail_next": {"count": 2, "status": 503},
        "handshakes": {"validation_token": false, "slack": true, "meta": true,
                       "meta_verify_token": "v", "dropbox": true},
        "kaizala": {"callback_token": "t0k", "context": "ctx"}
    });
    let settings = read(value.clone()).unwrap();
    assert_eq!(serde_json::to_value(&settings).unwrap(), value);
    assert_eq!(Settings::from_stored(&settings.to_stored()), settings);
}

#[test]
fn every_out_of_range_value_is_refused_naming_its_field() {
    let response = |extra: Value| {
        let mut response = json!({"status": 200});
        response
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({ "response": response })
    };
    assert_eq!(
        field_of(json!({"response": {"status": 99}})),
        "response.status"
    );
    assert_eq!(
        field_of(json!({"response": {"status": 600}})),
        "response.status"
    );
    assert_eq!(
        field_of(json!({"response": {"status": "200"}})),
        "response.status"
    );
    assert_eq!(field_of(json!({"response": {}})), "response");
    assert_eq!(
        field_of(response(json!({"delay_ms": 30001}))),
        "response.delay_ms"
    );
    assert_eq!(
        field_of(response(json!({"delay_ms": -1}))),
        "response.delay_ms"
    );
    let body = "x".repeat(MAX_BODY_BYTES + 1);
    assert_eq!(field_of(response(json!({ "body": body }))), "response.body");
    for bad in [
        json!([["Bad Name", "v"]]),
        json!([["", "v"]]),
        json!([["X-Ok", "line\r\nInjected: yes"]]),
        json!([["X-Ok", "nul\u{0}"]]),
        json!([["Content-Length", "5"]]),
        json!([["Set-Cookie", "binspector_session=x"]]),
        json!([["NEL", "{}"]]),
        json!([["Report-To", "{}"]]),
    ] {
        assert_eq!(
            field_of(response(json!({ "headers": bad }))),
            "response.headers[0]"
        );
    }
    assert_eq!(
        field_of(response(json!({"headers": [["X-A", "1", "extra"]]}))),
        "response.headers[0]"
    );
    assert_eq!(
        field_of(json!({"fail_next": {"status": 42}})),
        "fail_next.status"
    );
    assert_eq!(
        field_of(json!({"fail_next": {"count": 10001}})),
        "fail_next.count"
    );
    assert_eq!(
        field_of(json!({"fail_next": {"count": -1}})),
        "fail_next.count"
    );
    assert_eq!(
        field_of(json!({"handshakes": {"slack": "yes"}})),
        "handshakes.slack"
    );
    assert_eq!(
        field_of(json!({"handshakes": {"meta_verify_token": ""}})),
        "handshakes.meta_verify_token"
    );
    assert_eq!(
        field_of(json!({"kaizala": {"context": "x".repeat(257)}})),
        "kaizala.context"
    );
    assert_eq!(field_of(json!({"respnse": null})), "respnse");
    assert_eq!(
        field_of(json!({"handshakes": {"slak": true}})),
        "handshakes.slak"
    );
    assert_eq!(
        field_of(json!({"response": {"status": 200, "delay": 5}})),
        "response.delay"
    );
    let big = "v".repeat(4_000);
    let many: Vec<_> = (0..5).map(|n| json!([format!("X-{n}"), big])).collect();
    assert_eq!(
        field_of(json!({"response": {"status": 200, "headers": many}})),
        "response.headers"
    );
    assert_eq!(field_of(json!([1])), "settings");
}

#[test]
fn stored_rows_with_fields_of_a_newer_binspector_still_read() {
    let stored = r#"{"fail_next":{"count":2,"status":503},"forward_to":"https://x.example",
        "kaizala":{"callback_token":"kept","later":1}}"#;
    let settings = Settings::from_stored(stored);
    assert_eq!(settings.fail_next.count, 2);
    assert_eq!(settings.kaizala.callback_token.as_deref(), Some("kept"));
}

#[test]
fn messages_say_what_is_wrong_without_parser_positions() {
    let invalid = read(json!({"response": {"status": 700}})).unwrap_err();
    assert_eq!(
        invalid.to_string(),
        "response.status: 700 is not an HTTP status: use 200 to 599"
    );
    let invalid = read(json!({"response": {"status": "x"}})).unwrap_err();
    assert!(!invalid.message.contains("line"), "{invalid}");
    let invalid = read(json!({"respnse": 1})).unwrap_err();
    assert!(
        invalid.to_string().starts_with("respnse: is not a setting"),
        "{invalid}"
    );
}
