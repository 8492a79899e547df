//! Sample Kaizala webhook events, one for each of the 13 types, shaped as Kaizala's
//! documentation and real deliveries show them: Kaizala has been retired, so these stand in for
//! it when a receiver needs something to receive.
//!
//! Every name, phone number and URL in them is a reserved example (`+1 555 01xx`,
//! `example.com`), so a sample never points at a real person or host.

use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::EventType;
use crate::clock::now_millis;

/// The header that carries a webhook registration's `callBackToken`.
pub const CALLBACK_TOKEN_HEADER: &str = "kz-callback-token";

/// The group every sample happens in.
const GROUP_ID: &str = "7c1e9a52-3b8d-4f0e-a6d2-9e4b5c1f8a30";
const GROUP_NAME: &str = "Example Field Team";
/// The job that JobCreated posts and JobResponse completes.
const JOB_ACTION_ID: &str = "b3d6f1a8-52c4-4e97-8a1d-6f0c2e9b7d45";
/// The custom action (a site-visit report) of ActionCreated and ActionResponse.
const SITE_VISIT_ACTION_ID: &str = "e5a2c7f9-1d3b-4a86-9c0e-2b7f4d8a6c13";
const SITE_VISIT_PACKAGE: &str = "com.example.kaizala.sitevisit";
/// The survey of SurveyCreated and SurveyResponse.
const SURVEY_ACTION_ID: &str = "2f9d4b1e-8c6a-4d3f-b5e7-0a1c9e8d7b62";
const SURVEY_PACKAGE: &str = "com.example.kaizala.survey";

const DAY_MS: i64 = 86_400_000;

/// What a webhook registration would have set.
#[derive(Debug, Clone, Copy, Default)]
pub struct SampleOptions<'a> {
    /// The registration's `callBackToken`, sent in the `kz-callback-token` header.
    pub callback_token: Option<&'a str>,
    /// The registration's `callBackContext`, echoed in the payload as `context`.
    pub context: Option<&'a str>,
}

/// One sample event, ready to POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The type named in the payload's `eventType`.
    pub event_type: EventType,
    /// The payload's `eventId`: a fresh UUID v4 for every sample.
    pub event_id: String,
    /// The JSON payload.
    pub body: Vec<u8>,
    /// Header names (lowercase) and values to send with it.
    pub headers: Vec<(&'static str, String)>,
}

/// A realistic event of `event_type` with a fresh `eventId`, and the headers Kaizala would send.
pub fn sample(event_type: EventType, options: &SampleOptions) -> Sample {
    let event_id = Uuid::new_v4().to_string();
    let (object_type, object_id) = object_of(event_type);
    let envelope = Envelope {
        object_id,
        object_type,
        event_type: event_type.name(),
        event_id: &event_id,
        data: data(event_type, &event_id, now_millis()),
        context: options.context,
        from_user: "+15550100",
        from_user_id: "4a2f6c8e-1b3d-4e5f-8a7b-9c0d1e2f3a4b",
        is_bot_from_user: false,
        from_user_name: "Asha Rao",
        from_user_profile_pic: "https://media.example.com/profiles/asha-rao.jpg",
    };
    // Cannot fail: every map key is a string, and writing to a Vec does not fail. (A struct
    // rather than `json!` keeps the fields in the order Kaizala sends them.)
    let body = serde_json::to_vec(&envelope).unwrap_or_default();
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(token) = options.callback_token {
        headers.push((CALLBACK_TOKEN_HEADER, token.to_owned()));
    }
    Sample {
        event_type,
        event_id,
        body,
        headers,
    }
}

/// The top level of a callback, in Kaizala's field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    object_id: &'a str,
    object_type: &'a str,
    event_type: &'a str,
    event_id: &'a str,
    data: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    context: Option<&'a str>,
    from_user: &'a str,
    from_user_id: &'a str,
    // Kaizala's own spelling.
    #[serde(rename = "isBotfromUser")]
    is_bot_from_user: bool,
    from_user_name: &'a str,
    from_user_profile_pic: &'a str,
}

/// Where the webhook is registered: responses also arrive on webhooks registered on an action
/// or on an action package, the rest only on a group.
fn object_of(event_type: EventType) -> (&'static str, &'static str) {
    match event_type {
        EventType::ActionResponse => ("ActionPackage", SITE_VISIT_PACKAGE),
        EventType::SurveyResponse => ("Action", SURVEY_ACTION_ID),
        _ => ("Group", GROUP_ID),
    }
}

