//! What ACME keeps on disk, in `<data-dir>/acme/<CA host>/`: the account's credentials and the
//! current certificate chain with its key, so that a restart reuses them without asking the CA.
//! One folder per CA, so trying a staging CA never clobbers the production certificate.

use std::{
    fs,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

use instant_acme::AccountCredentials;
use rustls::sign::CertifiedKey;
use x509_parser::{extensions::GeneralName, prelude::FromDer};

/// The folder of one ACME CA's state.
pub struct AcmeDir {
    path: PathBuf,
}

/// A certificate the CA issued, loaded and checked.
pub struct Issued {
    pub key: CertifiedKey,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// The DNS names it covers.
    pub names: Vec<String>,
}

impl Issued {
    /// When to renew: two thirds into its lifetime (day 60 of a 90-day certificate).
    pub fn renew_at(&self) -> SystemTime {
        let lifetime = self
            .not_after
            .duration_since(self.not_before)
            .unwrap_or(Duration::ZERO);
        self.not_before + lifetime * 2 / 3
    }

    /// Whether it covers every one of `domains` and has not expired.
    pub fn serves(&self, domains: &[String]) -> bool {
        SystemTime::now() < self.not_after
            && domains
                .iter()
                .all(|domain| self.names.iter().any(|name| name == domain))
    }
}

impl AcmeDir {
    /// The folder for the CA at `directory_url`, created (owner-only) if needed.
    pub fn open(data_dir: &Path, directory_url: &str) -> Result<AcmeDir, String> {
        let path = data_dir.join("acme").join(folder_name(directory_url));
        fs::create_dir_all(&path)
            .map_err(|err| format!("cannot create {}: {err}", path.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o700))
                .map_err(|err| format!("cannot restrict {}: {err}", path.display()))?;
        }
        Ok(AcmeDir { path })
    }

    /// The stored account, if there is a readable one.
    pub fn account(&self) -> Option<AccountCredentials> {
        let text = fs::read(self.path.join("account.json")).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Keeps the account's credentials (its private key among them) readable by the owner only.
    pub fn save_account(&self, credentials: &AccountCredentials) -> Result<(), String> {
        let json = serde_json::to_vec_pretty(credentials).map_err(|err| err.to_string())?;
        write_private(&self.path.join("account.json"), &json)
    }

    /// Drops the stored account, so the next attempt registers a new one.
    pub fn forget_account(&self) {
        let _ = fs::remove_file(self.path.join("account.json"));
    }

    /// The stored certificate, if its files load as a matching pair.
    pub fn certificate(&self) -> Option<Issued> {
        let key = crate::tls::load_pair(&self.cert_path(), &self.key_path()).ok()?;
        let leaf = key.end_entity_cert().ok()?;
        let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(leaf).ok()?;
        let time = |seconds: i64| {
            SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
        };
        let validity = parsed.validity();
        let names = parsed
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|san| {
                san.value
                    .general_names
                    .iter()
                    .filter_map(|name| match name {
                        GeneralName::DNSName(dns) => Some(dns.to_ascii_lowercase()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Issued {
            not_before: time(validity.not_before.timestamp()),
            not_after: time(validity.not_after.timestamp()),
            names,
            key,
        })
    }

    /// Stores a new chain and its key, each written whole before it replaces the old file.
    pub fn save_certificate(&self, chain_pem: &str, key_pem: &str) -> Result<(), String> {
        write_private(&self.key_path(), key_pem.as_bytes())?;
        write_private(&self.cert_path(), chain_pem.as_bytes())
    }

    fn cert_path(&self) -> PathBuf {
        self.path.join("cert.pem")
    }

    fn key_path(&self) -> PathBuf {
        self.path.join("key.pem")
    }
}

/// `https://acme-v02.api.letsencrypt.org/directory` gives `acme-v02.api.letsencrypt.org`;
/// `https://127.0.0.1:14000/dir` gives `127.0.0.1_14000`.
fn folder_name(directory_url: &str) -> String {
    let rest = directory_url
        .split_once("://")
        .map_or(directory_url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let name: String = authority
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect();
    match name.trim_matches('.') {
        "" => "ca".to_owned(),
        trimmed => trimmed.to_owned(),
    }
}

/// Writes to a temporary file beside `path` (owner-only), then renames it into place.
fn write_private(path: &Path, contents: &[u8]) -> Result<(), String> {
    let failed = |err: std::io::Error| format!("cannot write {}: {err}", path.display());
    let temporary = path.with_extension("tmp");
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary).map_err(failed)?;
    std::io::Write::write_all(&mut file, contents).map_err(failed)?;
    file.sync_all().map_err(failed)?;
    fs::rename(&temporary, path).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ca_gets_its_own_folder() {
        assert_eq!(
            folder_name("https://acme-v02.api.letsencrypt.org/directory"),
            "acme-v02.api.letsencrypt.org"
        );
        assert_eq!(
            folder_name("https://127.0.0.1:14000/dir"),
            "127.0.0.1_14000"
        );
        assert_eq!(folder_name("https://../../etc"), "ca");
        assert_eq!(folder_name("https://[::1]:14000/dir"), "___1__14000");
    }
}
