//! TLS for the HTTPS listener: a PEM chain and key from disk, or a self-signed certificate
//! generated once into `<data-dir>/tls/` and reused on later starts.

use std::{
    fs,
    io::BufReader,
    path::{Path, PathBuf},
    sync::Arc,
};

use rustls::{
    pki_types::{CertificateDer, PrivateKeyDer},
    ServerConfig,
};

use crate::{config::Config, startup::StartupError};

/// Builds the rustls server configuration the HTTPS listener uses.
pub fn server_config(config: &Config) -> Result<ServerConfig, StartupError> {
    let (cert_path, key_path) = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => (cert.clone(), key.clone()),
        _ => ensure_self_signed(config)?,
    };
    from_pem_files(&cert_path, &key_path)
}

/// Builds the server configuration from a PEM certificate chain and its private key: rustls
/// with the ring provider, the safe default protocol versions and ALPN `http/1.1`. The
/// benchmark's control and floor servers use it too, so all three speak the same TLS.
pub fn from_pem_files(cert_path: &Path, key_path: &Path) -> Result<ServerConfig, StartupError> {
    let certs = read_certs(cert_path)?;
    let key = read_key(key_path)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| StartupError::Tls(format!("TLS setup failed: {err}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|err| {
            StartupError::Tls(format!(
                "the key in {} does not fit the certificate in {}: {err}",
                key_path.display(),
                cert_path.display()
            ))
        })?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tls)
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
fn ensure_self_signed(config: &Config) -> Result<(PathBuf, PathBuf), StartupError> {
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

    fs::create_dir_all(&dir).map_err(|err| StartupError::DataDir {
        path: dir.clone(),
        reason: err.to_string(),
    })?;
    let generated = rcgen::generate_simple_self_signed(names)
        .map_err(|err| StartupError::Tls(format!("could not generate a certificate: {err}")))?;
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

fn write_file(path: &Path, contents: &[u8], private: bool) -> Result<(), StartupError> {
    let failed = |err: std::io::Error| StartupError::DataDir {
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

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, StartupError> {
    let file = fs::File::open(path).map_err(|err| unreadable(path, &err.to_string()))?;
    let certs = rustls_pemfile::certs(&mut BufReader::new(file))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| unreadable(path, &err.to_string()))?;
    if certs.is_empty() {
        return Err(unreadable(path, "it holds no PEM certificate"));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, StartupError> {
    let file = fs::File::open(path).map_err(|err| unreadable(path, &err.to_string()))?;
    rustls_pemfile::private_key(&mut BufReader::new(file))
        .map_err(|err| unreadable(path, &err.to_string()))?
        .ok_or_else(|| unreadable(path, "it holds no PEM private key"))
}

fn unreadable(path: &Path, reason: &str) -> StartupError {
    StartupError::Tls(format!("cannot use {}: {reason}", path.display()))
}
