//! Summaries of Kaizala webhook events for the inspect page: plain data (never HTML) that the
//! template shows alongside the raw body.
//!
//! Real payloads stray from the documentation, so every reader here is lenient and total: a
//! field of an unexpected type is shown as its compact JSON text or left out, and any shape
//! we cannot read falls back to [`Details::Raw`] so the page shows the JSON as it came.

use serde_json::Value;

mod questions;

#[cfg(test)]
use questions::flatten;
use questions::question_list;
pub use questions::{Answer, Choice, Question};

use super::{
    event_type::{EventType, Reader},
    recognise, Family,
};

/// Longest string shown; a request body may carry megabytes in a single field.
const MAX_CHARS: usize = 10_000;
/// Longest list shown (media, questions, assignees, options, list answers).
const MAX_ITEMS: usize = 200;
/// 9999-12-31 23:59:59.999 UTC: later "dates" are junk, and four-digit years keep the format fixed.
const MAX_EPOCH_MS: u64 = 253_402_300_799_999;
const MS_PER_DAY: u64 = 86_400_000;
const UNTITLED: &str = "(untitled)";

/// What the inspect page shows about one Kaizala event.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The `eventType`, as recognised (trimmed).
    pub event_type: String,
    /// The family of the event type, for the badge colour.
    pub family: Family,
    /// The `objectType` (Group, Action or ActionPackage).
    pub object_type: Option<String>,
    /// The `objectId`.
    pub object_id: Option<String>,
    /// The `eventId`.
    pub event_id: Option<String>,
    /// Who caused the event; `None` when none of the `fromUser*` fields are present.
    pub sender: Option<Person>,
    /// The echoed callback `context`: a string as-is, anything else as compact JSON.
    pub context: Option<String>,
    /// The event-specific part, read from `data`.
    pub details: Details,
}

impl Summary {
    /// The family's short name, for the badge's CSS class.
    pub fn family_name(&self) -> &'static str {
        self.family.name()
    }
}

/// A Kaizala user as named in a payload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Person {
    /// Display name.
    pub name: Option<String>,
    /// Phone number, which Kaizala uses as the user's handle.
    pub phone: Option<String>,
    /// Kaizala user id.
    pub id: Option<String>,
    /// Profile picture.
    pub picture: Option<Link>,
}

/// A URL found in a payload. `href` is Some only for http:// or https:// URLs (case-insensitive
/// scheme, no whitespace/control chars); anything else (javascript:, data:, relative) keeps only
/// `text`, so the page never links it.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The value as shown.
    pub text: String,
    /// The value as a link target, when it is safe to link.
    pub href: Option<String>,
}

/// One attached file.
#[derive(Debug, Clone, PartialEq)]
pub struct Media {
    /// The file's name.
    pub file_name: Option<String>,
    /// Where the file can be fetched.
    pub link: Option<Link>,
}

