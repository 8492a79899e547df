//! TLS for the HTTPS listener: a PEM chain and key from disk (re-read when they change), or a
//! self-signed certificate generated once into `<data-dir>/tls/` and reused on later starts;
//! ACME replaces either while the server runs. HTTP/2 and HTTP/1.1 are offered by ALPN.

mod certificates;
pub mod reload;

pub use certificates::{Certificates, Source, ACME_TLS_ALPN};

use std::{
    fs,
    io::BufReader,
    path::{Path, PathBuf},
    sync::Arc,
};

use rustls::{
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer},
    server::{ParsedCertificate, ResolvesServerCert},
    sign::{CertifiedKey, SingleCertAndKey},
    ServerConfig,
};

use crate::config::Config;

/// Why TLS could not be set up; each names the file at fault and reads as one sentence.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot use the certificate {path}: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("cannot use the private key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("the private key {key} does not belong to the certificate {cert}")]
    Mismatch { cert: PathBuf, key: PathBuf },
    #[error("cannot write the generated certificate to {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("TLS setup failed: {0}")]
    Setup(String),
}

/// The certificate to serve at startup: `--tls-cert`/`--tls-key` when given, else the
/// generated one.
pub fn startup_certificates(config: &Config) -> Result<Certificates, TlsError> {
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Ok(Certificates::new(load_pair(cert, key)?, Source::Files)),
        _ => {
            let (cert, key) = ensure_self_signed(config)?;
            Ok(Certificates::new(
                load_pair(&cert, &key)?,
                Source::SelfSigned,
            ))
        }
    }
}

/// The HTTPS listener's rustls configuration: certificates from `certificates` (so they can
/// change while it runs), HTTP/2 preferred over HTTP/1.1, and ACME's TLS-ALPN-01 protocol
/// when `acme` is on.
pub fn server_config(
    certificates: Arc<Certificates>,
    acme: bool,
) -> Result<ServerConfig, TlsError> {
    let mut alpn = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if acme {
        alpn.push(ACME_TLS_ALPN.to_vec());
    }
    with_resolver(certificates, alpn)
}

/// Builds a fixed server configuration from a PEM certificate chain and its private key: rustls
/// with the ring provider, the safe default protocol versions and ALPN `http/1.1`. The
/// benchmark's control and floor servers use it, so all three speak the same TLS.
pub fn from_pem_files(cert_path: &Path, key_path: &Path) -> Result<ServerConfig, TlsError> {
    let key = load_pair(cert_path, key_path)?;
    with_resolver(
        Arc::new(SingleCertAndKey::from(key)),
        vec![b"http/1.1".to_vec()],
    )
}

/// rustls with the ring provider, the safe default protocol versions, certificates from
/// `resolver` and the ALPN protocols `alpn`, in order of preference.
fn with_resolver(
    resolver: Arc<dyn ResolvesServerCert>,
    alpn: Vec<Vec<u8>>,
) -> Result<ServerConfig, TlsError> {
    let mut tls = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|err| TlsError::Setup(err.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    tls.alpn_protocols = alpn;
    Ok(tls)
}

/// The one crypto provider binspector uses, for servers and clients alike.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a PEM chain and its key and checks that they belong together, so that whatever is
/// wrong is blamed on the right file.
pub fn load_pair(cert_path: &Path, key_path: &Path) -> Result<CertifiedKey, TlsError> {
    certified_key(cert_path, key_path, &provider())
}

/// Reads and checks the pair, so that whatever is wrong is blamed on the right file.
fn certified_key(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let bad_cert = |reason: String| TlsError::Certificate {
        path: cert_path.to_owned(),
        reason,
    };
    let bad_key = |reason: String| TlsError::Key {
        path: key_path.to_owned(),
        reason,
    };
    let certs = read_certs(cert_path).map_err(bad_cert)?;
    let leaf = certs
        .first()
        .ok_or_else(|| bad_cert("it holds no PEM certificate".to_owned()))?;
    ParsedCertificate::try_from(leaf)
        .map_err(|err| bad_cert(format!("it is not a valid X.509 certificate ({err})")))?;
    let key = read_key(key_path).map_err(bad_key)?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|err| bad_key(format!("it is not a usable private key ({err})")))?;
    let certified = CertifiedKey::new(certs, signing_key);
    match certified.keys_match() {
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(TlsError::Mismatch {
                cert: cert_path.to_owned(),
                key: key_path.to_owned(),
            })
        }
        _ => Ok(certified),
    }
}

/// The names the generated certificate covers: localhost, the loopback addresses and the public host.
fn certificate_names(config: &Config) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Some(host) = config
        .public_url
        .as_deref()
        .and_then(crate::config::public_url_host)
    {
        if !names.iter().any(|name| name == host) {
            names.push(host.to_owned());
        }
    }
    names
}

/// Returns the generated certificate's paths, creating it when absent or when the names changed.
fn ensure_self_signed(config: &Config) -> Result<(PathBuf, PathBuf), TlsError> {
    let dir = config.data_dir.join("tls");
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    let names_path = dir.join("names.txt");
    let names = certificate_names(config);
    let wanted = names.join("\n");

    let current = fs::read_to_string(&names_path).ok();
    if cert_path.exists() && key_path.exists() && current.as_deref() == Some(wanted.as_str()) {
        return Ok((cert_path, key_path));
    }

    fs::create_dir_all(&dir).map_err(|err| TlsError::Write {
        path: dir.clone(),
        reason: err.to_string(),
    })?;
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|err| TlsError::Setup(format!("could not generate a certificate: {err}")))?;
    write_file(&cert_path, generated.cert.pem().as_bytes(), false)?;
    write_file(
        &key_path,
        generated.signing_key.serialize_pem().as_bytes(),
        true,
    )?;
    write_file(&names_path, wanted.as_bytes(), false)?;
    tracing::info!(path = %cert_path.display(), "generated a self-signed certificate");
    Ok((cert_path, key_path))
}

fn write_file(path: &Path, contents: &[u8], private: bool) -> Result<(), TlsError> {
    let failed = |err: std::io::Error| TlsError::Write {
        path: path.to_owned(),
        reason: err.to_string(),
    };
    fs::write(path, contents).map_err(failed)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(failed)?;
    }
    #[cfg(not(unix))]
    let _ = private;
    Ok(())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let file = fs::File::open(path).map_err(|err| err.to_string())?;
    rustls_pemfile::certs(&mut BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| format!("it is not valid PEM ({err})"))
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    let file = fs::File::open(path).map_err(|err| err.to_string())?;
    rustls_pemfile::private_key(&mut BufReader::new(file))
        .map_err(|err| format!("it is not valid PEM ({err})"))?
        .ok_or_else(|| "it holds no PEM private key".to_owned())
}
