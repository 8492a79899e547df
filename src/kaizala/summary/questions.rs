//! Questions of surveys and actions, and their answers read by question type: options with the
//! chosen ones marked, files as safe links, dates, locations and numbers. Anything not of the
//! shape its type promises is shown flattened, as it came.

use std::collections::HashMap;

use serde_json::Value;

use super::{
    cap, compact, flag, format_epoch_ms, media, text, text_at, Media, MAX_EPOCH_MS, MAX_ITEMS,
    UNTITLED,
};

/// One question of a survey or action, with the response's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// The question's `title`, or "(untitled)".
    pub title: String,
    /// The question's `type` (Text, SingleOption, Location, …).
    pub kind: Option<String>,
    /// The answer, read as the question's type says.
    pub answer: Answer,
    /// Whether the question is marked invisible.
    pub hidden: bool,
}

/// An answer read by its question's type. A type we do not know, or a value not of the shape
/// its type promises, is [`Answer::Text`], so whatever came is still shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The answer flattened to one line; empty when there is none.
    Text(String),
    /// SingleOption and MultiOption: every offered option, the chosen ones marked (none on a
    /// question that has not been answered).
    Options(Vec<Choice>),
    /// AttachmentList, Image, Document, Audio and Video: the files sent.
    Attachments(Vec<Media>),
    /// DateTime and Date: epoch milliseconds as `YYYY-MM-DD HH:MM UTC`.
    Date(String),
    /// Location: `{lt, lg, n}`.
    Location {
        /// Latitude in degrees, as written.
        lat: String,
        /// Longitude in degrees, as written.
        long: String,
        /// The place's name.
        name: Option<String>,
    },
    /// Numeric: the number as written.
    Number(String),
}

/// One offered option of a SingleOption or MultiOption question.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The option's `title` (or the option itself when it is a bare value).
    pub title: String,
    /// Whether the answer chose it.
    pub chosen: bool,
}

pub(super) fn question_list(value: Option<&Value>) -> Vec<Question> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter(|item| !item.is_null())
            .take(MAX_ITEMS)
            .map(question)
            .collect(),
        Some(item @ Value::Object(_)) => vec![question(item)],
        _ => Vec::new(),
    }
}

fn question(item: &Value) -> Question {
    if !item.is_object() {
        // A bare value in the list is most likely an answer; show it rather than drop it.
        return Question {
            title: UNTITLED.to_owned(),
            kind: None,
            answer: Answer::Text(flatten(item)),
            hidden: false,
        };
    }
    let kind = text_at(item, "type");
    let answer = item.get("answer").unwrap_or(&Value::Null);
    Question {
        title: text_at(item, "title").unwrap_or_else(|| UNTITLED.to_owned()),
        answer: kind
            .as_deref()
            .and_then(|kind| typed_answer(kind, item.get("options"), answer))
            .unwrap_or_else(|| Answer::Text(flatten(answer))),
        kind,
        hidden: item.get("isInvisible").and_then(flag) == Some(true),
    }
}

/// Reads an answer as its question's `type` says; `None` for other types, and for a value
/// (or, for option questions, an `options`) that is not of the type's shape.
fn typed_answer(kind: &str, options: Option<&Value>, answer: &Value) -> Option<Answer> {
    match kind.to_ascii_lowercase().as_str() {
        "singleoption" | "multioption" => choices(options?, answer).map(Answer::Options),
        "attachmentlist" | "image" | "document" | "audio" | "video" => {
            attachments(answer).map(Answer::Attachments)
        }
        "datetime" | "date" => epoch_ms(answer).map(|ms| Answer::Date(format_epoch_ms(ms))),
        "location" => Some(Answer::Location {
            lat: coordinate(answer.get("lt")?, 90.0)?,
            long: coordinate(answer.get("lg")?, 180.0)?,
            name: text_at(answer, "n"),
        }),
        "numeric" => numeral(answer).map(Answer::Number),
        _ => None,
    }
}