/// The event-specific part of a summary.
#[derive(Debug, Clone, PartialEq)]
pub enum Details {
    /// TextMessageCreated.
    Message {
        /// The message text.
        text: Option<String>,
    },
    /// AttachmentCreated.
    Attachment {
        /// The kind of attachment, e.g. `Image`.
        action_type: Option<String>,
        /// The caption sent with the attachment.
        caption: Option<String>,
        /// The attached files.
        media: Vec<Media>,
    },
    /// Announcement.
    Announcement {
        /// The announcement's title.
        title: Option<String>,
        /// The announcement's text.
        text: Option<String>,
        /// The attached files.
        media: Vec<Media>,
    },
    /// JobCreated.
    JobCreated {
        /// The job's title.
        title: Option<String>,
        /// The job's description (`text`).
        text: Option<String>,
        /// The job's action id.
        action_id: Option<String>,
        /// The group the job was posted in.
        group_id: Option<String>,
        /// When the job is due: `YYYY-MM-DD HH:MM UTC` for epoch milliseconds, else as sent.
        due_date: Option<String>,
        /// Phone numbers of the assignees.
        assigned_to: Vec<String>,
    },
    /// JobResponse.
    JobResponse {
        /// The job's title and description, when the payload carries them.
        title: Option<String>,
        text: Option<String>,
        /// The job's action id.
        action_id: Option<String>,
        /// The group the job was posted in.
        group_id: Option<String>,
        /// The response's id.
        response_id: Option<String>,
        /// Who responded.
        assignee: Option<Person>,
        /// Whether the job was marked completed.
        completed: Option<bool>,
    },
    /// ActionCreated, ActionResponse, SurveyCreated and SurveyResponse.
    Response {
        /// The action's id.
        action_id: Option<String>,
        /// `actionPackageId` (or `packageId`): the action package the action comes from.
        package_id: Option<String>,
        /// The group the action was posted in.
        group_id: Option<String>,
        /// The response's id.
        response_id: Option<String>,
        /// Who responded; usually absent for Created events.
        responder: Option<Person>,
        /// Whether the response is anonymous.
        anonymous: Option<bool>,
        /// Whether the response updates an earlier one.
        update: Option<bool>,
        /// The questions with their answers.
        questions: Vec<Question>,
    },
    /// MemberAdded and MemberRemoved.
    Member {
        /// The member added or removed.
        member: Person,
        /// The member's role, e.g. Member or Admin.
        role: Option<String>,
    },
    /// Nothing more to show than the JSON itself.
    Raw,
}

impl Person {
    /// Nothing is known of the person.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.phone.is_none() && self.id.is_none() && self.picture.is_none()
    }
}

impl Details {
    /// Whether the reader found nothing of its shape in `data` (a payload labelled with one
    /// type but shaped like another, such as Kaizala's own Member sample sent as JobResponse),
    /// so the page shows the body instead of an empty summary. `Raw` is empty by definition.
    pub fn is_empty(&self) -> bool {
        let person = |p: &Option<Person>| p.as_ref().is_none_or(Person::is_empty);
        match self {
            Details::Message { text } => text.is_none(),
            Details::Attachment {
                action_type,
                caption,
                media,
            } => action_type.is_none() && caption.is_none() && media.is_empty(),
            Details::Announcement { title, text, media } => {
                title.is_none() && text.is_none() && media.is_empty()
            }
            Details::JobCreated {
                title,
                text,
                action_id,
                group_id,
                due_date,
                assigned_to,
            } => {
                title.is_none()
                    && text.is_none()
                    && action_id.is_none()
                    && group_id.is_none()
                    && due_date.is_none()
                    && assigned_to.is_empty()
            }
            Details::JobResponse {
                title,
                text,
                action_id,
                group_id,
                response_id,
                assignee,
                completed,
            } => {
                title.is_none()
                    && text.is_none()
                    && action_id.is_none()
                    && group_id.is_none()
                    && response_id.is_none()
                    && person(assignee)
                    && completed.is_none()
            }
            Details::Response {
                action_id,
                package_id,
                group_id,
                response_id,
                responder,
                anonymous,
                update,
                questions,
            } => {
                action_id.is_none()
                    && package_id.is_none()
                    && group_id.is_none()
                    && response_id.is_none()
                    && person(responder)
                    && anonymous.is_none()
                    && update.is_none()
                    && questions.is_empty()
            }
            Details::Member { member, role } => member.is_empty() && role.is_none(),
            Details::Raw => true,
        }
    }

    /// A short name for the variant, used as a template switch.
    pub fn name(&self) -> &'static str {
        match self {
            Details::Message { .. } => "message",
            Details::Attachment { .. } => "attachment",
            Details::Announcement { .. } => "announcement",
            Details::JobCreated { .. } => "job-created",
            Details::JobResponse { .. } => "job-response",
            Details::Response { .. } => "response",
            Details::Member { .. } => "member",
            Details::Raw => "raw",
        }
    }
}