/// The event-specific `data`. Responses reuse the `eventId` as `responseId`, as Kaizala does.
fn data(event_type: EventType, event_id: &str, now: i64) -> Value {
    match event_type {
        EventType::TextMessageCreated => json!({
            "text": "Site visit done at Depot 4. Photos follow in a minute."
        }),
        EventType::AttachmentCreated => json!({
            "media": [{
                "mediaUrl": "https://media.example.com/attachments/IMG_20240312_101522.jpg",
                "mediaFileName": "IMG_20240312_101522.jpg"
            }],
            "actionType": "Image",
            "caption": "North wall of Depot 4, after the repair"
        }),
        // Kaizala's own Announcement sample names the media fields `url` and `fileName`.
        EventType::Announcement => json!({
            "title": "Sent by Asha Rao",
            "text": "Safety briefing tomorrow at 9:00 in the main hall. Attendance is required.",
            "media": [{
                "url": "https://media.example.com/announcements/safety-briefing.jpeg",
                "fileName": "safety-briefing.jpeg"
            }]
        }),
        EventType::JobCreated => json!({
            "title": "Replace the east gate latch",
            "text": "The latch on the east gate of Depot 4 is broken; bring a spare.",
            "actionId": JOB_ACTION_ID,
            "groupId": GROUP_ID,
            "dueDate": (now / DAY_MS + 3) * DAY_MS,
            "assignedTo": ["+15550101", "+15550102"]
        }),
        EventType::JobResponse => json!({
            "title": "Replace the east gate latch",
            "text": "The latch on the east gate of Depot 4 is broken; bring a spare.",
            "actionId": JOB_ACTION_ID,
            "groupId": GROUP_ID,
            "responseId": event_id,
            "responseDetails": {"response": {
                "assignee": "+15550101",
                "assigneeName": "Ben Okafor",
                "assigneeProfilePic": "https://media.example.com/profiles/ben-okafor.jpg",
                "isCompleted": true
            }}
        }),
        EventType::ActionCreated => json!({
            "actionId": SITE_VISIT_ACTION_ID,
            "actionPackageId": SITE_VISIT_PACKAGE,
            "packageId": format!("{SITE_VISIT_PACKAGE}.2"),
            "groupId": GROUP_ID,
            "title": "Site visit report",
            "questions": unanswered(site_visit(now))
        }),
        EventType::SurveyCreated => json!({
            "actionId": SURVEY_ACTION_ID,
            "actionPackageId": SURVEY_PACKAGE,
            "groupId": GROUP_ID,
            "title": "Team lunch",
            "questions": unanswered(lunch_survey(now))
        }),
        EventType::ActionResponse => json!({
            "actionId": SITE_VISIT_ACTION_ID,
            "actionPackageId": SITE_VISIT_PACKAGE,
            "packageId": format!("{SITE_VISIT_PACKAGE}.2"),
            "groupId": GROUP_ID,
            "responseId": event_id,
            "isUpdateResponse": false,
            "responder": "+15550101",
            "responderName": "Ben Okafor",
            "responderProfilePic": "https://media.example.com/profiles/ben-okafor.jpg",
            "isAnonymous": false,
            "responseDetails": {"responseWithQuestions": site_visit(now)}
        }),
        EventType::SurveyResponse => json!({
            "actionId": SURVEY_ACTION_ID,
            "actionPackageId": SURVEY_PACKAGE,
            "groupId": GROUP_ID,
            "responseId": event_id,
            "isUpdateResponse": true,
            "responder": "+15550102",
            "responderName": "Chen Li",
            "responderProfilePic": "https://media.example.com/profiles/chen-li.jpg",
            "isAnonymous": false,
            "responseDetails": {"responseWithQuestions": lunch_survey(now)}
        }),
        EventType::MemberAdded => json!({
            "member": "+15550103",
            "memberName": "Dana Silva",
            "memberProfilePic": "https://media.example.com/profiles/dana-silva.jpg",
            "type": "Member"
        }),
        EventType::MemberRemoved => json!({
            "member": "+15550104",
            "memberName": "Emil Novak",
            "memberProfilePic": "https://media.example.com/profiles/emil-novak.jpg",
            "type": "Admin"
        }),
        // Undocumented: a subgroup joining or leaving the group the webhook is registered on.
        EventType::GroupAdded => json!({
            "groupId": "9a4c2e7b-6d1f-4b38-8e05-c3f7a1d9b264",
            "groupName": format!("{GROUP_NAME} North"),
            "parentGroupId": GROUP_ID,
            "parentGroupName": GROUP_NAME
        }),
        EventType::GroupRemoved => json!({
            "groupId": "d1b8f5a3-0e7c-4f62-9b4d-8a2e6c0f3b97",
            "groupName": format!("{GROUP_NAME} South"),
            "parentGroupId": GROUP_ID,
            "parentGroupName": GROUP_NAME
        }),
    }
}

