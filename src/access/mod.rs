//! The access token: which tokens open pages and the API, and the signed session cookie a
//! login sets (the middleware that asks for them is in `web`).
//!
//! Tokens are never kept in memory as given: each is held as its HMAC under the session key,
//! and a candidate is checked by `ring::hmac::verify`, which compares in constant time. A
//! session cookie names the token that opened it by a short id, so taking a token out of
//! `--access-token-file` ends the sessions it opened.

mod session;

pub use session::{Session, COOKIE, SESSION_LIFETIME};

use std::{
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::Duration,
};

use ring::hmac;
use tokio::task::JoinHandle;

use crate::{
    config::{valid_token, Config, TOKEN_RULE},
    file_version::FileVersion,
};

/// Why access control cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("cannot read the access token file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {TOKEN_RULE}")]
    BadToken { path: PathBuf, line: usize },
    #[error("{path} holds no access token (one a line; blank lines and # comments are skipped)")]
    NoTokens { path: PathBuf },
    #[error("the session key {path} is not usable: {reason}")]
    Key { path: PathBuf, reason: String },
}

/// One accepted token, as its HMAC (to check candidates) and a short id (for sessions).
struct Token {
    tag: hmac::Tag,
    id: String,
}

/// The tokens that open binspector, and the key that signs its sessions.
pub struct Access {
    key: hmac::Key,
    tokens: RwLock<Vec<Token>>,
    file: Option<PathBuf>,
}

impl Access {
    /// Access control as configured, or `None` when binspector is open (no token given).
    pub fn from_config(config: &Config) -> Result<Option<Access>, AccessError> {
        let tokens = match (&config.access_token, &config.access_token_file) {
            (Some(token), _) => vec![token.expose().to_owned()],
            (None, Some(path)) => read_tokens(path)?,
            (None, None) => return Ok(None),
        };
        let key = session::load_or_create_key(&config.data_dir.join("session.key"))?;
        let access = Access {
            key,
            tokens: RwLock::new(Vec::new()),
            file: config.access_token_file.clone(),
        };
        access.replace_tokens(&tokens);
        Ok(Some(access))
    }

    fn replace_tokens(&self, tokens: &[String]) {
        let held = tokens
            .iter()
            .map(|token| Token {
                tag: hmac::sign(&self.key, &token_message(token)),
                id: self.token_id(token),
            })
            .collect();
        *self.tokens.write().unwrap_or_else(|e| e.into_inner()) = held;
    }

    /// A short, stable id of a token that says nothing about it.
    fn token_id(&self, token: &str) -> String {
        let tag = hmac::sign(&self.key, format!("id:{token}").as_bytes());
        tag.as_ref()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The id of the accepted token `candidate` is, or `None`. Every accepted token is
    /// compared, each in constant time.
    pub fn check(&self, candidate: &str) -> Option<String> {
        let message = token_message(candidate);
        let tokens = self.tokens.read().unwrap_or_else(|e| e.into_inner());
        let mut found = None;
        for token in tokens.iter() {
            if hmac::verify(&self.key, &message, token.tag.as_ref()).is_ok() {
                found = Some(token.id.clone());
            }
        }
        found
    }

    /// Whether the token with this id is still accepted.
    fn accepts_id(&self, id: &str) -> bool {
        let tokens = self.tokens.read().unwrap_or_else(|e| e.into_inner());
        tokens.iter().any(|token| token.id == id)
    }

    /// Re-reads `--access-token-file` every `interval` when it changes; a file that does not
    /// read or holds no valid token leaves the current tokens in place.
    pub fn watch(self: Arc<Self>, interval: Duration) -> Option<JoinHandle<()>> {
        let path = self.file.clone()?;
        Some(tokio::spawn(async move {
            let mut seen = FileVersion::of(&path);
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let now = FileVersion::of(&path);
                if now == seen {
                    continue;
                }
                seen = now;
                let read = {
                    let path = path.clone();
                    tokio::task::spawn_blocking(move || read_tokens(&path)).await
                };
                match read {
                    Ok(Ok(tokens)) => {
                        self.replace_tokens(&tokens);
                        tracing::info!(file = %path.display(), tokens = tokens.len(), "re-read the access tokens; a token no longer listed is refused, and so are the sessions it opened");
                    }
                    Ok(Err(err)) => {
                        tracing::warn!(error = %err, "the changed access token file was not used; the previous tokens still apply");
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "re-reading the access tokens failed")
                    }
                }
            }
        }))
    }
}

fn token_message(token: &str) -> Vec<u8> {
    format!("token:{token}").into_bytes()
}

/// The tokens in a file: one a line, blank lines and `#` comments skipped, each checked.
fn read_tokens(path: &Path) -> Result<Vec<String>, AccessError> {
    let text = std::fs::read_to_string(path).map_err(|source| AccessError::Read {
        path: path.to_owned(),
        source,
    })?;
    let mut tokens = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !valid_token(line) {
            return Err(AccessError::BadToken {
                path: path.to_owned(),
                line: index + 1,
            });
        }
        tokens.push(line.to_owned());
    }
    if tokens.is_empty() {
        return Err(AccessError::NoTokens {
            path: path.to_owned(),
        });
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn access(tokens: &[&str]) -> (tempfile::TempDir, Access) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(&file, tokens.join("\n")).unwrap();
        let config = Config::parse_from([
            "binspector",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--access-token-file",
            file.to_str().unwrap(),
        ]);
        let access = Access::from_config(&config).unwrap().unwrap();
        (dir, access)
    }

    #[test]
    fn every_listed_token_opens_and_nothing_else_does() {
        let (_dir, access) = access(&[
            "# rotated on Monday",
            "",
            "first-token-0123456789",
            "second-token-0123456789",
        ]);
        let first = access.check("first-token-0123456789").unwrap();
        let second = access.check("second-token-0123456789").unwrap();
        assert_ne!(first, second);
        for wrong in [
            "",
            "first-token-012345678",
            "first-token-0123456789 ",
            "# rotated on Monday",
        ] {
            assert_eq!(access.check(wrong), None, "{wrong:?}");
        }
    }

    #[test]
    fn a_token_file_must_hold_valid_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        std::fs::write(&file, "good-token-0123456789\nshort\n").unwrap();
        assert!(matches!(
            read_tokens(&file),
            Err(AccessError::BadToken { line: 2, .. })
        ));
        std::fs::write(&file, "# nothing yet\n\n").unwrap();
        assert!(matches!(
            read_tokens(&file),
            Err(AccessError::NoTokens { .. })
        ));
    }
}
