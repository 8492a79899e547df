//! `binspector send-sample`: POSTs sample Kaizala events to a URL over HTTP or HTTPS, checking
//! the server's certificate unless told not to, and says what each request was answered.

use std::{error::Error as StdError, io::Write, process::ExitCode, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{header::HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};
use rustls::{
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider},
    pki_types::{CertificateDer, ServerName, UnixTime},
    ClientConfig, DigitallySignedStruct, SignatureScheme,
};
use rustls_platform_verifier::Verifier;

use crate::{
    config::SendSampleArgs,
    kaizala::samples::{sample, Sample, SampleOptions},
};

/// How long one send may take, from connecting to the end of the answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Most of an answer's body read (and thrown away) so the connection can be used again.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why a sample could not be sent. Each reads as one sentence after `binspector: `.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// `--to` is not an absolute http:// or https:// URL.
    #[error("`{url}` is not an http:// or https:// URL: {reason}")]
    BadUrl { url: String, reason: String },
    /// The TLS client could not be built (no usable roots, say).
    #[error("cannot set up TLS: {0}")]
    Setup(String),
    /// The name did not resolve or the connection was refused.
    #[error("cannot connect to {authority}: {reason}")]
    Connect { authority: String, reason: String },
    /// The server's certificate was not trusted.
    #[error(
        "{authority}'s certificate is not trusted ({reason}); if it is self-signed, as \
         binspector's own certificate is by default, add --insecure"
    )]
    Certificate { authority: String, reason: String },
    /// The TLS handshake failed for another reason.
    #[error("the TLS handshake with {authority} failed: {reason}")]
    Tls { authority: String, reason: String },
    /// The send took longer than its bound.
    #[error("{authority} did not answer within {} s", .timeout.as_secs())]
    Timeout {
        authority: String,
        timeout: Duration,
    },
    /// The request could not be built, or the connection failed after it was made.
    #[error("the request to {authority} failed: {reason}")]
    Request { authority: String, reason: String },
}

/// An HTTP(S) client for samples, reused across sends so that one connection can carry them.
pub struct Sender {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl Sender {
    /// A sender that checks certificates against the platform's roots, or accepts any
    /// certificate when `insecure`.
    pub fn new(insecure: bool) -> Result<Sender, SendError> {
        let provider = crate::tls::provider();
        let verifier: Arc<dyn ServerCertVerifier> = if insecure {
            Arc::new(AnyCertificate(provider.clone()))
        } else {
            let platform = Verifier::new(provider.clone())
                .map_err(|err| SendError::Setup(format!("cannot load the trusted roots: {err}")))?;
            Arc::new(platform)
        };
        let tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| SendError::Setup(err.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Sender {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout: TIMEOUT,
        })
    }

    /// The same sender with another bound on each send.
    pub fn with_timeout(self, timeout: Duration) -> Sender {
        Sender { timeout, ..self }
    }

    /// POSTs `sample` to `url` and returns the status answered.
    pub async fn send(&self, url: &str, sample: &Sample) -> Result<StatusCode, SendError> {
        let uri = parse_url(url)?;
        let authority = uri.authority().map(ToString::to_string).unwrap_or_default();
        let mut request = Request::builder().method(Method::POST).uri(uri).header(
            http::header::USER_AGENT,
            concat!("binspector-send-sample/", env!("CARGO_PKG_VERSION")),
        );
        for (name, value) in &sample.headers {
            // The error names the header but never shows its value (it may be the token).
            let unsendable = || SendError::Request {
                authority: authority.clone(),
                reason: format!("the {name} header cannot carry the value given"),
            };
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| unsendable())?;
            let value = HeaderValue::from_str(value).map_err(|_| unsendable())?;
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(sample.body.clone())))
            .map_err(|err| SendError::Request {
                authority: authority.clone(),
                reason: err.to_string(),
            })?;
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status();
            // Read what the server answered, so that its connection can carry the next sample;
            // an answer cut short does not change the status it came with.
            let _ = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await;
            Ok(status)
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(status)) => Ok(status),
            Ok(Err(err)) => Err(classify(&err, authority)),
            Err(_) => Err(SendError::Timeout {
                authority,
                timeout: self.timeout,
            }),
        }
    }
}

/// POSTs `sample` to `url` with a new [`Sender`] and returns the status code answered.
pub async fn send(url: &str, sample: &Sample, insecure: bool) -> Result<u16, SendError> {
    let status = Sender::new(insecure)?.send(url, sample).await?;
    Ok(status.as_u16())
}

/// Runs `binspector send-sample`: one line on stdout per request sent, errors on stderr, and a
/// failing exit code if any request failed or was answered other than 2xx.
pub async fn run(args: &SendSampleArgs) -> ExitCode {
    let fail = |err: &dyn std::fmt::Display| {
        eprintln!("binspector: {err}");
        ExitCode::FAILURE
    };
    if let Err(err) = parse_url(&args.to) {
        return fail(&err);
    }
    let sender = match Sender::new(args.insecure) {
        Ok(sender) => sender,
        Err(err) => return fail(&err),
    };
    let options = SampleOptions {
        callback_token: args.token.as_deref(),
        context: args.context.as_deref(),
    };
    let deliveries = if args.twice { 2 } else { 1 };
    let mut stdout = std::io::stdout();
    let mut all_ok = true;
    for event_type in args.event.event_types() {
        let sample = sample(event_type, &options);
        for delivery in 1..=deliveries {
            let status = match sender.send(&args.to, &sample).await {
                Ok(status) => status,
                // The next samples would fail the same way.
                Err(err) => {
                    eprintln!(
                        "binspector: {} {}: {err}",
                        event_type.name(),
                        sample.event_id
                    );
                    return ExitCode::FAILURE;
                }
            };
            all_ok &= status.is_success();
            let again = if delivery > 1 {
                "  (again: a duplicate delivery)"
            } else {
                ""
            };
            // A closed stdout must not stop the samples that are left.
            let _ = writeln!(
                stdout,
                "{:<18}  eventId {}  {status}{again}",
                event_type.name(),
                sample.event_id
            );
        }
    }
    let _ = stdout.flush();
    if all_ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("binspector: not every request was answered 2xx");
        ExitCode::FAILURE
    }
}

