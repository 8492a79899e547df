//! What a capture is answered: a handshake a request asks for and its bin passes, a failure it
//! was told to give, the bin's configured response, or the default. Decided by the store's
//! writer, in order, so `fail_next` counts down exactly once per capture.

use std::{sync::Arc, time::Duration};

use memchr::memmem;
use serde::Deserialize;

use super::{CustomResponse, Settings};

/// The handshakes a request asks for, read from its query and body by the capture handler
/// (before its bin's settings are known).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asks {
    /// `?validationToken=T`, any method.
    pub validation_token: Option<String>,
    /// A JSON body `{"type":"url_verification","challenge":C}`.
    pub slack: Option<String>,
    /// `GET ?hub.mode=subscribe&hub.challenge=C`, with `hub.verify_token` if sent.
    pub meta: Option<MetaAsk>,
    /// `GET ?challenge=C`.
    pub dropbox: Option<String>,
}

/// Meta's subscription check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaAsk {
    pub challenge: String,
    pub verify_token: Option<String>,
}

/// Which sender's handshake answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    ValidationToken,
    Slack,
    Meta,
    Dropbox,
}

impl Handshake {
    /// The stored name (the `handshake` column, and the API).
    pub fn as_str(self) -> &'static str {
        match self {
            Handshake::ValidationToken => "validation_token",
            Handshake::Slack => "slack",
            Handshake::Meta => "meta",
            Handshake::Dropbox => "dropbox",
        }
    }

    pub fn from_column(text: &str) -> Option<Handshake> {
        [
            Handshake::ValidationToken,
            Handshake::Slack,
            Handshake::Meta,
            Handshake::Dropbox,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }

    /// Who sends it, for people.
    pub fn label(self) -> &'static str {
        match self {
            Handshake::ValidationToken => "Kaizala / Graph validationToken",
            Handshake::Slack => "Slack url_verification",
            Handshake::Meta => "Meta hub.challenge",
            Handshake::Dropbox => "Dropbox challenge",
        }
    }
}

impl Asks {
    /// Reads the handshakes a capture asks for. `params` is its query string as form pairs.
    pub fn read(get: bool, params: &[(String, String)], body: &[u8]) -> Asks {
        let first = |key: &str| {
            params
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.clone())
        };
        let meta = (get && first("hub.mode").as_deref() == Some("subscribe"))
            .then(|| first("hub.challenge"))
            .flatten()
            .map(|challenge| MetaAsk {
                challenge,
                verify_token: first("hub.verify_token"),
            });
        Asks {
            validation_token: first("validationToken"),
            slack: slack_challenge(body),
            meta,
            dropbox: get.then(|| first("challenge")).flatten(),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Asks::default()
    }
}

/// Largest body looked at for a Slack challenge (Slack's are about 150 bytes).
const SLACK_BODY_MAX: usize = 16 * 1024;

/// The challenge of a Slack `url_verification` body. Only small bodies that spell the type
/// are parsed.
fn slack_challenge(body: &[u8]) -> Option<String> {
    if body.len() > SLACK_BODY_MAX {
        return None;
    }
    #[derive(Deserialize)]
    struct Verification {
        #[serde(rename = "type")]
        kind: String,
        challenge: String,
    }
    memmem::find(body, b"url_verification")?;
    let verification: Verification = serde_json::from_slice(body).ok()?;
    (verification.kind == "url_verification").then_some(verification.challenge)
}

/// How a capture is answered, decided when it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `200` naming the stored request.
    Stored,
    /// `413`: the body was over `--max-body-bytes`.
    TooLarge,
    /// A handshake: `status` with `body` as plain text.
    Handshake {
        kind: Handshake,
        status: u16,
        body: String,
    },
    /// `fail_next`: `status`, with `remaining` failures still to come.
    Fail { status: u16, remaining: u32 },
    /// The bin's configured response.
    Custom(Arc<CustomResponse>),
}

impl Answer {
    /// Decides the answer to one capture of a bin with `settings`. A failure counts
    /// `settings.fail_next.count` down; handshakes and oversized bodies do not use one up.
    pub fn decide(settings: &mut Settings, asks: &Asks, too_large: bool) -> Answer {
        if too_large {
            return Answer::TooLarge;
        }
        if let Some(answer) = handshake(settings, asks) {
            return answer;
        }
        if settings.fail_next.count > 0 {
            settings.fail_next.count -= 1;
            return Answer::Fail {
                status: settings.fail_next.status,
                remaining: settings.fail_next.count,
            };
        }
        match &settings.response {
            Some(response) => Answer::Custom(Arc::clone(response)),
            None => Answer::Stored,
        }
    }

