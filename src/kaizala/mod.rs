//! Recognising Microsoft Kaizala webhook events in JSON bodies: the columns the store
//! indexes (event type and id, object type and id) and the event family used for colour.
//!
//! Real payloads stray from the documentation, so nothing here can fail: a field of the
//! wrong type is read leniently or left out, and anything unrecognisable is simply `None`.

/// The 13 documented event types.
pub mod event_type;
/// Sample events of every type, for sending where Kaizala itself no longer can.
pub mod samples;
/// Summaries of Kaizala events for the inspect page.
pub mod summary;

pub use event_type::EventType;

use memchr::memmem;
use serde::Serialize;
use serde_json::Value;

/// Longest value kept in an indexed column; longer ones are cut (they are still in the body).
const MAX_FIELD_CHARS: usize = 200;
/// Longest context kept: one more than a bin's context may be, so a longer one never matches.
const MAX_CONTEXT_CHARS: usize = 257;

/// The indexed facts of a Kaizala event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KaizalaEvent {
    pub event_type: String,
    pub event_id: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    /// The echoed `callBackContext`: a string as sent (cut at [`MAX_CONTEXT_CHARS`]), anything
    /// else as compact JSON. Compared with the bin's context when captured; not stored.
    #[serde(skip)]
    pub context: Option<String>,
}

/// Kinds of event, each with its own badge colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Messages,
    Actions,
    Jobs,
    Membership,
    Groups,
    Unknown,
}

impl Family {
    /// The family an event type belongs to (`Unknown` for undocumented types).
    pub fn of(event_type: &str) -> Family {
        EventType::parse(event_type).map_or(Family::Unknown, EventType::family)
    }

    /// A short name, used as a CSS class suffix and in the legend.
    pub fn name(self) -> &'static str {
        match self {
            Family::Messages => "messages",
            Family::Actions => "actions",
            Family::Jobs => "jobs",
            Family::Membership => "membership",
            Family::Groups => "groups",
            Family::Unknown => "unknown",
        }
    }
}

/// Recognises a Kaizala event in a parsed JSON value: an object with a string `eventType`
/// and at least one of `eventId`, `objectId` or `objectType`.
pub fn recognise(value: &Value) -> Option<KaizalaEvent> {
    let object = value.as_object()?;
    from_fields(
        object.get("eventType"),
        object.get("eventId"),
        object.get("objectType"),
        object.get("objectId"),
        object.get("context"),
    )
}

/// Recognises a Kaizala event in a raw body: parsed whole, then read as [`recognise`] reads it.
///
/// A body that is not a JSON object, or never spells `eventType` (nor any `\u` escape, which
/// could spell it), is not parsed: a 9.7 MB JSON body of 160,000 small objects from another
/// sender took 260 – 440 ms of a worker's CPU to capture with the parse and 40 ms without.
/// (A hand-written probe that built only the five fields saved nothing measurable on the
/// realistic workload, so it went: BENCHMARKS.md, "Tricks".)
pub fn recognise_bytes(body: &[u8]) -> Option<KaizalaEvent> {
    let first = body.iter().find(|byte| !byte.is_ascii_whitespace())?;
    if *first != b'{'
        || (memmem::find(body, b"eventType").is_none() && memmem::find(body, b"\\u").is_none())
    {
        return None;
    }
    serde_json::from_slice::<Value>(body)
        .ok()
        .as_ref()
        .and_then(recognise)
}

fn from_fields(
    event_type: Option<&Value>,
    event_id: Option<&Value>,
    object_type: Option<&Value>,
    object_id: Option<&Value>,
    context: Option<&Value>,
) -> Option<KaizalaEvent> {
    let event_type = event_type?.as_str()?.trim();
    if event_type.is_empty() {
        return None;
    }
    let present = |field: Option<&Value>| field.is_some_and(|value| !value.is_null());
    if !(present(event_id) || present(object_type) || present(object_id)) {
        return None;
    }
    Some(KaizalaEvent {
        event_type: clip(event_type),
        event_id: event_id.and_then(scalar_text),
        object_type: object_type.and_then(scalar_text),
        object_id: object_id.and_then(scalar_text),
        context: context.and_then(context_text),
    })
}

/// The context as compared with a bin's: a string as it is, `null` as absent, anything else as
/// compact JSON.
fn context_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::Null => return None,
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    Some(clip_to(&text, MAX_CONTEXT_CHARS))
}

/// A string or number as text; other shapes are not indexable and give `None`.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.trim().is_empty() => Some(clip(text.trim())),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn clip(text: &str) -> String {
    clip_to(text, MAX_FIELD_CHARS)
}

