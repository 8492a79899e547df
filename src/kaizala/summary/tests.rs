//! Unit tests for Kaizala summaries: every documented event type, odd shapes and hostile values.
use super::*;
use serde_json::json;

/// A Kaizala event of `event_type` as a group sends it, with `data` as its payload.
pub(crate) fn event(event_type: &str, data: Value) -> Value {
    json!({
        "objectId": "f2e5c4a1-group",
        "objectType": "Group",
        "eventType": event_type,
        "eventId": format!("evt-{event_type}"),
        "data": data,
        "context": "ctx-42",
        "fromUser": "+15550100",
        "fromUserId": "u-1",
        "fromUserName": "Asha",
        "fromUserProfilePic": "https://kaizala.example/pics/asha.jpg",
    })
}

fn details_of(event_type: &str, data: Value) -> Details {
    summarise(&event(event_type, data)).unwrap().details
}

fn web(url: &str) -> Link {
    Link {
        text: url.to_owned(),
        href: Some(url.to_owned()),
    }
}

/// A flattened answer, as shown for types we do not read.
fn text(answer: &str) -> Answer {
    Answer::Text(answer.to_owned())
}

fn choice(title: &str, chosen: bool) -> Choice {
    Choice {
        title: title.to_owned(),
        chosen,
    }
}

fn survey_data() -> Value {
    json!({
        "actionId": "act-1",
        "groupId": "grp-1",
        "responseId": "resp-1",
        "responder": "+15550111",
        "responderName": "Bina",
        "responderProfilePic": "https://kaizala.example/pics/bina.jpg",
        "isAnonymous": false,
        "isUpdateResponse": true,
        "responseDetails": {"responseWithQuestions": [
            {"title": "Name", "type": "Text", "options": [], "answer": "Bina", "isInvisible": false},
            {"title": "Colour", "type": "SingleOption",
             "options": [{"title": "Red"}, {"title": "Blue"}], "answer": [{"title": "Blue"}],
             "isInvisible": false},
            {"title": "Count", "type": "Numeric", "options": [], "answer": 3, "isInvisible": false},
            {"title": "Where", "type": "Location", "answer": {"lt": 1.5, "lg": 2.5},
             "isInvisible": true},
        ]},
    })
}

fn assert_response(details: Details) -> Vec<Question> {
    let Details::Response {
        action_id,
        package_id,
        group_id,
        response_id,
        responder,
        anonymous,
        update,
        questions,
    } = details
    else {
        panic!("not a response: {details:?}");
    };
    assert_eq!(action_id.as_deref(), Some("act-1"));
    assert_eq!(package_id, None);
    assert_eq!(group_id.as_deref(), Some("grp-1"));
    assert_eq!(response_id.as_deref(), Some("resp-1"));
    let responder = responder.unwrap();
    assert_eq!(responder.name.as_deref(), Some("Bina"));
    assert_eq!(responder.phone.as_deref(), Some("+15550111"));
    assert_eq!(
        responder.picture,
        Some(web("https://kaizala.example/pics/bina.jpg"))
    );
    assert_eq!(anonymous, Some(false));
    assert_eq!(update, Some(true));
    questions
}

#[test]
fn text_message_created_shows_sender_and_text() {
    let summary = summarise(&event("TextMessageCreated", json!({"text": "hello"}))).unwrap();
    assert_eq!(summary.event_type, "TextMessageCreated");
    assert_eq!(summary.family, Family::Messages);
    assert_eq!(summary.family_name(), "messages");
    assert_eq!(summary.object_type.as_deref(), Some("Group"));
    assert_eq!(summary.object_id.as_deref(), Some("f2e5c4a1-group"));
    assert_eq!(summary.event_id.as_deref(), Some("evt-TextMessageCreated"));
    assert_eq!(summary.context.as_deref(), Some("ctx-42"));
    let sender = summary.sender.unwrap();
    assert_eq!(sender.name.as_deref(), Some("Asha"));
    assert_eq!(sender.phone.as_deref(), Some("+15550100"));
    assert_eq!(sender.id.as_deref(), Some("u-1"));
    assert_eq!(
        sender.picture,
        Some(web("https://kaizala.example/pics/asha.jpg"))
    );
    assert_eq!(
        summary.details,
        Details::Message {
            text: Some("hello".to_owned())
        }
    );
    assert_eq!(summary.details.name(), "message");
}

#[test]
fn attachment_created_shows_media() {
    let details = details_of(
        "AttachmentCreated",
        json!({
            "actionType": "Image",
            "caption": "the view",
            "media": [{"mediaUrl": "https://cdn.example/a.jpg", "mediaFileName": "a.jpg"}],
        }),
    );
    assert_eq!(details.name(), "attachment");
    assert_eq!(
        details,
        Details::Attachment {
            action_type: Some("Image".to_owned()),
            caption: Some("the view".to_owned()),
            media: vec![Media {
                file_name: Some("a.jpg".to_owned()),
                link: Some(web("https://cdn.example/a.jpg")),
            }],
        }
    );
}

#[test]
fn announcement_reads_both_media_spellings() {
    let details = details_of(
        "Announcement",
        json!({
            "title": "Road closed",
            "text": "Use the north gate",
            "media": [
                {"url": "https://cdn.example/map.png", "fileName": "map.png"},
                {"mediaUrl": "https://cdn.example/b.pdf", "mediaFileName": "b.pdf"},
            ],
        }),
    );
    assert_eq!(details.name(), "announcement");
    let Details::Announcement { title, text, media } = details else {
        panic!("not an announcement");
    };
    assert_eq!(title.as_deref(), Some("Road closed"));
    assert_eq!(text.as_deref(), Some("Use the north gate"));
    let names: Vec<_> = media.iter().map(|m| m.file_name.as_deref()).collect();
    assert_eq!(names, [Some("map.png"), Some("b.pdf")]);
    assert_eq!(media[0].link, Some(web("https://cdn.example/map.png")));
    assert_eq!(media[1].link, Some(web("https://cdn.example/b.pdf")));
}