/// An absolute http:// or https:// URL.
fn parse_url(url: &str) -> Result<Uri, SendError> {
    let bad = |reason: &str| SendError::BadUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    if !url.contains("://") {
        return Err(bad("it does not start with https:// or http://"));
    }
    let uri: Uri = url
        .parse()
        .map_err(|err: http::uri::InvalidUri| bad(&err.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(bad("only http and https are supported")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    Ok(uri)
}

/// Names what went wrong from the client's error and its causes: a certificate, the rest of the
/// handshake, the connection, or the exchange after it.
fn classify(err: &hyper_util::client::legacy::Error, authority: String) -> SendError {
    let causes = causes(err);
    let reason = if causes.is_empty() {
        err.to_string()
    } else {
        causes.join(": ")
    };
    match tls_error(err) {
        Some(rustls::Error::InvalidCertificate(_)) => SendError::Certificate { authority, reason },
        Some(_) => SendError::Tls { authority, reason },
        None if err.is_connect() => SendError::Connect { authority, reason },
        None => SendError::Request { authority, reason },
    }
}

/// The messages of an error's causes, outermost first (the client's own says only "client
/// error (Connect)").
fn causes(err: &(dyn StdError + 'static)) -> Vec<String> {
    let mut messages: Vec<String> = Vec::new();
    let mut next = err.source();
    while let Some(cause) = next {
        let message = cause.to_string();
        // An io::Error shows its inner error's message, and then that error comes again.
        if messages.last() != Some(&message) {
            messages.push(message);
        }
        next = cause.source();
    }
    messages
}

/// The rustls error among an error's causes. It comes inside an `io::Error` (twice over:
/// tokio-rustls wraps it, then hyper-rustls wraps that), and `io::Error::source` skips what it
/// wraps, so wrapped errors are looked into as well as sources.
fn tls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = err.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let wrapped = err
        .downcast_ref::<std::io::Error>()
        .and_then(std::io::Error::get_ref);
    if let Some(tls) = wrapped.and_then(|inner| tls_error(inner)) {
        return Some(tls);
    }
    err.source().and_then(tls_error)
}

/// INSECURE, for `--insecure` only: accepts any server certificate, self-signed, expired or
/// for another name, so that a sample can reach a test server. The handshake's signatures are
/// still checked, which proves only that the server holds the key of the certificate it sent.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kaizala::EventType;

    #[test]
    fn only_absolute_http_urls_are_accepted() {
        for good in [
            "https://bins.example.com/7c1e9a52-3b8d-4f0e-a6d2-9e4b5c1f8a30",
            "http://127.0.0.1:8080/bin/sub/path?x=1",
            "https://[::1]:8443/bin",
        ] {
            assert!(parse_url(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("bins.example.com/abc", "does not start with https://"),
            ("ftp://bins.example.com/abc", "only http and https"),
            ("https://", ""),
            ("https://exa mple.com/", ""),
            ("", ""),
        ] {
            let err = parse_url(bad).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("`{bad}` is not an http:// or https:// URL: ")),
                "{err}"
            );
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn a_certificate_error_is_found_inside_its_wrappers() {
        use rustls::CertificateError;
        use std::io::{Error, ErrorKind};
        let tls = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        // As hyper-rustls hands it over: tokio-rustls's io::Error inside another.
        let wrapped = Error::other(Error::new(ErrorKind::InvalidData, tls.clone()));
        assert_eq!(tls_error(&wrapped), Some(&tls));
        assert_eq!(tls_error(&Error::other("refused")), None);
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        // A port that was just free: nothing listens on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let sample = sample(EventType::TextMessageCreated, &SampleOptions::default());
        let err = send(&format!("http://127.0.0.1:{port}/bin"), &sample, false)
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Connect { .. }), "{err:?}");
        assert!(
            err.to_string().starts_with("cannot connect to 127.0.0.1:"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_token_that_cannot_be_a_header_is_refused_without_showing_it() {
        let options = SampleOptions {
            callback_token: Some("first line\nsecond line"),
            context: None,
        };
        let sample = sample(EventType::TextMessageCreated, &options);
        // Refused before connecting: nothing listens on port 9.
        let err = send("http://127.0.0.1:9/bin", &sample, false)
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Request { .. }), "{err:?}");
        let message = err.to_string();
        assert!(message.contains("kz-callback-token"), "{message}");
        assert!(!message.contains("line"), "{message}");
    }

    #[tokio::test]
    async fn a_silent_server_is_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/bin", listener.local_addr().unwrap());
        // Accepts and then says nothing.
        let silent = tokio::spawn(async move {
            let (_stream, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let sample = sample(EventType::MemberAdded, &SampleOptions::default());
        let sender = Sender::new(false)
            .unwrap()
            .with_timeout(Duration::from_millis(300));
        let err = sender.send(&url, &sample).await.unwrap_err();
        assert!(matches!(err, SendError::Timeout { .. }), "{err:?}");
        silent.abort();
    }
}