/// The first `max` characters of `text`.
fn clip_to(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::summary::tests::event;
    use super::*;
    use serde_json::json;

    /// What both entry points say of a value (the bytes one parses it back).
    fn both(value: &Value) -> Option<KaizalaEvent> {
        let from_value = recognise(value);
        assert_eq!(recognise_bytes(value.to_string().as_bytes()), from_value);
        from_value
    }

    #[test]
    fn every_documented_event_type_is_recognised_with_its_family() {
        for event_type in EventType::ALL.map(EventType::name) {
            let found = both(&event(event_type, json!({}))).expect(event_type);
            assert_eq!(found.event_type, event_type);
            assert_eq!(
                found.event_id.as_deref(),
                Some(format!("evt-{event_type}").as_str())
            );
            assert_eq!(found.object_type.as_deref(), Some("Group"));
            assert_eq!(found.object_id.as_deref(), Some("f2e5c4a1-group"));
            assert_ne!(Family::of(event_type), Family::Unknown, "{event_type}");
        }
        assert_eq!(Family::of("TextMessageCreated"), Family::Messages);
        assert_eq!(Family::of("SurveyResponse"), Family::Actions);
        assert_eq!(Family::of("JobResponse"), Family::Jobs);
        assert_eq!(Family::of("MemberRemoved"), Family::Membership);
        assert_eq!(Family::of("GroupAdded"), Family::Groups);
    }

    #[test]
    fn documented_data_shapes_are_recognised() {
        let shapes = [
            event("TextMessageCreated", json!({"text": "hello"})),
            event(
                "SurveyResponse",
                json!({"actionId": "a", "responseDetails": {"responseWithQuestions": [
                    {"title": "Q", "type": "Text", "answer": "yes", "isInvisible": false}]}}),
            ),
            event(
                "JobResponse",
                json!({"responseDetails": {"response": {"assignee": "+1", "isCompleted": true}}}),
            ),
            event(
                "MemberAdded",
                json!({"member": "+1", "memberName": "B", "type": "Member"}),
            ),
        ];
        for shape in &shapes {
            assert!(both(shape).is_some(), "{shape}");
        }
    }

    #[test]
    fn unknown_event_types_are_still_events() {
        let found = both(&event("PollClosedSomeday", json!(null))).expect("recognised");
        assert_eq!(found.event_type, "PollClosedSomeday");
        assert_eq!(Family::of(&found.event_type), Family::Unknown);
    }

    #[test]
    fn odd_field_types_are_read_leniently() {
        let value = json!({"eventType": "TextMessageCreated", "eventId": 12345,
                           "objectType": ["Group"], "objectId": {"id": 1}});
        let found = both(&value).expect("recognised");
        assert_eq!(found.event_id.as_deref(), Some("12345"));
        assert_eq!(found.object_type, None);
        assert_eq!(found.object_id, None);
    }

    #[test]
    fn not_kaizala_gives_none() {
        let cases = [
            json!(null),
            json!([1, 2, 3]),
            json!("TextMessageCreated"),
            json!(42),
            json!({}),
            json!({"eventType": "TextMessageCreated"}),
            json!({"eventType": 7, "eventId": "x"}),
            json!({"eventType": "  ", "eventId": "x"}),
            json!({"eventType": "TextMessageCreated", "eventId": null}),
            // Azure Event Grid also says eventType, but has none of Kaizala's ids.
            json!({"id": "1", "eventType": "Microsoft.Storage.BlobCreated", "subject": "/x"}),
        ];
        for case in &cases {
            assert_eq!(both(case), None, "{case}");
        }
    }

    #[test]
    fn malformed_and_hostile_bytes_give_none() {
        let deep = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
        let cases: [&[u8]; 7] = [
            b"",
            b"   ",
            b"{\"eventType\": \"TextMessageCreated\", \"eventId\": ",
            b"{not json}",
            &[0xff, 0xfe, 0x00, 0x7b],
            b"{\"eventType\":\"\\ud800\",\"eventId\":\"x\"}",
            deep.as_bytes(),
        ];
        for case in cases {
            let _ = recognise_bytes(case);
        }
        assert_eq!(recognise_bytes(deep.as_bytes()), None);
        assert_eq!(recognise_bytes(b"{not json}"), None);
    }

    #[test]
    fn repeated_keys_and_deep_nesting_are_read_as_serde_json_reads_them() {
        // fuzz/artifacts/kaizala/crash-1de4ad04: a repeated objectType; the last one counts.
        let repeated = r#"{"objectType":"Group","eventType":"TextMessageCreated","objectType":"Action","eventId":"e"}"#;
        let found = recognise_bytes(repeated.as_bytes()).expect("recognised");
        assert_eq!(found.object_type.as_deref(), Some("Action"));
        assert_eq!(Some(found), both_bytes(repeated));
        // Nesting past serde_json's limit inside the data: not recognised.
        let deep = format!(
            r#"{{"eventType":"MemberAdded","eventId":"e","data":{}1{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert_eq!(both_bytes(&deep), None);
        assert_eq!(recognise_bytes(deep.as_bytes()), None);
        // A lone surrogate in another field.
        let surrogate = r#"{"eventType":"MemberAdded","eventId":"e","x":"\ud800"}"#;
        assert_eq!(recognise_bytes(surrogate.as_bytes()), both_bytes(surrogate));
    }

    /// What `recognise` says of a body (parsed into a `Value` first).
    fn both_bytes(body: &str) -> Option<KaizalaEvent> {
        serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|value| recognise(&value))
    }

    #[test]
    fn a_body_that_is_not_utf8_is_not_an_event() {
        // fuzz/artifacts/kaizala/crash-69b9dcba: bad UTF-8 inside another field.
        let mut body = br#"{"objectType":"Group","objectId":"g","eventType":"SurveyResponse","eventId":"e","data":{"title":""#.to_vec();
        body.extend_from_slice(&[0xb3, 0x99]);
        body.extend_from_slice(br#""}}"#);
        assert!(serde_json::from_slice::<Value>(&body).is_err());
        assert_eq!(recognise_bytes(&body), None);
    }

    #[test]
    fn a_key_spelled_with_escapes_is_still_found() {
        let escaped = br#"{"event\u0054ype": "MemberAdded", "objectId": "g1"}"#;
        let found = recognise_bytes(escaped).expect("recognised");
        assert_eq!(found.event_type, "MemberAdded");
        assert_eq!(recognise_bytes(br#"{"type": "push", "ref": "main"}"#), None);
    }

    #[test]
    fn long_values_are_clipped() {
        let long = "x".repeat(5_000);
        let found = both(&json!({"eventType": long, "eventId": long})).expect("recognised");
        assert_eq!(found.event_type.chars().count(), MAX_FIELD_CHARS);
        assert_eq!(found.event_id.map(|id| id.len()), Some(MAX_FIELD_CHARS));
    }
}