#[test]
fn job_created_shows_title_due_date_and_assignees() {
    let summary = summarise(&event(
        "JobCreated",
        json!({
            "title": "Fix the fence",
            "actionId": "job-1",
            "groupId": "grp-1",
            "dueDate": 1_795_733_333_123_u64,
            "assignedTo": ["+15550111", "+15550112"],
        }),
    ))
    .unwrap();
    assert_eq!(summary.family, Family::Jobs);
    assert_eq!(summary.details.name(), "job-created");
    assert_eq!(
        summary.details,
        Details::JobCreated {
            title: Some("Fix the fence".to_owned()),
            text: None,
            action_id: Some("job-1".to_owned()),
            group_id: Some("grp-1".to_owned()),
            due_date: Some("2026-11-26 22:48 UTC".to_owned()),
            assigned_to: vec!["+15550111".to_owned(), "+15550112".to_owned()],
        }
    );
}

#[test]
fn job_response_shows_assignee_and_completion() {
    let details = details_of(
        "JobResponse",
        json!({
            "actionId": "job-1",
            "groupId": "grp-1",
            "responseId": "resp-9",
            "responseDetails": {"response": {
                "assignee": "+15550111",
                "assigneeName": "Bina",
                "assigneeProfilePic": "https://kaizala.example/pics/bina.jpg",
                "isCompleted": true,
            }},
        }),
    );
    assert_eq!(details.name(), "job-response");
    assert_eq!(
        details,
        Details::JobResponse {
            title: None,
            text: None,
            action_id: Some("job-1".to_owned()),
            group_id: Some("grp-1".to_owned()),
            response_id: Some("resp-9".to_owned()),
            assignee: Some(Person {
                name: Some("Bina".to_owned()),
                phone: Some("+15550111".to_owned()),
                id: None,
                picture: Some(web("https://kaizala.example/pics/bina.jpg")),
            }),
            completed: Some(true),
        }
    );
}

#[test]
fn job_response_reads_string_completion_and_flat_assignee() {
    let details = details_of(
        "JobResponse",
        json!({"assignee": "+15550111", "isCompleted": "FALSE"}),
    );
    let Details::JobResponse {
        assignee,
        completed,
        ..
    } = details
    else {
        panic!("not a job response");
    };
    assert_eq!(assignee.unwrap().phone.as_deref(), Some("+15550111"));
    assert_eq!(completed, Some(false));
}

#[test]
fn action_created_has_questions_and_no_responder() {
    let summary = summarise(&event(
        "ActionCreated",
        json!({
            "actionId": "act-1",
            "groupId": "grp-1",
            "responseDetails": {"responseWithQuestions": [
                {"title": "Attending?", "type": "SingleOption", "options": ["Yes", "No"]},
            ]},
        }),
    ))
    .unwrap();
    assert_eq!(summary.family, Family::Actions);
    assert_eq!(summary.details.name(), "response");
    assert_eq!(
        summary.details,
        Details::Response {
            action_id: Some("act-1".to_owned()),
            package_id: None,
            group_id: Some("grp-1".to_owned()),
            response_id: None,
            responder: None,
            anonymous: None,
            update: None,
            questions: vec![Question {
                title: "Attending?".to_owned(),
                kind: Some("SingleOption".to_owned()),
                answer: Answer::Options(vec![choice("Yes", false), choice("No", false)]),
                hidden: false,
            }],
        }
    );
}

#[test]
fn survey_created_has_no_responder() {
    let details = details_of(
        "SurveyCreated",
        json!({"actionId": "srv-1", "groupId": "grp-1", "isAnonymous": true}),
    );
    let Details::Response {
        action_id,
        responder,
        anonymous,
        questions,
        ..
    } = details
    else {
        panic!("not a response");
    };
    assert_eq!(action_id.as_deref(), Some("srv-1"));
    assert_eq!(responder, None);
    assert_eq!(anonymous, Some(true));
    assert!(questions.is_empty());
}

#[test]
fn action_response_shows_responder_and_answers() {
    let questions = assert_response(details_of("ActionResponse", survey_data()));
    assert_eq!(questions.len(), 4);
    assert_eq!(questions[0].answer, text("Bina"));
}

#[test]
fn survey_response_shows_question_titles_answers_and_hidden_flags() {
    let questions = assert_response(details_of("SurveyResponse", survey_data()));
    let titles: Vec<_> = questions.iter().map(|q| q.title.as_str()).collect();
    assert_eq!(titles, ["Name", "Colour", "Count", "Where"]);
    let answers: Vec<_> = questions.iter().map(|q| q.answer.clone()).collect();
    assert_eq!(
        answers,
        [
            text("Bina"),
            Answer::Options(vec![choice("Red", false), choice("Blue", true)]),
            Answer::Number("3".to_owned()),
            Answer::Location {
                lat: "1.5".to_owned(),
                long: "2.5".to_owned(),
                name: None
            },
        ]
    );
    let hidden: Vec<_> = questions.iter().map(|q| q.hidden).collect();
    assert_eq!(hidden, [false, false, false, true]);
    assert_eq!(questions[1].kind.as_deref(), Some("SingleOption"));
}

#[test]
fn member_added_shows_member_and_role() {
    let summary = summarise(&event(
        "MemberAdded",
        json!({
            "member": "+15550199",
            "memberName": "Chen",
            "memberProfilePic": "https://kaizala.example/pics/chen.jpg",
            "type": "Admin",
        }),
    ))
    .unwrap();
    assert_eq!(summary.family, Family::Membership);
    assert_eq!(summary.details.name(), "member");
    assert_eq!(
        summary.details,
        Details::Member {
            member: Person {
                name: Some("Chen".to_owned()),
                phone: Some("+15550199".to_owned()),
                id: None,
                picture: Some(web("https://kaizala.example/pics/chen.jpg")),
            },
            role: Some("Admin".to_owned()),
        }
    );
}

#[test]
fn member_removed_shows_member_and_role() {
    let details = details_of(
        "MemberRemoved",
        json!({"member": "+15550199", "memberName": "Chen", "type": "Member"}),
    );
    let Details::Member { member, role } = details else {
        panic!("not a member event");
    };
    assert_eq!(member.name.as_deref(), Some("Chen"));
    assert_eq!(member.phone.as_deref(), Some("+15550199"));
    assert_eq!(role.as_deref(), Some("Member"));
}

#[test]
fn member_event_without_member_fields_has_an_empty_person() {
    let details = details_of("MemberAdded", json!({"unexpected": 1}));
    assert_eq!(
        details,
        Details::Member {
            member: Person::default(),
            role: None
        }
    );
}