    /// The status it is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Answer::Stored => 200,
            Answer::TooLarge => 413,
            Answer::Handshake { status, .. } | Answer::Fail { status, .. } => *status,
            Answer::Custom(response) => response.status,
        }
    }

    /// How long after the commit it is sent.
    pub fn delay(&self) -> Duration {
        match self {
            Answer::Custom(response) => Duration::from_millis(u64::from(response.delay_ms)),
            _ => Duration::ZERO,
        }
    }

    /// The handshake it is, if it is one.
    pub fn handshake(&self) -> Option<Handshake> {
        match self {
            Answer::Handshake { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

/// The first handshake the request asks for that the bin passes.
fn handshake(settings: &Settings, asks: &Asks) -> Option<Answer> {
    let on = &settings.handshakes;
    let ok = |kind, body: &String| Answer::Handshake {
        kind,
        status: 200,
        body: body.clone(),
    };
    if let (true, Some(token)) = (on.validation_token, &asks.validation_token) {
        return Some(ok(Handshake::ValidationToken, token));
    }
    if let (true, Some(meta)) = (on.meta, &asks.meta) {
        let expected = on.meta_verify_token.as_deref();
        if expected.is_none() || expected == meta.verify_token.as_deref() {
            return Some(ok(Handshake::Meta, &meta.challenge));
        }
        return Some(Answer::Handshake {
            kind: Handshake::Meta,
            status: 403,
            body: "hub.verify_token does not match this bin's meta_verify_token\n".to_owned(),
        });
    }
    if let (true, Some(challenge)) = (on.dropbox, &asks.dropbox) {
        return Some(ok(Handshake::Dropbox, challenge));
    }
    if let (true, Some(challenge)) = (on.slack, &asks.slack) {
        return Some(ok(Handshake::Slack, challenge));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::FailNext;

    fn params(query: &str) -> Vec<(String, String)> {
        serde_urlencoded::from_str(query).unwrap_or_default()
    }

    fn all_on() -> Settings {
        let mut settings = Settings::default();
        settings.handshakes.slack = true;
        settings.handshakes.meta = true;
        settings.handshakes.dropbox = true;
        settings
    }

    #[test]
    fn each_handshake_is_read_from_its_own_shape() {
        let asks = Asks::read(true, &params("validationToken=a%20b"), b"");
        assert_eq!(asks.validation_token.as_deref(), Some("a b"));
        let asks = Asks::read(
            true,
            &params("hub.mode=subscribe&hub.challenge=123&hub.verify_token=v"),
            b"",
        );
        assert_eq!(
            asks.meta,
            Some(MetaAsk {
                challenge: "123".to_owned(),
                verify_token: Some("v".to_owned())
            })
        );
        // Meta and Dropbox check with GET only; another mode is not a subscription check.
        assert_eq!(
            Asks::read(false, &params("hub.mode=subscribe&hub.challenge=1"), b"").meta,
            None
        );
        assert_eq!(
            Asks::read(true, &params("hub.mode=unsubscribe&hub.challenge=1"), b"").meta,
            None
        );
        assert_eq!(
            Asks::read(true, &params("challenge=xyz"), b"")
                .dropbox
                .as_deref(),
            Some("xyz")
        );
        assert_eq!(
            Asks::read(false, &params("challenge=xyz"), b"").dropbox,
            None
        );
        let slack = br#"{"token":"t","challenge":"3eZbrw1a","type":"url_verification"}"#;
        assert_eq!(
            Asks::read(false, &[], slack).slack.as_deref(),
            Some("3eZbrw1a")
        );
        let other = br#"{"type":"event_callback","challenge":"x","note":"url_verification"}"#;
        assert_eq!(Asks::read(false, &[], other).slack, None);
        assert!(Asks::read(false, &[], b"url_verification but not JSON").is_empty());
    }

    #[test]
    fn a_handshake_is_answered_only_when_its_bin_passes_it() {
        let asks = Asks::read(true, &params("challenge=c"), b"");
        assert_eq!(
            Answer::decide(&mut Settings::default(), &asks, false),
            Answer::Stored
        );
        assert_eq!(
            Answer::decide(&mut all_on(), &asks, false),
            Answer::Handshake {
                kind: Handshake::Dropbox,
                status: 200,
                body: "c".to_owned()
            }
        );
        let mut off = Settings::default();
        off.handshakes.validation_token = false;
        let asks = Asks::read(false, &params("validationToken=t"), b"");
        assert_eq!(Answer::decide(&mut off, &asks, false), Answer::Stored);
    }

    #[test]
    fn meta_checks_the_verify_token_when_one_is_set() {
        let mut settings = all_on();
        settings.handshakes.meta_verify_token = Some("secret".to_owned());
        let ask = |token: &str| {
            Asks::read(
                true,
                &params(&format!(
                    "hub.mode=subscribe&hub.challenge=42&hub.verify_token={token}"
                )),
                b"",
            )
        };
        assert_eq!(
            Answer::decide(&mut settings, &ask("secret"), false).status(),
            200
        );
        let wrong = Answer::decide(&mut settings, &ask("guess"), false);
        assert_eq!(wrong.status(), 403);
        assert_eq!(wrong.handshake(), Some(Handshake::Meta));
    }

    #[test]
    fn fail_next_counts_down_then_the_configured_response_returns() {
        let mut settings = Settings {
            fail_next: FailNext {
                count: 2,
                status: 503,
            },
            response: Some(Arc::new(CustomResponse {
                status: 202,
                headers: Vec::new(),
                body: "ok".to_owned(),
                delay_ms: 0,
            })),
            ..Settings::default()
        };
        let handshake = Asks::read(false, &params("validationToken=t"), b"");
        // A handshake and an oversized body do not use a failure up.
        assert_eq!(
            Answer::decide(&mut settings, &handshake, false).status(),
            200
        );
        assert_eq!(
            Answer::decide(&mut settings, &Asks::default(), true),
            Answer::TooLarge
        );
        let none = Asks::default();
        assert_eq!(
            Answer::decide(&mut settings, &none, false),
            Answer::Fail {
                status: 503,
                remaining: 1
            }
        );
        assert_eq!(
            Answer::decide(&mut settings, &none, false),
            Answer::Fail {
                status: 503,
                remaining: 0
            }
        );
        assert_eq!(Answer::decide(&mut settings, &none, false).status(), 202);
        assert_eq!(settings.fail_next.count, 0);
    }
}