/// The offered options with the chosen ones marked. The answer picks options by index, by
/// title, or by an option object, alone or in a list; `None` when `options` is not a list or
/// a pick names no offered option, so the answer is shown as it came instead.
fn choices(options: &Value, answer: &Value) -> Option<Vec<Choice>> {
    let Value::Array(items) = options else {
        return None;
    };
    // Kept in place (a null option still takes its index), so index answers stay aligned.
    let mut offered: Vec<Option<Choice>> = items
        .iter()
        .take(MAX_ITEMS)
        .map(|item| {
            option(item).map(|title| Choice {
                title,
                chosen: false,
            })
        })
        .collect();
    // A map rather than a search per pick: hostile titles sharing a long prefix would make
    // MAX_ITEMS picks times MAX_ITEMS options a slow comparison.
    let mut by_title = HashMap::new();
    for (index, choice) in offered.iter().enumerate() {
        if let Some(choice) = choice {
            by_title.entry(choice.title.clone()).or_insert(index);
        }
    }
    let picks = match answer {
        Value::Array(picks) => picks.as_slice(),
        pick => std::slice::from_ref(pick),
    };
    let answered = |pick: &&Value| match pick {
        Value::Null => false,
        Value::String(text) => !text.trim().is_empty(),
        _ => true,
    };
    for pick in picks.iter().filter(answered).take(MAX_ITEMS) {
        let index = match pick {
            Value::Number(number) => usize::try_from(number.as_u64()?).ok()?,
            Value::String(_) | Value::Object(_) => {
                let title = option(pick)?;
                match by_title.get(&title) {
                    Some(index) => *index,
                    None => title.parse().ok()?,
                }
            }
            _ => return None,
        };
        offered.get_mut(index)?.as_mut()?.chosen = true;
    }
    let offered: Vec<Choice> = offered.into_iter().flatten().collect();
    (!offered.is_empty()).then_some(offered)
}

/// Files: a list of media items, or one on its own; `None` when any item is not one.
fn attachments(answer: &Value) -> Option<Vec<Media>> {
    let items = match answer {
        Value::Array(items) => items.as_slice(),
        Value::Object(_) | Value::String(_) => std::slice::from_ref(answer),
        _ => return None,
    };
    let files = items
        .iter()
        .filter(|item| !item.is_null())
        .take(MAX_ITEMS)
        .map(|item| match item {
            Value::Object(_) | Value::String(_) => media(item),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    (!files.is_empty()).then_some(files)
}

/// Epoch milliseconds, as a number or a string of digits, no later than [`MAX_EPOCH_MS`].
fn epoch_ms(value: &Value) -> Option<u64> {
    let ms = match value {
        Value::Number(number) => number.as_u64()?,
        Value::String(text) => text.trim().parse().ok()?,
        _ => return None,
    };
    (ms <= MAX_EPOCH_MS).then_some(ms)
}

/// A latitude or longitude, as written, within `limit` degrees either side of zero.
fn coordinate(value: &Value, limit: f64) -> Option<String> {
    let text = numeral(value)?;
    let degrees: f64 = text.parse().ok()?;
    (degrees.abs() <= limit).then_some(text)
}

/// A number as written: a JSON number, or a string holding only a decimal numeral.
fn numeral(value: &Value) -> Option<String> {
    match value {
        Value::Number(number) => Some(number.to_string()),
        Value::String(text) => {
            let text = text.trim();
            // `f64` also parses "inf" and "NaN", which no one means as an answer.
            let numeric = text
                .bytes()
                .all(|byte| byte.is_ascii_digit() || b"+-.eE".contains(&byte));
            (numeric && text.parse::<f64>().is_ok()).then(|| cap(text.to_owned()))
        }
        _ => None,
    }
}

/// An answer on one line: lists are joined, and option objects stand for their title.
pub(super) fn flatten(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(answer) => cap(answer.clone()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(option).take(MAX_ITEMS).collect();
            cap(parts.join(", "))
        }
        _ => compact(value),
    }
}

/// An option (or list answer) item: its `title` if it is an object that has one.
fn option(value: &Value) -> Option<String> {
    match value {
        Value::Object(_) => text_at(value, "title").or_else(|| text(value)),
        _ => text(value),
    }
}