#[test]
fn group_added_and_removed_are_raw() {
    for event_type in ["GroupAdded", "GroupRemoved"] {
        let summary =
            summarise(&event(event_type, json!({"groupId": "g", "name": "Team"}))).unwrap();
        assert_eq!(summary.family, Family::Groups);
        assert_eq!(summary.details, Details::Raw);
        assert_eq!(summary.details.name(), "raw");
        assert_eq!(summary.sender.unwrap().name.as_deref(), Some("Asha"));
    }
}

#[test]
fn data_that_is_not_an_object_is_raw() {
    for data in [json!(null), json!("hello"), json!(["hello"]), json!(7)] {
        let summary = summarise(&event("TextMessageCreated", data.clone())).unwrap();
        assert_eq!(summary.details, Details::Raw, "{data}");
        assert_eq!(summary.event_id.as_deref(), Some("evt-TextMessageCreated"));
    }
    let mut missing = event("TextMessageCreated", json!(null));
    missing.as_object_mut().unwrap().remove("data");
    assert_eq!(summarise(&missing).unwrap().details, Details::Raw);
}

#[test]
fn unknown_event_type_is_raw_with_badge_info() {
    let summary = summarise(&event("PollClosed", json!({"text": "x"}))).unwrap();
    assert_eq!(summary.event_type, "PollClosed");
    assert_eq!(summary.family, Family::Unknown);
    assert_eq!(summary.family_name(), "unknown");
    assert_eq!(summary.event_id.as_deref(), Some("evt-PollClosed"));
    assert_eq!(summary.object_type.as_deref(), Some("Group"));
    assert_eq!(summary.details, Details::Raw);
}

#[test]
fn non_kaizala_json_is_none() {
    for value in [
        json!(null),
        json!("TextMessageCreated"),
        json!([{"eventType": "TextMessageCreated", "eventId": "x"}]),
        json!({}),
        json!({"eventType": "TextMessageCreated"}),
        json!({"id": "1", "eventType": "Microsoft.Storage.BlobCreated", "subject": "/x"}),
        json!({"action": "opened", "pull_request": {}}),
    ] {
        assert_eq!(summarise(&value), None, "{value}");
    }
}

