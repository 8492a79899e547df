//! Re-reads `--tls-cert`/`--tls-key` when they change on disk (a certbot renewal, say) and
//! swaps the new pair in; a half-written or mismatched pair is refused and the old one serves on.

use std::{path::PathBuf, sync::Arc, time::Duration};

use tokio::task::JoinHandle;

use super::{load_pair, Certificates, Source};
use crate::file_version::FileVersion;

/// Checks the pair every `interval` and swaps in each new version that loads.
pub fn watch(
    certificates: Arc<Certificates>,
    cert_path: PathBuf,
    key_path: PathBuf,
    interval: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let versions = || (FileVersion::of(&cert_path), FileVersion::of(&key_path));
        // The pair loaded at startup is the one being served.
        let mut seen = versions();
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let now = versions();
            if now == seen {
                continue;
            }
            // Each version is tried once: a pair written in two steps fails on the first and
            // loads on the second, and a broken pair is not logged again until it changes.
            seen = now;
            let (cert, key) = (cert_path.clone(), key_path.clone());
            let loaded = tokio::task::spawn_blocking(move || load_pair(&cert, &key)).await;
            match loaded {
                Ok(Ok(pair)) => {
                    certificates.replace(pair, Source::Files);
                    tracing::info!(cert = %cert_path.display(), "reloaded the TLS certificate; new connections get it");
                }
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "the changed TLS files were not loaded; the previous certificate is still served");
                }
                Err(err) => tracing::error!(error = %err, "reloading the TLS files failed"),
            }
        }
    })
}