/// Summarises a Kaizala event; `None` exactly when [`recognise`] does not see one.
pub fn summarise(value: &Value) -> Option<Summary> {
    let event = recognise(value)?;
    let details = match value.get("data") {
        Some(data) if data.is_object() => details(&event.event_type, data),
        _ => Details::Raw,
    };
    Some(Summary {
        family: Family::of(&event.event_type),
        event_type: event.event_type,
        object_type: event.object_type,
        object_id: event.object_id,
        event_id: event.event_id,
        sender: person(value, "fromUser"),
        context: value.get("context").and_then(context),
        details,
    })
}

fn details(event_type: &str, data: &Value) -> Details {
    let reader = EventType::parse(event_type).map_or(Reader::Raw, EventType::reader);
    match reader {
        Reader::Message => Details::Message {
            text: text_at(data, "text"),
        },
        Reader::Attachment => Details::Attachment {
            action_type: text_at(data, "actionType"),
            caption: text_at(data, "caption"),
            media: media_list(data.get("media")),
        },
        Reader::Announcement => Details::Announcement {
            title: text_at(data, "title"),
            text: text_at(data, "text"),
            media: media_list(data.get("media")),
        },
        Reader::JobCreated => Details::JobCreated {
            title: text_at(data, "title"),
            text: text_at(data, "text"),
            action_id: text_at(data, "actionId"),
            group_id: text_at(data, "groupId"),
            due_date: data.get("dueDate").and_then(due_date),
            assigned_to: text_list(data.get("assignedTo"), text),
        },
        Reader::JobResponse => job_response(data),
        Reader::Response => response(data),
        Reader::Member => Details::Member {
            member: person(data, "member").unwrap_or_default(),
            role: text_at(data, "type"),
        },
        Reader::Raw => Details::Raw,
    }
}

fn job_response(data: &Value) -> Details {
    // When `responseDetails.response` is missing, the assignee fields may sit in `data`
    // itself; reading them there costs nothing when they are absent.
    let response = data
        .get("responseDetails")
        .and_then(|details| details.get("response"))
        .filter(|response| response.is_object())
        .unwrap_or(data);
    Details::JobResponse {
        title: text_at(data, "title"),
        text: text_at(data, "text"),
        action_id: text_at(data, "actionId"),
        group_id: text_at(data, "groupId"),
        response_id: text_at(data, "responseId"),
        assignee: person(response, "assignee"),
        completed: response.get("isCompleted").and_then(flag),
    }
}

fn response(data: &Value) -> Details {
    // Responses carry `responseDetails.responseWithQuestions`; the documentation's table for
    // ActionCreated and SurveyCreated names the list `questions`.
    let questions = data
        .get("responseDetails")
        .and_then(|details| details.get("responseWithQuestions"))
        .or_else(|| data.get("questions"));
    Details::Response {
        action_id: text_at(data, "actionId"),
        package_id: text_at(data, "actionPackageId").or_else(|| text_at(data, "packageId")),
        group_id: text_at(data, "groupId"),
        response_id: text_at(data, "responseId"),
        responder: person(data, "responder"),
        anonymous: data.get("isAnonymous").and_then(flag),
        update: data.get("isUpdateResponse").and_then(flag),
        questions: question_list(questions),
    }
}

/// Reads `<prefix>Name`, `<prefix>` (the phone), `<prefix>Id` and `<prefix>ProfilePic`, the
/// naming Kaizala uses for every person it mentions; `None` when none of them are present.
fn person(value: &Value, prefix: &str) -> Option<Person> {
    let person = Person {
        name: text_at(value, &format!("{prefix}Name")),
        phone: text_at(value, prefix),
        id: text_at(value, &format!("{prefix}Id")),
        picture: value.get(format!("{prefix}ProfilePic")).and_then(link),
    };
    (!person.is_empty()).then_some(person)
}