/// The site-visit action's questions, answered: a text, a single option answered by index,
/// a number, a location, photos, and the hidden response time Kaizala adds.
fn site_visit(now: i64) -> Value {
    json!([
        {"title": "Site", "type": "Text", "options": [], "answer": "Depot 4, Example Road"},
        {"title": "Condition", "type": "SingleOption",
         "options": [{"title": "Good"}, {"title": "Needs repair"}, {"title": "Unsafe"}],
         "answer": [1]},
        {"title": "Workers on site", "type": "Numeric", "options": [], "answer": 6},
        {"title": "Where", "type": "Location", "options": [],
         "answer": {"lt": 47.6205, "lg": -122.3493, "n": "Example Road, Springfield"}},
        {"title": "Photos", "type": "AttachmentList", "options": [], "answer": [{
            "mediaUrl": "https://media.example.com/attachments/IMG_20240312_101733.jpg",
            "mediaFileName": "IMG_20240312_101733.jpg"
        }]},
        {"title": "ResponseTime", "type": "DateTime", "options": [], "answer": now,
         "isInvisible": true}
    ])
}

/// The lunch survey's questions, answered: a single option answered by title (as real
/// deliveries have it), several options by index, a number, a text, and hidden fields.
fn lunch_survey(now: i64) -> Value {
    json!([
        {"title": "Which day suits you?", "type": "SingleOption",
         "options": [{"title": "Monday"}, {"title": "Wednesday"}, {"title": "Friday"}],
         "answer": ["Wednesday"]},
        {"title": "What should we order?", "type": "MultiOption",
         "options": [{"title": "Pizza"}, {"title": "Salads"}, {"title": "Sandwiches"},
                     {"title": "Soup"}],
         "answer": [1, 2]},
        {"title": "Guests you will bring", "type": "Numeric", "options": [], "answer": 1},
        {"title": "Anything else?", "type": "Text", "options": [],
         "answer": "Vegetarian options, please."},
        {"title": "Responder location", "type": "Location", "options": [],
         "answer": {"lt": 40.7128, "lg": -74.006, "n": "Example Plaza, Springfield"},
         "isInvisible": true},
        {"title": "ResponseTime", "type": "DateTime", "options": [], "answer": now,
         "isInvisible": true}
    ])
}

