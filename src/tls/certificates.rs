//! The certificate the HTTPS listener serves, swappable while it runs (reloaded files, ACME
//! renewals), and the TLS-ALPN-01 challenge certificates answered during an ACME validation.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard},
};

use rustls::{
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};

/// The ALPN protocol an ACME CA offers when it validates a TLS-ALPN-01 challenge (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Where the served certificate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Generated into `<data-dir>/tls/`: senders that verify TLS refuse it.
    SelfSigned,
    /// `--tls-cert` and `--tls-key`.
    Files,
    /// Issued by the ACME CA for `--acme-domain`.
    Acme,
}

struct Served {
    key: Arc<CertifiedKey>,
    source: Source,
}

/// The listener's certificate resolver. A swap applies to the next handshake; connections
/// already open keep the certificate they began with.
pub struct Certificates {
    served: RwLock<Served>,
    /// TLS-ALPN-01 answers, by the (lowercase) name being validated.
    challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl Certificates {
    /// Starts serving `key`.
    pub fn new(key: CertifiedKey, source: Source) -> Certificates {
        Certificates {
            served: RwLock::new(Served {
                key: Arc::new(key),
                source,
            }),
            challenges: RwLock::new(HashMap::new()),
        }
    }

    /// Serves `key` from the next handshake on.
    pub fn replace(&self, key: CertifiedKey, source: Source) {
        *write(&self.served) = Served {
            key: Arc::new(key),
            source,
        };
    }

    /// Where the certificate being served came from.
    pub fn source(&self) -> Source {
        read(&self.served).source
    }

    /// Whether senders that verify TLS can accept the certificate being served.
    pub fn is_trusted(&self) -> bool {
        self.source() != Source::SelfSigned
    }

    /// The certificate being served.
    pub fn current(&self) -> Arc<CertifiedKey> {
        read(&self.served).key.clone()
    }

    /// Answers TLS-ALPN-01 validations of `name` with `key` until [`Self::end_challenge`].
    pub fn begin_challenge(&self, name: &str, key: CertifiedKey) {
        write(&self.challenges).insert(name.to_ascii_lowercase(), Arc::new(key));
    }

    /// Stops answering TLS-ALPN-01 validations of `name`.
    pub fn end_challenge(&self, name: &str) {
        write(&self.challenges).remove(&name.to_ascii_lowercase());
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let validating = hello
            .alpn()
            .is_some_and(|mut offered| offered.any(|protocol| protocol == ACME_TLS_ALPN));
        if validating {
            // Only a name under validation is answered; anything else gets no certificate.
            let name = hello.server_name()?.to_ascii_lowercase();
            return read(&self.challenges).get(&name).cloned();
        }
        Some(self.current())
    }
}

impl fmt::Debug for Certificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificates")
            .field("source", &self.source())
            .finish_non_exhaustive()
    }
}

// A panic while holding one of these locks cannot leave the data half-written (each write is a
// single assignment or map call), so a poisoned lock is still safe to use.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
