//! The inspect page's settings form (it works without JavaScript): its fields as posted, read
//! into [`Settings`] with the same checks and field names as the API.

use std::sync::Arc;

use serde::Deserialize;

use super::{new_callback_token, CustomResponse, FailNext, Handshakes, Invalid, KaizalaChecks};
use super::{Settings, MAX_DELAY_MS};

/// The form as posted. Unchecked boxes are not posted at all, hence the defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SettingsForm {
    /// `default` or `custom`.
    pub response: String,
    pub status: String,
    /// One `Name: value` per line.
    pub headers: String,
    pub body: String,
    pub delay_ms: String,
    pub fail_count: String,
    /// The count the form was shown with: `fail_count` unchanged keeps the bin's count as it
    /// is when saved (failures used since the page loaded stay used).
    pub fail_count_shown: String,
    pub fail_status: String,
    pub validation_token: Option<String>,
    pub slack: Option<String>,
    pub meta: Option<String>,
    pub meta_verify_token: String,
    pub dropbox: Option<String>,
    pub callback_token: String,
    pub context: String,
    /// Present when the "New token" button sent the form.
    pub new_token: Option<String>,
}

impl SettingsForm {
    /// The form filled in with `settings`, to show.
    pub fn of(settings: &Settings) -> SettingsForm {
        let response = settings.response.as_ref();
        SettingsForm {
            response: if response.is_some() {
                "custom"
            } else {
                "default"
            }
            .to_owned(),
            status: response.map_or(200, |r| r.status).to_string(),
            headers: response
                .map(|r| {
                    r.headers
                        .iter()
                        .map(|(name, value)| format!("{name}: {value}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default(),
            body: response.map(|r| r.body.clone()).unwrap_or_default(),
            delay_ms: response.map_or(0, |r| r.delay_ms).to_string(),
            fail_count: settings.fail_next.count.to_string(),
            fail_count_shown: settings.fail_next.count.to_string(),
            fail_status: settings.fail_next.status.to_string(),
            validation_token: settings.handshakes.validation_token.then(String::new),
            slack: settings.handshakes.slack.then(String::new),
            meta: settings.handshakes.meta.then(String::new),
            meta_verify_token: settings
                .handshakes
                .meta_verify_token
                .clone()
                .unwrap_or_default(),
            dropbox: settings.handshakes.dropbox.then(String::new),
            callback_token: settings.kaizala.callback_token.clone().unwrap_or_default(),
            context: settings.kaizala.context.clone().unwrap_or_default(),
            new_token: None,
        }
    }

    /// The settings the form asks for, with the bin's `current` failure count when the form
    /// left it as shown.
    pub fn read_over(&self, current: &Settings) -> Result<Settings, Invalid> {
        let mut settings = self.read()?;
        if self.fail_count.trim() == self.fail_count_shown.trim() {
            settings.fail_next.count = current.fail_next.count;
        }
        Ok(settings)
    }

    /// The settings the form asks for, checked as the API checks them.
    pub fn read(&self) -> Result<Settings, Invalid> {
        let response = match self.response.as_str() {
            "custom" => Some(Arc::new(CustomResponse {
                status: number("response.status", &self.status)?,
                headers: header_lines(&self.headers)?,
                // Browsers send a textarea's line breaks as CR LF.
                body: self.body.replace("\r\n", "\n"),
                delay_ms: number("response.delay_ms", &self.delay_ms).map_err(|_| {
                    Invalid::new(
                        "response.delay_ms",
                        format!("must be a whole number of milliseconds, 0 to {MAX_DELAY_MS}"),
                    )
                })?,
            })),
            _ => None,
        };
        let text = |value: &str| {
            let value = value.trim();
            (!value.is_empty()).then(|| value.to_owned())
        };
        let settings = Settings {
            response,
            fail_next: FailNext {
                count: number("fail_next.count", &self.fail_count)?,
                status: number("fail_next.status", &self.fail_status)?,
            },
            handshakes: Handshakes {
                validation_token: self.validation_token.is_some(),
                slack: self.slack.is_some(),
                meta: self.meta.is_some(),
                meta_verify_token: text(&self.meta_verify_token),
                dropbox: self.dropbox.is_some(),
            },
            kaizala: KaizalaChecks {
                callback_token: if self.new_token.is_some() {
                    Some(new_callback_token())
                } else {
                    text(&self.callback_token)
                },
                context: text(&self.context),
            },
        };
        settings.validate()?;
        Ok(settings)
    }
}

/// A whole number in a text field; an empty field is 0.
fn number<T: std::str::FromStr + Default>(field: &str, text: &str) -> Result<T, Invalid> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(T::default());
    }
    text.parse()
        .map_err(|_| Invalid::new(field, format!("{text:?} is not a whole number in range")))
}

/// `Name: value` lines; blank lines are skipped.
fn header_lines(text: &str) -> Result<Vec<(String, String)>, Invalid> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .enumerate()
        .map(|(index, line)| match line.split_once(':') {
            Some((name, value)) => Ok((name.trim().to_owned(), value.trim().to_owned())),
            None => Err(Invalid::new(
                format!("response.headers[{index}]"),
                format!("{line:?} is not a header: write one \"Name: value\" per line"),
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reads_back_what_it_shows() {
        let mut settings = Settings::for_new_bin();
        settings.response = Some(Arc::new(CustomResponse {
            status: 418,
            headers: vec![
                ("Content-Type".to_owned(), "text/plain".to_owned()),
                ("X-Reason".to_owned(), "a: colon".to_owned()),
            ],
            body: "line one\nline two".to_owned(),
            delay_ms: 1500,
        }));
        settings.fail_next.count = 3;
        settings.handshakes.slack = true;
        settings.handshakes.meta_verify_token = Some("v".to_owned());
        settings.kaizala.context = Some("ctx".to_owned());
        let mut form = SettingsForm::of(&settings);
        form.body = form.body.replace('\n', "\r\n");
        assert_eq!(form.read(), Ok(settings));
    }

    #[test]
    fn bad_fields_are_named_as_the_api_names_them() {
        let mut form = SettingsForm::of(&Settings::default());
        form.response = "custom".to_owned();
        form.status = "abc".to_owned();
        assert_eq!(
            form.read().map_err(|e| e.field),
            Err("response.status".to_owned())
        );
        form.status = "700".to_owned();
        assert_eq!(
            form.read().map_err(|e| e.field),
            Err("response.status".to_owned())
        );
        form.status = "200".to_owned();
        form.headers = "X-Ok: 1\nno colon here".to_owned();
        assert_eq!(
            form.read().map_err(|e| e.field),
            Err("response.headers[1]".to_owned())
        );
        form.headers = "Bad Name: 1".to_owned();
        assert_eq!(
            form.read().map_err(|e| e.field),
            Err("response.headers[0]".to_owned())
        );
        form.headers.clear();
        form.delay_ms = "30001".to_owned();
        assert_eq!(
            form.read().map_err(|e| e.field),
            Err("response.delay_ms".to_owned())
        );
    }

    #[test]
    fn an_unchanged_failure_count_keeps_what_is_left_now() {
        let mut shown = Settings::default();
        shown.fail_next.count = 5;
        let mut form = SettingsForm::of(&shown);
        form.slack = Some(String::new());
        let mut now = shown.clone();
        now.fail_next.count = 2;
        assert_eq!(form.read_over(&now).map(|s| s.fail_next.count), Ok(2));
        form.fail_count = "7".to_owned();
        assert_eq!(form.read_over(&now).map(|s| s.fail_next.count), Ok(7));
    }

    #[test]
    fn new_token_replaces_the_callback_token() {
        let settings = Settings::for_new_bin();
        let mut form = SettingsForm::of(&settings);
        form.new_token = Some(String::new());
        let read = form.read().map(|s| s.kaizala.callback_token);
        assert!(
            matches!(read, Ok(Some(ref token)) if Some(token) != settings.kaizala.callback_token.as_ref())
        );
    }
}
