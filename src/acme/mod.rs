//! Trusted certificates from an ACME CA (Let's Encrypt by default), obtained and renewed in
//! the background while the server runs, with `instant-acme` speaking the protocol.
//!
//! The HTTPS listener answers TLS-ALPN-01 itself, so port 443 alone is enough; with
//! `--http-listen` on, HTTP-01 is the fallback when a TLS-ALPN-01 validation fails. Until the
//! first certificate arrives the self-signed one is served. A failure is logged with the CA's
//! own reason and retried with backoff; it never stops the server or drops the certificate it
//! has.

mod challenge;
mod client;
mod storage;

pub use challenge::Http01Tokens;

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, SystemTime},
};

use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus,
    RetryPolicy,
};
use rustls::pki_types::CertificateDer;
use tokio::task::JoinHandle;

use self::{
    challenge::Offered,
    storage::{AcmeDir, Issued},
};
use crate::{
    config::Config,
    tls::{Certificates, Source},
};

/// The first retry after a failure waits this long; each further failure doubles it.
const FIRST_RETRY: Duration = Duration::from_secs(60);
/// The longest wait between attempts.
const LONGEST_RETRY: Duration = Duration::from_secs(6 * 3_600);
/// How long one order may take to be validated, and then to be issued.
const ORDER_TIMEOUT: Duration = Duration::from_secs(120);
/// The longest one whole attempt may take, so a CA that stops answering cannot stall renewals.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(300);
/// A renewal due far ahead is checked again at least this often (a changed clock, say).
const LONGEST_SLEEP: Duration = Duration::from_secs(86_400);

/// What the ACME client is told by the flags.
pub struct Settings {
    pub domains: Vec<String>,
    pub email: Option<String>,
    pub directory: String,
    pub ca_root: Option<PathBuf>,
    /// Whether HTTP-01 can be answered (`--http-listen` is on).
    pub http01: bool,
}

impl Settings {
    /// The ACME settings, when `--acme-domain` is given.
    pub fn from_config(config: &Config) -> Option<Settings> {
        (!config.acme_domains.is_empty()).then(|| Settings {
            domains: config.acme_domains.clone(),
            email: config.acme_email.clone(),
            directory: config.acme_directory.clone(),
            ca_root: config.acme_ca_root.clone(),
            http01: config.http_listen.is_some(),
        })
    }
}

/// Why ACME could not start at all (a bad data directory or CA root); failures talking to the
/// CA are not errors of this kind, they are retried.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up ACME: {0}")]
pub struct AcmeError(String);

/// The ACME client's whole state.
struct Client {
    settings: Settings,
    dir: AcmeDir,
    certificates: Arc<Certificates>,
    tokens: Arc<Http01Tokens>,
    /// `--acme-ca-root`, trusted beside the platform's roots.
    extra_roots: Vec<CertificateDer<'static>>,
    account: Option<Account>,
}

/// Serves the stored certificate if there is a usable one, then starts the task that obtains
/// and renews it.
pub fn start(
    settings: Settings,
    data_dir: &std::path::Path,
    certificates: Arc<Certificates>,
    tokens: Arc<Http01Tokens>,
) -> Result<JoinHandle<()>, AcmeError> {
    let dir = AcmeDir::open(data_dir, &settings.directory).map_err(AcmeError)?;
    // Read and checked now, so a wrong path is a startup error rather than a retry loop.
    let extra_roots = client::extra_roots(settings.ca_root.as_deref()).map_err(AcmeError)?;
    client::https_client(&extra_roots).map_err(AcmeError)?;
    let stored = dir
        .certificate()
        .filter(|issued| issued.serves(&settings.domains));
    match &stored {
        Some(issued) => {
            tracing::info!(
                domains = %settings.domains.join(","),
                valid_until = %clock_text(issued.not_after),
                renew_at = %clock_text(issued.renew_at()),
                "serving the stored ACME certificate"
            );
            certificates.replace(issued.key.clone(), Source::Acme);
        }
        None => tracing::info!(
            domains = %settings.domains.join(","),
            directory = %settings.directory,
            "waiting for a certificate from the ACME CA; the self-signed one is served until it arrives"
        ),
    }
    let client = Client {
        settings,
        dir,
        certificates,
        tokens,
        extra_roots,
        account: None,
    };
    Ok(tokio::spawn(client.run(stored)))
}

