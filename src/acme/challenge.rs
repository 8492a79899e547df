//! Answers to ACME challenges: the TLS-ALPN-01 certificate (RFC 8737) served on the HTTPS
//! listener, and the HTTP-01 key authorizations served at `/.well-known/acme-challenge/`.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use rcgen::{CertificateParams, CustomExtension, KeyPair};
use rustls::{
    pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer},
    sign::CertifiedKey,
};

use crate::tls::Certificates;

/// The HTTP-01 answers being offered, by token.
#[derive(Debug, Default)]
pub struct Http01Tokens {
    answers: Mutex<HashMap<String, String>>,
}

impl Http01Tokens {
    /// The key authorization to answer for `token`, while its challenge is open.
    pub fn answer(&self, token: &str) -> Option<String> {
        self.answers().get(token).cloned()
    }

    // Each use is one map call, so a panic elsewhere cannot leave the map half-changed.
    fn answers(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.answers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One challenge answer being offered; offering stops when it is dropped, however the order
/// ends.
pub enum Offered {
    TlsAlpn {
        certificates: Arc<Certificates>,
        name: String,
    },
    Http {
        tokens: Arc<Http01Tokens>,
        token: String,
    },
}

impl Offered {
    /// Serves the TLS-ALPN-01 certificate for `name`, proving `digest` (the SHA-256 of the key
    /// authorization).
    pub fn tls_alpn(
        certificates: &Arc<Certificates>,
        name: &str,
        digest: &[u8],
    ) -> Result<Offered, String> {
        certificates.begin_challenge(name, validation_certificate(name, digest)?);
        Ok(Offered::TlsAlpn {
            certificates: certificates.clone(),
            name: name.to_owned(),
        })
    }

    /// Serves `key_authorization` at `/.well-known/acme-challenge/{token}`.
    pub fn http(tokens: &Arc<Http01Tokens>, token: &str, key_authorization: &str) -> Offered {
        tokens
            .answers()
            .insert(token.to_owned(), key_authorization.to_owned());
        Offered::Http {
            tokens: tokens.clone(),
            token: token.to_owned(),
        }
    }
}

impl Drop for Offered {
    fn drop(&mut self) {
        match self {
            Offered::TlsAlpn { certificates, name } => certificates.end_challenge(name),
            Offered::Http { tokens, token } => {
                tokens.answers().remove(token);
            }
        }
    }
}

/// A self-signed certificate for `name` carrying the critical acmeIdentifier extension.
fn validation_certificate(name: &str, digest: &[u8]) -> Result<CertifiedKey, String> {
    let failed = |err: rcgen::Error| format!("cannot make the TLS-ALPN-01 certificate: {err}");
    let mut params = CertificateParams::new(vec![name.to_owned()]).map_err(failed)?;
    params
        .custom_extensions
        .push(CustomExtension::new_acme_identifier(digest));
    let key = KeyPair::generate().map_err(failed)?;
    let cert = params.self_signed(&key).map_err(failed)?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signing_key = crate::tls::provider()
        .key_provider
        .load_private_key(der)
        .map_err(|err| format!("cannot load the TLS-ALPN-01 key: {err}"))?;
    Ok(CertifiedKey::new(vec![cert.der().clone()], signing_key))
}
