//! Login sessions: a cookie that says until when it is valid and which token opened it,
//! signed with a key kept in the data directory (so sessions survive a restart).

use std::{
    io::{Read, Write},
    path::Path,
    time::Duration,
};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use ring::{
    hmac,
    rand::{SecureRandom, SystemRandom},
};

use super::{Access, AccessError};
use crate::clock;

/// The session cookie's name.
pub const COOKIE: &str = "binspector_session";
/// How long a login lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(30 * 86_400);
/// Bytes of the signing key.
const KEY_BYTES: usize = 32;

/// A new session: the cookie value to set.
pub struct Session {
    pub value: String,
}

impl Access {
    /// Opens a session for the token with this id.
    pub fn open_session(&self, token_id: &str) -> Session {
        let expires = clock::now_millis() / 1_000
            + i64::try_from(SESSION_LIFETIME.as_secs()).unwrap_or(i64::MAX);
        let claims = format!("v1.{expires}.{token_id}");
        let signature = hmac::sign(&self.key, session_message(&claims).as_bytes());
        Session {
            value: format!("{claims}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref())),
        }
    }

    /// Whether a cookie value is a session this binspector signed, not yet expired, opened by
    /// a token that is still accepted.
    pub fn session_valid(&self, value: &str) -> bool {
        let Some((claims, signature)) = value.rsplit_once('.') else {
            return false;
        };
        let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        if hmac::verify(&self.key, session_message(claims).as_bytes(), &signature).is_err() {
            return false;
        }
        let mut parts = claims.split('.');
        let (Some("v1"), Some(expires), Some(token_id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let unexpired = expires
            .parse::<i64>()
            .is_ok_and(|expires| expires > clock::now_millis() / 1_000);
        unexpired && self.accepts_id(token_id)
    }
}

fn session_message(claims: &str) -> String {
    format!("session:{claims}")
}

/// Reads the signing key, or makes one (readable by the owner only) on first start.
pub(super) fn load_or_create_key(path: &Path) -> Result<hmac::Key, AccessError> {
    let unusable = |reason: String| AccessError::Key {
        path: path.to_owned(),
        reason,
    };
    let mut bytes = Vec::new();
    match std::fs::File::open(path) {
        Ok(mut file) => {
            file.read_to_end(&mut bytes)
                .map_err(|err| unusable(err.to_string()))?;
            if bytes.len() != KEY_BYTES {
                return Err(unusable(format!(
                    "it holds {} bytes, not {KEY_BYTES}; delete it to make a new one (this ends every session)",
                    bytes.len()
                )));
            }
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            bytes = vec![0; KEY_BYTES];
            SystemRandom::new()
                .fill(&mut bytes)
                .map_err(|_| unusable("the system has no randomness to make one".to_owned()))?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(path)
                .map_err(|err| unusable(err.to_string()))?;
            file.write_all(&bytes)
                .and_then(|()| file.sync_all())
                .map_err(|err| unusable(err.to_string()))?;
        }
        Err(err) => return Err(unusable(err.to_string())),
    }
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access() -> (tempfile::TempDir, Access) {
        let dir = tempfile::tempdir().unwrap();
        let key = load_or_create_key(&dir.path().join("session.key")).unwrap();
        let access = Access {
            key,
            tokens: std::sync::RwLock::new(Vec::new()),
            file: None,
        };
        access.replace_tokens(&["token-one-0123456789".to_owned()]);
        (dir, access)
    }

    #[test]
    fn sessions_are_signed_and_end_with_their_token() {
        let (dir, access) = access();
        let id = access.check("token-one-0123456789").unwrap();
        let session = access.open_session(&id);
        assert!(access.session_valid(&session.value));

        // The same key read back (a restart) accepts the session.
        let key = load_or_create_key(&dir.path().join("session.key")).unwrap();
        let restarted = Access {
            key,
            tokens: std::sync::RwLock::new(Vec::new()),
            file: None,
        };
        restarted.replace_tokens(&["token-one-0123456789".to_owned()]);
        assert!(restarted.session_valid(&session.value));

        // Tampering with any part, or a session of a removed token, is refused.
        let (claims, signature) = session.value.rsplit_once('.').unwrap();
        let later = claims.replace("v1.", "v1.9");
        for forged in [
            format!("{later}.{signature}"),
            format!("{claims}.{}", "A".repeat(signature.len())),
            claims.to_owned(),
            String::new(),
            "v1.99999999999.0011223344556677.".to_owned(),
        ] {
            assert!(!access.session_valid(&forged), "{forged}");
        }
        access.replace_tokens(&["token-two-0123456789".to_owned()]);
        assert!(!access.session_valid(&session.value));
    }

    #[test]
    fn an_expired_session_is_refused() {
        let (_dir, access) = access();
        let id = access.check("token-one-0123456789").unwrap();
        let claims = format!("v1.{}.{id}", clock::now_millis() / 1_000 - 1);
        let signature = hmac::sign(&access.key, session_message(&claims).as_bytes());
        let expired = format!("{claims}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()));
        assert!(!access.session_valid(&expired));
    }

    #[cfg(unix)]
    #[test]
    fn the_key_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("session.key");
        load_or_create_key(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(&path, b"short").unwrap();
        assert!(load_or_create_key(&path).is_err());
    }
}
