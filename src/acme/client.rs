//! The HTTPS client the ACME protocol runs over: the system's roots plus `--acme-ca-root`, on
//! the same ring provider as the listener.

use std::{path::Path, sync::Arc};

use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use instant_acme::{BodyWrapper, HttpClient};
use rustls::{pki_types::CertificateDer, ClientConfig};
use rustls_platform_verifier::Verifier;

/// The PEM roots in `path` (`--acme-ca-root`), read once at startup.
pub fn extra_roots(path: Option<&Path>) -> Result<Vec<CertificateDer<'static>>, String> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let pem = std::fs::read(path)
        .map_err(|err| format!("cannot read the ACME CA root {}: {err}", path.display()))?;
    let roots = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| {
            format!(
                "the ACME CA root {} is not valid PEM ({err})",
                path.display()
            )
        })?;
    if roots.is_empty() {
        return Err(format!(
            "the ACME CA root {} holds no PEM certificate",
            path.display()
        ));
    }
    Ok(roots)
}

/// A client that trusts the platform's roots and `extra`.
pub fn https_client(extra: &[CertificateDer<'static>]) -> Result<Box<dyn HttpClient>, String> {
    let provider = crate::tls::provider();
    let verifier = Verifier::new_with_extra_roots(extra.iter().cloned(), provider.clone())
        .map_err(|err| format!("cannot set up the roots to trust for the ACME CA: {err}"))?;
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| err.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .build();
    let client: Client<_, BodyWrapper<bytes::Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    Ok(Box::new(client))
}