/// Media may come as a list, or (straying from the docs) as one item on its own.
fn media_list(value: Option<&Value>) -> Vec<Media> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(media).take(MAX_ITEMS).collect(),
        Some(item @ (Value::Object(_) | Value::String(_))) => media(item).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// Announcements have been seen with `url`/`fileName` as well as `mediaUrl`/`mediaFileName`.
fn media(item: &Value) -> Option<Media> {
    let found = match item {
        Value::Object(_) => Media {
            file_name: text_at(item, "mediaFileName").or_else(|| text_at(item, "fileName")),
            link: item
                .get("mediaUrl")
                .and_then(link)
                .or_else(|| item.get("url").and_then(link)),
        },
        Value::String(_) => Media {
            file_name: None,
            link: link(item),
        },
        _ => Media {
            file_name: text(item),
            link: None,
        },
    };
    (found.file_name.is_some() || found.link.is_some()).then_some(found)
}

/// A list of texts, also accepting a single value where a list was documented.
fn text_list(value: Option<&Value>, read: fn(&Value) -> Option<String>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(read).take(MAX_ITEMS).collect(),
        Some(item) => read(item).into_iter().collect(),
        None => Vec::new(),
    }
}

fn text_at(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(text)
}

/// A text field: a trimmed, non-empty string or a number's text; other shapes as compact JSON.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => {
            let text = text.trim();
            (!text.is_empty()).then(|| cap(text.to_owned()))
        }
        _ => Some(compact(value)),
    }
}

/// The callback context is echoed back verbatim, so a string is kept untrimmed.
fn context(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) if text.trim().is_empty() => None,
        Value::String(text) => Some(cap(text.clone())),
        _ => Some(compact(value)),
    }
}

/// true/false, "true"/"false" in any case, or 1/0; anything else is unknown.
fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) => {
            let text = text.trim();
            if text.eq_ignore_ascii_case("true") {
                Some(true)
            } else if text.eq_ignore_ascii_case("false") {
                Some(false)
            } else {
                None
            }
        }
        Value::Number(number) => match number.as_u64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn link(value: &Value) -> Option<Link> {
    let text = text(value)?;
    // Judge the original, untrimmed string: a URL with stray whitespace or cut short by the
    // cap is not one we want to send a browser to.
    let href = match value {
        Value::String(url) if is_web_url(url) => Some(url.clone()),
        _ => None,
    };
    Some(Link { text, href })
}

fn is_web_url(url: &str) -> bool {
    let rest = strip_prefix_ignore_case(url, "https://")
        .or_else(|| strip_prefix_ignore_case(url, "http://"));
    match rest {
        Some(rest) => {
            !rest.is_empty()
                && url.chars().count() <= MAX_CHARS
                && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    let rest = text.get(prefix.len()..)?;
    head.eq_ignore_ascii_case(prefix).then_some(rest)
}

/// A due date: a string as sent, an integer as epoch milliseconds (what Kaizala sends).
fn due_date(value: &Value) -> Option<String> {
    match value {
        Value::Number(number) => Some(match number.as_u64() {
            Some(ms) if ms <= MAX_EPOCH_MS => format_epoch_ms(ms),
            _ => number.to_string(),
        }),
        _ => text(value),
    }
}

/// Formats as `YYYY-MM-DD HH:MM UTC`; `ms` must be at most [`MAX_EPOCH_MS`].
fn format_epoch_ms(ms: u64) -> String {
    let (year, month, day) = civil_from_days(ms / MS_PER_DAY);
    let minutes = ms % MS_PER_DAY / 60_000;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minutes / 60,
        minutes % 60
    )
}

/// Howard Hinnant's civil-from-days, for days on or after 1970-01-01, so all unsigned.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of each 400-year era.
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

fn compact(value: &Value) -> String {
    cap(value.to_string())
}

fn cap(mut text: String) -> String {
    if let Some((cut, _)) = text.char_indices().nth(MAX_CHARS) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
pub(crate) mod tests;