#[test]
fn text_fields_accept_numbers_and_show_other_shapes_as_json() {
    let text_of = |value: Value| match details_of("TextMessageCreated", json!({"text": value})) {
        Details::Message { text } => text,
        other => panic!("not a message: {other:?}"),
    };
    assert_eq!(text_of(json!(42)).as_deref(), Some("42"));
    assert_eq!(text_of(json!(-1.5)).as_deref(), Some("-1.5"));
    assert_eq!(text_of(json!("  padded  ")).as_deref(), Some("padded"));
    assert_eq!(text_of(json!("   ")), None);
    assert_eq!(text_of(json!(null)), None);
    assert_eq!(text_of(json!(true)).as_deref(), Some("true"));
    assert_eq!(
        text_of(json!({"a": [1, "b"]})).as_deref(),
        Some(r#"{"a":[1,"b"]}"#)
    );
}

#[test]
fn sender_is_none_when_absent_and_accepts_numbers() {
    let bare = json!({"eventType": "TextMessageCreated", "eventId": "e"});
    let summary = summarise(&bare).unwrap();
    assert_eq!(summary.sender, None);
    assert_eq!(summary.context, None);
    assert_eq!(summary.details, Details::Raw);

    let numeric = json!({"eventType": "TextMessageCreated", "eventId": "e",
                         "fromUser": 15_550_100, "fromUserName": ""});
    let sender = summarise(&numeric).unwrap().sender.unwrap();
    assert_eq!(sender.phone.as_deref(), Some("15550100"));
    assert_eq!(sender.name, None);
}

#[test]
fn context_keeps_strings_and_compacts_other_json() {
    let with_context = |context: Value| {
        let mut value = event("TextMessageCreated", json!({}));
        value["context"] = context;
        summarise(&value).unwrap().context
    };
    assert_eq!(with_context(json!(" a b ")).as_deref(), Some(" a b "));
    assert_eq!(
        with_context(json!({"k": [1, 2]})).as_deref(),
        Some(r#"{"k":[1,2]}"#)
    );
    assert_eq!(with_context(json!(5)).as_deref(), Some("5"));
    assert_eq!(with_context(json!(null)), None);
    assert_eq!(with_context(json!("")), None);
}

#[test]
fn media_not_an_array_is_read_leniently() {
    let media_of = |media: Value| match details_of("AttachmentCreated", json!({"media": media})) {
        Details::Attachment { media, .. } => media,
        other => panic!("not an attachment: {other:?}"),
    };
    assert_eq!(
        media_of(json!({"mediaUrl": "https://cdn.example/x", "mediaFileName": "x"})),
        [Media {
            file_name: Some("x".to_owned()),
            link: Some(web("https://cdn.example/x")),
        }]
    );
    assert_eq!(
        media_of(json!("https://cdn.example/y")),
        [Media {
            file_name: None,
            link: Some(web("https://cdn.example/y")),
        }]
    );
    assert!(media_of(json!(12)).is_empty());
    assert!(media_of(json!(true)).is_empty());
    assert!(media_of(json!(null)).is_empty());
}

#[test]
fn media_items_of_odd_shapes() {
    let details = details_of(
        "AttachmentCreated",
        json!({"media": [
            "https://cdn.example/s.jpg",
            "not a url",
            null,
            {},
            {"mediaFileName": 7, "mediaUrl": ["https://cdn.example/z"]},
            42,
        ]}),
    );
    let Details::Attachment { media, .. } = details else {
        panic!("not an attachment");
    };
    assert_eq!(
        media,
        [
            Media {
                file_name: None,
                link: Some(web("https://cdn.example/s.jpg")),
            },
            Media {
                file_name: None,
                link: Some(Link {
                    text: "not a url".to_owned(),
                    href: None
                }),
            },
            Media {
                file_name: Some("7".to_owned()),
                link: Some(Link {
                    text: r#"["https://cdn.example/z"]"#.to_owned(),
                    href: None
                }),
            },
            Media {
                file_name: Some("42".to_owned()),
                link: None,
            },
        ]
    );
}

#[test]
fn answers_of_every_shape_are_flattened() {
    let answer_of = |answer: Value| {
        let data = json!({"responseDetails": {"responseWithQuestions": [
            {"title": "Q", "answer": answer}]}});
        match details_of("SurveyResponse", data) {
            Details::Response { questions, .. } => match &questions[0].answer {
                Answer::Text(text) => text.clone(),
                other => panic!("not flattened: {other:?}"),
            },
            other => panic!("not a response: {other:?}"),
        }
    };
    assert_eq!(answer_of(json!("as is ")), "as is ");
    assert_eq!(answer_of(json!(12.5)), "12.5");
    assert_eq!(answer_of(json!(false)), "false");
    assert_eq!(answer_of(json!(null)), "");
    assert_eq!(
        answer_of(json!(["a", 2, {"title": "c"}, null, ["d"]])),
        r#"a, 2, c, ["d"]"#
    );
    assert_eq!(answer_of(json!({"title": "x"})), r#"{"title":"x"}"#);

    let data = json!({"responseDetails": {"responseWithQuestions": [{"title": "Q"}]}});
    let Details::Response { questions, .. } = details_of("SurveyResponse", data) else {
        panic!("not a response");
    };
    assert_eq!(questions[0].answer, text(""));
}

#[test]
fn odd_questions_are_read_leniently() {
    let questions_of = |questions: Value| {
        let data = json!({"responseDetails": {"responseWithQuestions": questions}});
        match details_of("SurveyResponse", data) {
            Details::Response { questions, .. } => questions,
            other => panic!("not a response: {other:?}"),
        }
    };
    assert!(questions_of(json!("Q1")).is_empty());
    assert!(questions_of(json!(3)).is_empty());
    assert!(questions_of(json!(null)).is_empty());

    let single = questions_of(json!({"title": "Only", "answer": "yes"}));
    assert_eq!(single.len(), 1);
    assert_eq!(single[0].title, "Only");

    let odd = questions_of(json!([
        null,
        "bare answer",
        {"type": "Text", "options": "one", "isInvisible": "true"},
        {"title": 5, "options": [{"id": 1}, {"title": "T"}], "isInvisible": 1},
        {"title": "no", "isInvisible": "yes"},
    ]));
    assert_eq!(odd.len(), 4);
    assert_eq!(odd[0].title, UNTITLED);
    assert_eq!(odd[0].answer, text("bare answer"));
    assert_eq!(odd[1].title, UNTITLED);
    assert_eq!(odd[1].answer, text(""));
    assert!(odd[1].hidden);
    assert_eq!(odd[2].title, "5");
    assert_eq!(odd[2].answer, text(""));
    assert!(odd[2].hidden);
    assert!(!odd[3].hidden);

    let Details::Response { questions, .. } = details_of(
        "SurveyResponse",
        json!({"responseDetails": "not an object"}),
    ) else {
        panic!("not a response");
    };
    assert!(questions.is_empty());
}

#[test]
fn flags_accept_bools_strings_and_bits() {
    assert_eq!(flag(&json!(true)), Some(true));
    assert_eq!(flag(&json!("TRUE")), Some(true));
    assert_eq!(flag(&json!(" false ")), Some(false));
    assert_eq!(flag(&json!(1)), Some(true));
    assert_eq!(flag(&json!(0)), Some(false));
    assert_eq!(flag(&json!(2)), None);
    assert_eq!(flag(&json!(-1)), None);
    assert_eq!(flag(&json!("yes")), None);
    assert_eq!(flag(&json!(null)), None);
    assert_eq!(flag(&json!([true])), None);
}

#[test]
fn hostile_urls_are_never_linked() {
    let pic = |url: Value| {
        let mut value = event("TextMessageCreated", json!({}));
        value["fromUserProfilePic"] = url;
        summarise(&value).unwrap().sender.unwrap().picture
    };
    for url in [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "/relative/pic.jpg",
        "//cdn.example/pic.jpg",
        "http://",
        "https://cdn.example/a b.jpg",
        "https://cdn.example/\u{0}.jpg",
        "https://cdn.example/\n.jpg",
        " https://cdn.example/padded.jpg",
        "ftp://cdn.example/pic.jpg",
    ] {
        let link = pic(json!(url)).unwrap();
        assert_eq!(link.href, None, "{url:?}");
        assert_eq!(link.text, url.trim(), "{url:?}");
    }
    assert_eq!(
        pic(json!("HTTPS://cdn.example/Pic.jpg"))
            .unwrap()
            .href
            .as_deref(),
        Some("HTTPS://cdn.example/Pic.jpg")
    );
    assert_eq!(pic(json!({"url": "https://x"})).unwrap().href, None);
    assert_eq!(pic(json!("")), None);
}

#[test]
fn markup_is_kept_as_plain_text() {
    let script = "<script>alert('x')</script>";
    let details = details_of("TextMessageCreated", json!({"text": script}));
    assert_eq!(
        details,
        Details::Message {
            text: Some(script.to_owned())
        }
    );
}

#[test]
fn huge_strings_are_capped_on_a_char_boundary() {
    let huge = "é".repeat(1_000_000);
    let details = details_of("TextMessageCreated", json!({"text": huge}));
    let Details::Message { text: Some(text) } = details else {
        panic!("no text");
    };
    assert_eq!(text.chars().count(), MAX_CHARS + 1);
    assert!(text.ends_with("é…"));

    let exact = "x".repeat(MAX_CHARS);
    assert_eq!(cap(exact.clone()), exact);

    let long_url = format!("https://cdn.example/{}", "a".repeat(MAX_CHARS));
    let link = link(&json!(long_url)).unwrap();
    assert_eq!(link.href, None);
    assert!(link.text.ends_with('…'));

    let answer = flatten(&json!(vec!["word"; 5_000]));
    assert_eq!(answer.chars().count(), "word, ".len() * MAX_ITEMS - 2);
}

#[test]
fn lists_are_capped() {
    let many_media: Vec<Value> = (0..500)
        .map(|i| json!({"mediaUrl": format!("https://cdn.example/{i}")}))
        .collect();
    let Details::Attachment { media, .. } =
        details_of("AttachmentCreated", json!({"media": many_media}))
    else {
        panic!("not an attachment");
    };
    assert_eq!(media.len(), MAX_ITEMS);

    let many_questions = vec![json!({"title": "Q"}); 500];
    let data = json!({"responseDetails": {"responseWithQuestions": many_questions}});
    let Details::Response { questions, .. } = details_of("SurveyResponse", data) else {
        panic!("not a response");
    };
    assert_eq!(questions.len(), MAX_ITEMS);

    let many_phones: Vec<u64> = (0..500).collect();
    let Details::JobCreated { assigned_to, .. } =
        details_of("JobCreated", json!({"assignedTo": many_phones}))
    else {
        panic!("not a job");
    };
    assert_eq!(assigned_to.len(), MAX_ITEMS);
    assert_eq!(assigned_to[199], "199");
}

#[test]
fn assigned_to_accepts_a_single_value() {
    let assignees = |value: Value| match details_of("JobCreated", json!({"assignedTo": value})) {
        Details::JobCreated { assigned_to, .. } => assigned_to,
        other => panic!("not a job: {other:?}"),
    };
    assert_eq!(assignees(json!("+15550111")), ["+15550111"]);
    assert_eq!(assignees(json!(15_550_111)), ["15550111"]);
    assert_eq!(
        assignees(json!(["+1", 2, null, " "])),
        ["+1".to_owned(), "2".to_owned()]
    );
    assert!(assignees(json!(null)).is_empty());
}

#[test]
fn due_dates_format_epoch_milliseconds() {
    let due = |value: Value| due_date(&value);
    assert_eq!(
        due(json!(1_795_733_333_123_u64)).as_deref(),
        Some("2026-11-26 22:48 UTC")
    );
    assert_eq!(due(json!(0)).as_deref(), Some("1970-01-01 00:00 UTC"));
    assert_eq!(
        due(json!(951_782_400_000_u64)).as_deref(),
        Some("2000-02-29 00:00 UTC")
    );
    assert_eq!(
        due(json!(4_107_542_399_000_u64)).as_deref(),
        Some("2100-02-28 23:59 UTC")
    );
    assert_eq!(
        due(json!(MAX_EPOCH_MS)).as_deref(),
        Some("9999-12-31 23:59 UTC")
    );
    assert_eq!(
        due(json!(MAX_EPOCH_MS + 1)).as_deref(),
        Some("253402300800000")
    );
    assert_eq!(
        due(json!(u64::MAX)).as_deref(),
        Some("18446744073709551615")
    );
    assert_eq!(due(json!(-5)).as_deref(), Some("-5"));
    assert_eq!(due(json!(1.5e300)).as_deref(), Some("1.5e+300"));
    assert_eq!(due(json!("next Friday")).as_deref(), Some("next Friday"));
    assert_eq!(due(json!(null)), None);
}

#[test]
fn civil_from_days_matches_known_dates() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(59), (1970, 3, 1));
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    assert_eq!(civil_from_days(11_017), (2000, 3, 1));
    assert_eq!(civil_from_days(19_722), (2023, 12, 31));
}

#[test]
fn details_names_are_distinct() {
    let all = [
        Details::Message { text: None },
        Details::Attachment {
            action_type: None,
            caption: None,
            media: Vec::new(),
        },
        Details::Announcement {
            title: None,
            text: None,
            media: Vec::new(),
        },
        Details::JobCreated {
            title: None,
            text: None,
            action_id: None,
            group_id: None,
            due_date: None,
            assigned_to: Vec::new(),
        },
        Details::JobResponse {
            title: None,
            text: None,
            action_id: None,
            group_id: None,
            response_id: None,
            assignee: None,
            completed: None,
        },
        Details::Response {
            action_id: None,
            package_id: None,
            group_id: None,
            response_id: None,
            responder: None,
            anonymous: None,
            update: None,
            questions: Vec::new(),
        },
        Details::Member {
            member: Person::default(),
            role: None,
        },
        Details::Raw,
    ];
    let names: Vec<_> = all.iter().map(Details::name).collect();
    assert_eq!(
        names,
        [
            "message",
            "attachment",
            "announcement",
            "job-created",
            "job-response",
            "response",
            "member",
            "raw"
        ]
    );
}

/// Every field of every event type, set to every awkward shape, must summarise without
/// panicking and keep the badge information.
#[test]
fn wrong_types_everywhere_never_panic() {
    let odd = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1e308),
        json!(u64::MAX),
        json!(""),
        json!("javascript:alert(1)"),
        json!([]),
        json!([null, 1, "x", [], {}]),
        json!({}),
        json!({"title": {"title": []}}),
    ];
    let fields = "text media actionType caption title actionId groupId dueDate assignedTo \
        responseId responseDetails responder responderName responderProfilePic isAnonymous \
        isUpdateResponse member memberName memberProfilePic type";
    let top = "fromUser fromUserId fromUserName fromUserProfilePic context objectId objectType";
    let event_types = "TextMessageCreated AttachmentCreated Announcement JobCreated \
        JobResponse ActionCreated SurveyCreated ActionResponse SurveyResponse MemberAdded \
        MemberRemoved GroupAdded GroupRemoved";
    let nested = |value: &Value| {
        json!({
            "response": {"assignee": value, "assigneeName": value, "isCompleted": value},
            "responseWithQuestions": [
                value,
                {"title": value, "type": value, "options": value, "answer": value,
                 "isInvisible": value},
                {"options": [value], "answer": [value]},
            ],
        })
    };
    for event_type in event_types.split_whitespace() {
        for value in &odd {
            for field in fields.split_whitespace() {
                let mut data = survey_data();
                data[field] = value.clone();
                let summary = summarise(&event(event_type, data)).unwrap();
                assert_eq!(summary.event_type, event_type);
            }
            for field in top.split_whitespace() {
                let mut whole = event(event_type, survey_data());
                whole[field] = value.clone();
                assert!(summarise(&whole).is_some());
            }
            let mut data = survey_data();
            data["responseDetails"] = nested(value);
            data["media"] = json!([value, {"mediaUrl": value, "fileName": value}]);
            assert!(summarise(&event(event_type, data)).is_some());
            assert!(summarise(&event(event_type, value.clone())).is_some());
        }
    }
}