impl Client {
    /// Renews `current` when it is due (at once when there is none), forever.
    async fn run(mut self, mut current: Option<Issued>) {
        let mut failures: u32 = 0;
        let mut kind = ChallengeType::TlsAlpn01;
        loop {
            if let Some(issued) = &current {
                let due = issued
                    .renew_at()
                    .duration_since(SystemTime::now())
                    .unwrap_or(Duration::ZERO);
                if !due.is_zero() {
                    tokio::time::sleep(due.min(LONGEST_SLEEP)).await;
                    continue;
                }
            }
            let attempt = tokio::time::timeout(ATTEMPT_TIMEOUT, self.obtain(&kind)).await;
            let outcome = attempt.unwrap_or_else(|_| {
                Err(Failure::Local(format!(
                    "the CA did not finish within {} s",
                    ATTEMPT_TIMEOUT.as_secs()
                )))
            });
            match outcome {
                Ok(issued) => {
                    tracing::info!(
                        domains = %self.settings.domains.join(","),
                        valid_until = %clock_text(issued.not_after),
                        renew_at = %clock_text(issued.renew_at()),
                        "serving the new certificate from the ACME CA"
                    );
                    self.certificates.replace(issued.key.clone(), Source::Acme);
                    current = Some(issued);
                    failures = 0;
                }
                Err(failure) => {
                    failures += 1;
                    if failure.account_unknown() {
                        // The CA forgot the account (a reset test CA, a deactivation): the
                        // next attempt registers a new one.
                        self.account = None;
                        self.dir.forget_account();
                    }
                    // A validation that failed one way may pass the other: try it at once.
                    let switch = matches!(failure, Failure::Validation(_)) && self.settings.http01;
                    let wait = if switch && failures == 1 {
                        Duration::from_secs(1)
                    } else {
                        backoff(failures)
                    };
                    tracing::warn!(
                        reason = %failure,
                        retry_in_s = wait.as_secs(),
                        still_serving = ?self.certificates.source(),
                        "the ACME CA did not issue a certificate"
                    );
                    if switch {
                        kind = match kind {
                            ChallengeType::TlsAlpn01 => ChallengeType::Http01,
                            _ => ChallengeType::TlsAlpn01,
                        };
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// One whole order: account, challenges, validation, finalization, storage.
    async fn obtain(&mut self, kind: &ChallengeType) -> Result<Issued, Failure> {
        let account = self.account().await?;
        let identifiers: Vec<Identifier> = self
            .settings
            .domains
            .iter()
            .map(|domain| Identifier::Dns(domain.clone()))
            .collect();
        tracing::info!(
            domains = %self.settings.domains.join(","),
            challenge = challenge_name(kind),
            "asking the ACME CA for a certificate"
        );
        let mut order = account.new_order(&NewOrder::new(&identifiers)).await?;

        // Offered until this order ends, whichever way.
        let mut offered = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization?;
            match authorization.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                status => {
                    return Err(Failure::Validation(format!(
                        "the authorization for {} is {status:?}",
                        authorization.identifier()
                    )))
                }
            }
            let name = authorization.identifier().to_string();
            let mut challenge = authorization.challenge(kind.clone()).ok_or_else(|| {
                Failure::Validation(format!(
                    "the CA offers no {} challenge for {name}",
                    challenge_name(kind)
                ))
            })?;
            let key_authorization = challenge.key_authorization();
            offered.push(match kind {
                ChallengeType::Http01 => {
                    Offered::http(&self.tokens, &challenge.token, key_authorization.as_str())
                }
                _ => Offered::tls_alpn(
                    &self.certificates,
                    &name,
                    key_authorization.digest().as_ref(),
                )
                .map_err(Failure::Local)?,
            });
            challenge
                .set_ready()
                .await
                .map_err(|err| Failure::validation(kind, &err))?;
        }

        let polling = RetryPolicy::new().timeout(ORDER_TIMEOUT);
        let status = order
            .poll_ready(&polling)
            .await
            .map_err(|err| Failure::validation(kind, &err))?;
        if status != OrderStatus::Ready {
            return Err(Failure::Validation(
                validation_errors(&mut order, kind).await,
            ));
        }
        drop(offered);
        let key_pem = order.finalize().await?;
        let chain_pem = order.poll_certificate(&polling).await?;
        self.dir
            .save_certificate(&chain_pem, &key_pem)
            .map_err(Failure::Local)?;
        self.dir.certificate().ok_or_else(|| {
            Failure::Local("the issued certificate does not load as a pair with its key".to_owned())
        })
    }

    /// The ACME account: the stored one, else a new one (then stored).
    async fn account(&mut self) -> Result<Account, Failure> {
        if let Some(account) = &self.account {
            return Ok(account.clone());
        }
        let http = || client::https_client(&self.extra_roots).map_err(Failure::Local);
        let account = match self.dir.account() {
            Some(credentials) => {
                Account::builder_with_http(http()?)
                    .from_credentials(credentials)
                    .await?
            }
            None => {
                let contact = self
                    .settings
                    .email
                    .as_ref()
                    .map(|email| format!("mailto:{email}"));
                let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
                let (account, credentials) = Account::builder_with_http(http()?)
                    .create(
                        &NewAccount {
                            contact: &contacts,
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        self.settings.directory.clone(),
                        None,
                    )
                    .await?;
                self.dir
                    .save_account(&credentials)
                    .map_err(Failure::Local)?;
                tracing::info!(directory = %self.settings.directory, "created an ACME account");
                account
            }
        };
        self.account = Some(account.clone());
        Ok(account)
    }
}

/// Why an attempt failed, as the log tells it.
#[derive(Debug, thiserror::Error)]
enum Failure {
    /// The CA answered with a problem document: its own words.
    #[error("{}", ca_reason(.0))]
    Ca(instant_acme::Error),
    /// The CA could not validate a challenge: what it said about each.
    #[error("validation failed: {0}")]
    Validation(String),
    /// Something on this side (files, keys).
    #[error("{0}")]
    Local(String),
}

impl Failure {
    /// Whether the CA no longer knows the stored account.
    fn account_unknown(&self) -> bool {
        matches!(self, Failure::Ca(instant_acme::Error::Api(problem))
            if problem.r#type.as_deref() == Some("urn:ietf:params:acme:error:accountDoesNotExist"))
    }

    /// The CA's answer while it validated a `kind` challenge.
    fn validation(kind: &ChallengeType, err: &instant_acme::Error) -> Failure {
        Failure::Validation(format!("{} ({})", ca_reason(err), challenge_name(kind)))
    }
}

impl From<instant_acme::Error> for Failure {
    fn from(err: instant_acme::Error) -> Self {
        Failure::Ca(err)
    }
}

/// The CA's reason in its words (`detail` and problem type), or what stopped the exchange.
fn ca_reason(err: &instant_acme::Error) -> String {
    match err {
        instant_acme::Error::Api(problem) => {
            let kind = problem
                .r#type
                .as_deref()
                .map(|kind| kind.trim_start_matches("urn:ietf:params:acme:error:"))
                .unwrap_or("error");
            let detail = problem.detail.as_deref().unwrap_or("no detail given");
            format!("the CA answered {kind}: {detail}")
        }
        instant_acme::Error::Timeout(_) => "the CA did not finish the order in time".to_owned(),
        other => format!("cannot reach the CA: {}", error_chain(other)),
    }
}

/// An error and its sources, one after another.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What the CA said about each challenge it could not validate.
async fn validation_errors(order: &mut instant_acme::Order, kind: &ChallengeType) -> String {
    let mut reasons = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(Ok(authorization)) = authorizations.next().await {
        let problem = authorization
            .challenges
            .iter()
            .filter(|challenge| &challenge.r#type == kind)
            .find_map(|challenge| challenge.error.as_ref());
        if let Some(problem) = problem {
            reasons.push(format!(
                "{} ({}): {}",
                authorization.identifier(),
                challenge_name(kind),
                problem.detail.as_deref().unwrap_or("no detail given")
            ));
        }
    }
    match reasons.is_empty() {
        true => format!("the order did not become ready ({})", challenge_name(kind)),
        false => reasons.join("; "),
    }
}

fn challenge_name(kind: &ChallengeType) -> &'static str {
    match kind {
        ChallengeType::Http01 => "http-01",
        ChallengeType::TlsAlpn01 => "tls-alpn-01",
        _ => "other",
    }
}

/// The wait after `failures` failures in a row: 1 min, 2, 4, … up to 6 h.
fn backoff(failures: u32) -> Duration {
    FIRST_RETRY
        .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1)))
        .min(LONGEST_RETRY)
}

/// A time for the log, in UTC.
fn clock_text(time: SystemTime) -> String {
    let millis = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        });
    crate::clock::rfc3339_millis(millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_six_hours() {
        assert_eq!(backoff(1), Duration::from_secs(60));
        assert_eq!(backoff(2), Duration::from_secs(120));
        assert_eq!(backoff(5), Duration::from_secs(960));
        assert_eq!(backoff(40), LONGEST_RETRY);
    }
}