/// The questions as a Created event lists them: without answers.
fn unanswered(mut questions: Value) -> Value {
    if let Some(list) = questions.as_array_mut() {
        for question in list {
            if let Some(fields) = question.as_object_mut() {
                fields.remove("answer");
            }
        }
    }
    questions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kaizala::{
        recognise_bytes,
        summary::{summarise, Details},
    };
    use std::collections::HashSet;

    fn parsed(sample: &Sample) -> Value {
        serde_json::from_slice(&sample.body).unwrap()
    }

    #[test]
    fn every_type_is_recognised_and_summarised_as_itself() {
        for event_type in EventType::ALL {
            let sample = sample(event_type, &SampleOptions::default());
            let found = recognise_bytes(&sample.body).unwrap_or_else(|| panic!("{event_type:?}"));
            assert_eq!(found.event_type, event_type.name());
            assert_eq!(found.event_id.as_deref(), Some(sample.event_id.as_str()));
            assert!(found.object_type.is_some() && found.object_id.is_some());

            let value = parsed(&sample);
            let summary = summarise(&value).unwrap_or_else(|| panic!("{event_type:?}"));
            assert_eq!(summary.event_type, event_type.name());
            let sender = summary.sender.expect("a sender");
            assert_eq!(sender.phone.as_deref(), Some("+15550100"));
            assert!(sender.picture.and_then(|pic| pic.href).is_some());
            // GroupAdded and GroupRemoved have no documented shape, so their summary is the
            // JSON itself (`Raw`, empty by definition); every other type fills its reader.
            if matches!(event_type, EventType::GroupAdded | EventType::GroupRemoved) {
                assert_eq!(summary.details, Details::Raw, "{}", event_type.name());
                assert!(value["data"]["groupId"].is_string());
            } else {
                assert!(!summary.details.is_empty(), "{}", event_type.name());
            }
        }
    }

    #[test]
    fn responses_carry_every_kind_of_question() {
        let kinds = |event_type| {
            let value = parsed(&sample(event_type, &SampleOptions::default()));
            let Some(Details::Response {
                questions,
                responder,
                ..
            }) = summarise(&value).map(|summary| summary.details)
            else {
                panic!("not a response");
            };
            assert!(responder.is_some());
            questions
                .into_iter()
                .filter_map(|question| question.kind)
                .collect::<HashSet<_>>()
        };
        let mut all = kinds(EventType::ActionResponse);
        all.extend(kinds(EventType::SurveyResponse));
        for kind in [
            "Text",
            "SingleOption",
            "MultiOption",
            "Numeric",
            "Location",
            "DateTime",
            "AttachmentList",
        ] {
            assert!(all.contains(kind), "no {kind} question");
        }
        let created = parsed(&sample(EventType::SurveyCreated, &SampleOptions::default()));
        let questions = created["data"]["questions"].as_array().unwrap();
        assert!(!questions.is_empty());
        assert!(questions
            .iter()
            .all(|question| question.get("answer").is_none()));
    }

    #[test]
    fn the_token_header_is_sent_only_when_given() {
        let without = sample(EventType::TextMessageCreated, &SampleOptions::default());
        assert_eq!(
            without.headers,
            [("content-type", "application/json".to_owned())]
        );
        let with = sample(
            EventType::TextMessageCreated,
            &SampleOptions {
                callback_token: Some("s3cret-token"),
                context: None,
            },
        );
        assert!(with
            .headers
            .contains(&(CALLBACK_TOKEN_HEADER, "s3cret-token".to_owned())));
        assert!(!String::from_utf8_lossy(&with.body).contains("s3cret-token"));
    }

    #[test]
    fn the_context_is_echoed_or_left_out() {
        let options = SampleOptions {
            callback_token: None,
            context: Some("registered from the CLI"),
        };
        for event_type in EventType::ALL {
            let value = parsed(&sample(event_type, &options));
            assert_eq!(value["context"], "registered from the CLI");
            let summary = summarise(&value).unwrap();
            assert_eq!(summary.context.as_deref(), Some("registered from the CLI"));
        }
        let value = parsed(&sample(EventType::MemberAdded, &SampleOptions::default()));
        assert!(value.get("context").is_none());
    }

    #[test]
    fn every_call_gives_a_fresh_event_id() {
        let first = sample(EventType::JobResponse, &SampleOptions::default());
        let second = sample(EventType::JobResponse, &SampleOptions::default());
        assert_ne!(first.event_id, second.event_id);
        assert_eq!(parsed(&first)["eventId"], first.event_id.as_str());
        assert_eq!(
            Uuid::parse_str(&first.event_id).unwrap().get_version_num(),
            4
        );
    }

    #[test]
    fn fields_come_in_kaizalas_order() {
        let body = sample(EventType::TextMessageCreated, &SampleOptions::default()).body;
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(r#"{"objectId":"#), "{text}");
        let position = |key: &str| text.find(&format!("\"{key}\"")).unwrap();
        assert!(position("eventType") < position("eventId"));
        assert!(position("data") < position("fromUser"));
    }

    #[test]
    fn samples_name_only_example_hosts_and_numbers() {
        for event_type in EventType::ALL {
            let value = parsed(&sample(event_type, &SampleOptions::default()));
            let mut strings = Vec::new();
            collect_strings(&value, &mut strings);
            for text in strings {
                if text.contains("://") {
                    assert!(
                        text.starts_with("https://media.example.com/"),
                        "{event_type:?}: {text}"
                    );
                }
                if text.starts_with('+') {
                    assert!(text.starts_with("+1555"), "{event_type:?}: {text}");
                }
            }
        }
    }

    fn collect_strings(value: &Value, into: &mut Vec<String>) {
        match value {
            Value::String(text) => into.push(text.clone()),
            Value::Array(items) => items.iter().for_each(|item| collect_strings(item, into)),
            Value::Object(fields) => fields.values().for_each(|item| collect_strings(item, into)),
            _ => {}
        }
    }
}