#[test]
fn a_payload_shaped_like_another_type_gives_an_empty_summary() {
    // Kaizala's own Member sample is labelled JobResponse: the JobResponse reader finds none
    // of its fields, so the page shows the body instead.
    let member_data = json!({"member": "+15550101", "memberName": "Ravi", "type": "Member"});
    assert!(details_of("JobResponse", member_data.clone()).is_empty());
    assert!(!details_of("MemberAdded", member_data).is_empty());
    assert!(!details_of("TextMessageCreated", json!({"text": "hi"})).is_empty());
    assert!(details_of("TextMessageCreated", json!({})).is_empty());
    assert!(details_of("GroupAdded", json!({"groupId": "g"})).is_empty());
}

#[test]
fn a_payload_that_follows_the_doc_table_lists_its_questions() {
    // The documentation's ActionCreated/SurveyCreated table names the list `questions`.
    let data = json!({
        "actionId": "a-1",
        "questions": [
            {"title": "Which day?", "type": "SingleOption", "options": [{"title": "Mon"}, {"title": "Tue"}]},
            {"title": "How many?", "type": "Numeric"}
        ]
    });
    let Details::Response { questions, .. } = details_of("SurveyCreated", data) else {
        panic!("not a response");
    };
    let titles: Vec<&str> = questions.iter().map(|q| q.title.as_str()).collect();
    assert_eq!(titles, ["Which day?", "How many?"]);
    assert_eq!(
        questions[0].answer,
        Answer::Options(vec![choice("Mon", false), choice("Tue", false)])
    );
    assert_eq!(questions[1].answer, text(""));
    // When both come, the responses' own list is the one shown.
    let both = json!({
        "questions": [{"title": "from the table"}],
        "responseDetails": {"responseWithQuestions": [{"title": "from the response"}]}
    });
    let Details::Response { questions, .. } = details_of("SurveyResponse", both) else {
        panic!("not a response");
    };
    assert_eq!(questions[0].title, "from the response");
}

