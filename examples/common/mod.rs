//! What the benchmark's control and floor servers share: their listener flags and their TLS,
//! which is binspector's own.

use std::{net::SocketAddr, path::PathBuf};

/// Where and how a benchmark server listens.
#[derive(Debug, clap::Args)]
pub struct Listener {
    /// HTTPS listener address.
    #[arg(long)]
    pub listen: SocketAddr,
    /// PEM certificate chain (e.g. the one binspector generated in <data-dir>/tls/cert.pem).
    #[arg(long)]
    pub cert: PathBuf,
    /// PEM private key for --cert.
    #[arg(long)]
    pub key: PathBuf,
    /// HTTP worker threads.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
}

impl Listener {
    /// binspector's TLS configuration for `--cert` and `--key`.
    pub fn tls(&self) -> std::io::Result<rustls::ServerConfig> {
        binspector::tls::from_pem_files(&self.cert, &self.key).map_err(std::io::Error::other)
    }
}