#[test]
fn jobs_show_title_and_text_and_actions_their_package() {
    let job = json!({"title": "Fix the fence", "text": "Bring nails", "actionId": "job-1"});
    for event_type in ["JobCreated", "JobResponse"] {
        let details = details_of(event_type, job.clone());
        let (title, text) = match &details {
            Details::JobCreated { title, text, .. } | Details::JobResponse { title, text, .. } => {
                (title.clone(), text.clone())
            }
            other => panic!("{event_type}: {other:?}"),
        };
        assert_eq!(title.as_deref(), Some("Fix the fence"), "{event_type}");
        assert_eq!(text.as_deref(), Some("Bring nails"), "{event_type}");
    }
    for key in ["actionPackageId", "packageId"] {
        let data = json!({ key: "com.example.poll", "actionId": "a-1" });
        let Details::Response { package_id, .. } = details_of("ActionResponse", data) else {
            panic!("not a response");
        };
        assert_eq!(package_id.as_deref(), Some("com.example.poll"), "{key}");
    }
}

/// The answers of one response, read from `responseWithQuestions`.
fn answers_of(questions: Value) -> Vec<Answer> {
    let data = json!({"responseDetails": {"responseWithQuestions": questions}});
    match details_of("SurveyResponse", data) {
        Details::Response { questions, .. } => questions.into_iter().map(|q| q.answer).collect(),
        other => panic!("not a response: {other:?}"),
    }
}

/// The answer to one question of `kind`, offering `options`.
fn answer_to(kind: &str, options: Value, answer: Value) -> Answer {
    let mut answers =
        answers_of(json!([{"title": "Q", "type": kind, "options": options, "answer": answer}]));
    answers.remove(0)
}

fn location(lat: &str, long: &str, name: Option<&str>) -> Answer {
    Answer::Location {
        lat: lat.to_owned(),
        long: long.to_owned(),
        name: name.map(str::to_owned),
    }
}

#[test]
fn action_package_response_reads_answers_by_question_type() {
    // The shape of Kaizala's ActionResponse sample for a webhook on an action package.
    let payload = json!({
        "objectId": "com.contoso.attendance.v1",
        "objectType": "ActionPackage",
        "eventType": "ActionResponse",
        "eventId": "0b4f1c5e-8e3a-4c8d-9d4f-3a1b2c3d4e5f",
        "data": {
            "actionId": "3f2e1d0c-action",
            "actionPackageId": "com.contoso.attendance.v1",
            "groupId": "a1b2c3d4-group",
            "responseId": "9a8b7c6d-response",
            "isUpdateResponse": false,
            "isAnonymous": false,
            "responder": "+911234567890",
            "responderName": "Asha",
            "responderProfilePic": "https://kaizala.example/pics/asha.jpg",
            "responseDetails": {"responseWithQuestions": [
                {"title": "Will you attend?", "type": "SingleOption",
                 "options": [{"title": "Yes"}, {"title": "No"}], "answer": 0,
                 "isInvisible": false},
                {"title": "Hours worked", "type": "Numeric", "options": [], "answer": 42.5,
                 "isInvisible": false},
                {"title": "Where are you?", "type": "Location", "options": [],
                 "answer": {"lt": 47.6423, "lg": -122.1368, "n": "Redmond", "acc": 12},
                 "isInvisible": false},
            ]},
        },
        "fromUser": "+911234567890",
        "fromUserId": "u-asha",
        "fromUserName": "Asha",
        "fromUserProfilePic": "https://kaizala.example/pics/asha.jpg",
    });
    let summary = summarise(&payload).unwrap();
    assert_eq!(summary.object_type.as_deref(), Some("ActionPackage"));
    let Details::Response {
        package_id,
        questions,
        ..
    } = summary.details
    else {
        panic!("not a response");
    };
    assert_eq!(package_id.as_deref(), Some("com.contoso.attendance.v1"));
    let kinds: Vec<_> = questions.iter().map(|q| q.kind.as_deref()).collect();
    assert_eq!(
        kinds,
        [Some("SingleOption"), Some("Numeric"), Some("Location")]
    );
    let answers: Vec<_> = questions.into_iter().map(|q| q.answer).collect();
    assert_eq!(
        answers,
        [
            Answer::Options(vec![choice("Yes", true), choice("No", false)]),
            Answer::Number("42.5".to_owned()),
            location("47.6423", "-122.1368", Some("Redmond")),
        ]
    );
}

#[test]
fn option_answers_pick_by_index_title_or_option_object() {
    let yes_no = json!([{"title": "Yes"}, {"title": "No"}]);
    let chosen_yes = Answer::Options(vec![choice("Yes", true), choice("No", false)]);
    for answer in [
        json!(0),
        json!([0]),
        json!("Yes"),
        json!(["Yes"]),
        json!(" Yes "),
        json!("0"),
        json!({"title": "Yes"}),
        json!([{"title": "Yes", "id": "y"}]),
    ] {
        assert_eq!(
            answer_to("SingleOption", yes_no.clone(), answer.clone()),
            chosen_yes,
            "{answer}"
        );
    }
    // Options as bare strings, and the type's case as sent by hand-written payloads.
    assert_eq!(
        answer_to("singleoption", json!(["Yes", "No"]), json!(1)),
        Answer::Options(vec![choice("Yes", false), choice("No", true)])
    );
    // No answer yet (a Created event) still lists what is offered.
    for answer in [json!(null), json!([]), json!(""), json!([null])] {
        assert_eq!(
            answer_to("SingleOption", yes_no.clone(), answer.clone()),
            Answer::Options(vec![choice("Yes", false), choice("No", false)]),
            "{answer}"
        );
    }
    // A title that looks like an index is still read as the title.
    assert_eq!(
        answer_to("SingleOption", json!(["2", "1", "0"]), json!("0")),
        Answer::Options(vec![
            choice("2", false),
            choice("1", false),
            choice("0", true)
        ])
    );
}

#[test]
fn multi_option_answers_mark_every_chosen_option() {
    let options = json!([{"title": "Tea", "id": "t"}, {"title": "Coffee"}, {"title": "Water"}]);
    let tea_and_water = Answer::Options(vec![
        choice("Tea", true),
        choice("Coffee", false),
        choice("Water", true),
    ]);
    for answer in [
        json!([0, 2]),
        json!(["Tea", "Water"]),
        json!([2, "Tea"]),
        json!([{"title": "Water"}, {"title": "Tea"}]),
        json!([0, 0, 2]),
    ] {
        assert_eq!(
            answer_to("MultiOption", options.clone(), answer.clone()),
            tea_and_water,
            "{answer}"
        );
    }
    // A null option keeps its place, so later indexes still point at the right one.
    assert_eq!(
        answer_to("MultiOption", json!(["A", null, "C"]), json!([2])),
        Answer::Options(vec![choice("A", false), choice("C", true)])
    );
}

#[test]
fn odd_option_answers_fall_back_to_the_flattened_answer() {
    let yes_no = json!([{"title": "Yes"}, {"title": "No"}]);
    // An index out of range, a title not offered, a pick of no known shape: the answer is
    // shown as it came rather than as a wrong choice.
    for (answer, shown) in [
        (json!(2), "2"),
        (json!([0, 7]), "0, 7"),
        (json!(-1), "-1"),
        (json!(0.5), "0.5"),
        (json!(u64::MAX), "18446744073709551615"),
        (json!("Maybe"), "Maybe"),
        (json!(true), "true"),
        (json!({"id": "y"}), r#"{"id":"y"}"#),
        (json!([[0]]), "[0]"),
    ] {
        for kind in ["SingleOption", "MultiOption"] {
            assert_eq!(
                answer_to(kind, yes_no.clone(), answer.clone()),
                text(shown),
                "{kind} {answer}"
            );
        }
    }
    // An index pointing at a null option; options that are not a list, or a list of nothing.
    for (options, answer, shown) in [
        (json!([null, "No"]), json!(0), "0"),
        (json!("Yes, No"), json!("Yes"), "Yes"),
        (json!({"title": "Yes"}), json!(0), "0"),
        (json!([]), json!("Noodles"), "Noodles"),
        (json!([null]), json!(null), ""),
    ] {
        assert_eq!(
            answer_to("SingleOption", options.clone(), answer.clone()),
            text(shown),
            "{options} {answer}"
        );
    }
    let no_options = answers_of(json!([{"title": "Q", "type": "SingleOption", "answer": "Yes"}]));
    assert_eq!(no_options, [text("Yes")]);
}

#[test]
fn date_time_answers_are_dates() {
    let date = |value: Value| answer_to("DateTime", json!([]), value);
    let expected = Answer::Date("2026-11-26 22:48 UTC".to_owned());
    assert_eq!(date(json!(1_795_733_333_123_u64)), expected);
    assert_eq!(date(json!("1795733333123")), expected);
    assert_eq!(date(json!(" 1795733333123 ")), expected);
    assert_eq!(
        answer_to("Date", json!([]), json!(951_782_400_000_u64)),
        Answer::Date("2000-02-29 00:00 UTC".to_owned())
    );
    // Not epoch milliseconds: shown as sent.
    assert_eq!(date(json!("next Friday")), text("next Friday"));
    assert_eq!(date(json!(-5)), text("-5"));
    assert_eq!(date(json!(1.5)), text("1.5"));
    assert_eq!(date(json!(MAX_EPOCH_MS + 1)), text("253402300800000"));
    assert_eq!(
        date(json!("99999999999999999999")),
        text("99999999999999999999")
    );
    assert_eq!(date(json!([1_795_733_333_123_u64])), text("1795733333123"));
    assert_eq!(date(json!(null)), text(""));
}

#[test]
fn attachment_answers_are_safe_links_with_file_names() {
    let files = answer_to(
        "AttachmentList",
        json!([]),
        json!([
            {"mediaUrl": "https://cdn.example/report.pdf", "mediaFileName": "report.pdf"},
            {"url": "javascript:alert(1)", "fileName": "click-me.pdf"},
            {"url": "HTTP://cdn.example/photo.jpg", "fileName": "photo.jpg"},
            null,
        ]),
    );
    assert_eq!(
        files,
        Answer::Attachments(vec![
            Media {
                file_name: Some("report.pdf".to_owned()),
                link: Some(web("https://cdn.example/report.pdf")),
            },
            Media {
                file_name: Some("click-me.pdf".to_owned()),
                link: Some(Link {
                    text: "javascript:alert(1)".to_owned(),
                    href: None,
                }),
            },
            Media {
                file_name: Some("photo.jpg".to_owned()),
                link: Some(web("HTTP://cdn.example/photo.jpg")),
            },
        ])
    );
    // An Image question answered with one URL, or one file on its own.
    assert_eq!(
        answer_to("Image", json!([]), json!("https://cdn.example/i.png")),
        Answer::Attachments(vec![Media {
            file_name: None,
            link: Some(web("https://cdn.example/i.png")),
        }])
    );
    assert_eq!(
        answer_to(
            "Document",
            json!([]),
            json!({"mediaUrl": "data:text/html,<b>x</b>", "mediaFileName": "x.html"})
        ),
        Answer::Attachments(vec![Media {
            file_name: Some("x.html".to_owned()),
            link: Some(Link {
                text: "data:text/html,<b>x</b>".to_owned(),
                href: None,
            }),
        }])
    );
    // Anything that is not a file is shown as it came, never dropped.
    let attachment = |value: Value| answer_to("AttachmentList", json!([]), value);
    assert_eq!(
        attachment(json!([{"mediaUrl": "https://cdn.example/a"}, {"size": 3}])),
        text(r#"{"mediaUrl":"https://cdn.example/a"}, {"size":3}"#)
    );
    assert_eq!(attachment(json!([1, 2])), text("1, 2"));
    assert_eq!(attachment(json!(7)), text("7"));
    assert_eq!(attachment(json!([])), text(""));
    assert_eq!(attachment(json!(null)), text(""));
}

#[test]
fn location_answers_show_coordinates_and_name() {
    let place = |value: Value| answer_to("Location", json!([]), value);
    assert_eq!(
        place(json!({"lt": 47.6, "lg": -122.1, "n": "Redmond", "acc": 12})),
        location("47.6", "-122.1", Some("Redmond"))
    );
    assert_eq!(
        place(json!({"lt": "-33.86", "lg": "151.21"})),
        location("-33.86", "151.21", None)
    );
    assert_eq!(
        place(json!({"lt": 0, "lg": 180, "n": "  "})),
        location("0", "180", None)
    );
    // Missing or impossible coordinates: the answer as compact JSON.
    assert_eq!(
        place(json!({"lt": 47.6, "n": "Redmond"})),
        text(r#"{"lt":47.6,"n":"Redmond"}"#)
    );
    assert_eq!(
        place(json!({"lt": 91, "lg": 0})),
        text(r#"{"lg":0,"lt":91}"#)
    );
    assert_eq!(
        place(json!({"lt": "north", "lg": 0})),
        text(r#"{"lg":0,"lt":"north"}"#)
    );
    assert_eq!(
        place(json!({"lt": "NaN", "lg": "inf"})),
        text(r#"{"lg":"inf","lt":"NaN"}"#)
    );
    assert_eq!(place(json!([47.6, -122.1])), text("47.6, -122.1"));
    assert_eq!(place(json!("Redmond")), text("Redmond"));
    assert_eq!(place(json!(null)), text(""));
}

#[test]
fn numeric_answers_are_numbers_as_written() {
    let number = |value: Value| answer_to("Numeric", json!([]), value);
    let n = |text: &str| Answer::Number(text.to_owned());
    assert_eq!(number(json!(42)), n("42"));
    assert_eq!(number(json!(-3)), n("-3"));
    assert_eq!(number(json!(42.5)), n("42.5"));
    assert_eq!(number(json!(u64::MAX)), n("18446744073709551615"));
    assert_eq!(number(json!(" 0.25 ")), n("0.25"));
    assert_eq!(number(json!("-1e3")), n("-1e3"));
    assert_eq!(number(json!("007")), n("007"));
    assert_eq!(number(json!("inf")), text("inf"));
    assert_eq!(number(json!("NaN")), text("NaN"));
    assert_eq!(number(json!("12 apples")), text("12 apples"));
    assert_eq!(number(json!("1.2.3")), text("1.2.3"));
    assert_eq!(number(json!("")), text(""));
    assert_eq!(number(json!([1, 2])), text("1, 2"));
    assert_eq!(number(json!(null)), text(""));
}

#[test]
fn unknown_question_types_keep_the_flattened_answer() {
    let answers = answers_of(json!([
        {"title": "Mood", "type": "Rating", "answer": 4},
        {"title": "Note", "type": "Text", "answer": "fine"},
        {"title": "Pick", "options": ["A", "B"], "answer": 0},
        {"title": "Odd", "type": ["SingleOption"], "options": ["A"], "answer": 0},
    ]));
    assert_eq!(answers, [text("4"), text("fine"), text("0"), text("0")]);
}

#[test]
fn typed_answers_are_capped() {
    let options: Vec<Value> = (0..500)
        .map(|i| json!({ "title": format!("o{i}") }))
        .collect();
    let picks: Vec<u64> = (0..MAX_ITEMS as u64).collect();
    let Answer::Options(choices) = answer_to("MultiOption", json!(options), json!(picks)) else {
        panic!("not options");
    };
    assert_eq!(choices.len(), MAX_ITEMS);
    assert!(choices.iter().all(|c| c.chosen));
    // An index beyond the options shown cannot be marked, so the answer is shown as sent.
    assert_eq!(
        answer_to("SingleOption", json!(options), json!(300)),
        text("300")
    );

    let files: Vec<Value> = (0..500)
        .map(|i| json!({"mediaUrl": format!("https://cdn.example/{i}")}))
        .collect();
    let Answer::Attachments(files) = answer_to("AttachmentList", json!([]), json!(files)) else {
        panic!("not attachments");
    };
    assert_eq!(files.len(), MAX_ITEMS);

    let long_title = "t".repeat(3 * MAX_CHARS);
    let Answer::Options(choices) = answer_to("SingleOption", json!([long_title]), json!(0)) else {
        panic!("not options");
    };
    assert_eq!(choices[0].title.chars().count(), MAX_CHARS + 1);
    assert!(choices[0].chosen);
}

/// Every typed reader, given every awkward value as its answer and its options, must not
/// panic; and a question of a type it reads must still be read when the shape is right.
#[test]
fn typed_answers_never_panic() {
    let odd = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1e308),
        json!(u64::MAX),
        json!(""),
        json!("javascript:alert(1)"),
        json!([]),
        json!([null, 1, "x", [], {}]),
        json!({}),
        json!({"lt": [], "lg": {}, "n": []}),
        json!({"title": {"title": []}}),
        json!([{"mediaUrl": 5, "url": [], "fileName": {}}]),
    ];
    let kinds = "SingleOption MultiOption AttachmentList Image Document DateTime Date Location \
        Numeric Text";
    for kind in kinds.split_whitespace() {
        for options in &odd {
            for answer in &odd {
                let answers = answers_of(json!([
                    {"title": "Q", "type": kind, "options": options, "answer": answer}
                ]));
                assert_eq!(answers.len(), 1, "{kind} {options} {answer}");
            }
        }
    }
}
