//! Wiring: lock the data directory, open the store, build TLS, bind the listeners, start the
//! background tasks, and shut everything down in order. Tests build the same application.

use std::{
    io,
    net::{SocketAddr, TcpListener},
    sync::Arc,
    time::Duration,
};

use actix_server::{Server, ServerHandle};
use actix_web::web;
use tokio::task::JoinHandle;

use crate::{
    access::{Access, AccessError},
    acme::{self, AcmeError, Http01Tokens},
    config::Config,
    datadir::{DataDir, DataDirError},
    limits::Limits,
    server,
    state::{AppState, Parts},
    store::{spawn_sweeper, Store, SweepPolicy},
    tls::{self, TlsError},
};

/// Why binspector could not start; each reads as one sentence.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error("cannot open the database at {url}: {source}")]
    Database {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Acme(#[from] AcmeError),
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
}

/// A bound, ready-to-run binspector.
pub struct Application {
    server: Server,
    store: Store,
    /// The sweeper, the certificate reloader, the ACME client.
    background: Vec<JoinHandle<()>>,
    signals: JoinHandle<()>,
    https_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    public_url: Option<String>,
    /// Held until the application stops, so no second instance uses the same data.
    _data_dir: DataDir,
}

impl Application {
    /// Prepares everything and binds the listeners (port 0 picks a free port).
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        let data_dir = DataDir::open(&config.data_dir)?;
        // Exactly one crypto provider, for the listener and the ACME client alike.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certificates = Arc::new(tls::startup_certificates(&config)?);
        let tls = tls::server_config(certificates.clone(), !config.acme_domains.is_empty())?;
        let url = config.database_url();
        let store = Store::open(
            &url,
            config.write_queue,
            config.capture_limit.0,
            config.sync,
        )
        .await
        .map_err(|source| StartupError::Database { url, source })?;

        let https = bind(config.listen)?;
        let https_addr = local_addr(&https, config.listen)?;
        let http = config.http_listen.map(bind).transpose()?;
        let http_addr = match (&http, config.http_listen) {
            (Some(listener), Some(addr)) => Some(local_addr(listener, addr)?),
            _ => None,
        };

        if !config.static_dir.is_dir() {
            tracing::warn!(dir = %config.static_dir.display(), "static directory not found; pages will have no styles");
        }
        let sweeper = spawn_sweeper(
            store.clone(),
            SweepPolicy::from_config(&config),
            config.sweep_interval.max(Duration::from_millis(10)),
        );
        let access = Access::from_config(&config)?.map(Arc::new);
        let limits = Arc::new(Limits::from_config(&config));

        let config = Arc::new(config);
        let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
        let mut background = vec![sweeper, tidy_limits(limits.clone())];
        if let Some(access) = &access {
            background.extend(
                access
                    .clone()
                    .watch(config.tls_reload_interval.max(Duration::from_millis(10))),
            );
        }
        if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
            background.push(tls::reload::watch(
                certificates.clone(),
                cert.clone(),
                key.clone(),
                config.tls_reload_interval.max(Duration::from_millis(10)),
            ));
        }
        let acme_tokens = Arc::new(Http01Tokens::default());
        if let Some(settings) = acme::Settings::from_config(&config) {
            background.push(acme::start(
                settings,
                &config.data_dir,
                certificates.clone(),
                acme_tokens.clone(),
            )?);
        }
        let state = web::Data::new(AppState::new(Parts {
            store: store.clone(),
            config: config.clone(),
            certificates,
            acme_tokens,
            access,
            limits,
            shutdown,
            https_addr,
        }));
        let settings = server::Settings {
            https,
            tls,
            http,
            workers: config.workers,
            max_connections: config.max_connections,
            header_timeout: config.header_timeout,
            static_dir: config.static_dir.clone(),
        };
        let server = server::build(settings, state).map_err(|err| bind_error(https_addr, &err))?;
        let signals = tokio::spawn(stop_on_signal(server.handle(), shutdown_tx));
        Ok(Application {
            server,
            signals,
            store,
            background,
            https_addr,
            http_addr,
            public_url: config.public_url.clone(),
            _data_dir: data_dir,
        })
    }

    /// The port the HTTPS listener got.
    pub fn https_port(&self) -> u16 {
        self.https_addr.port()
    }

    /// The port the plain-HTTP listener got, if there is one.
    pub fn http_port(&self) -> Option<u16> {
        self.http_addr.map(|addr| addr.port())
    }

    /// The URLs to open, for the startup message.
    pub fn urls(&self) -> Vec<String> {
        if let Some(url) = &self.public_url {
            return vec![format!("{url}/")];
        }
        let show = |addr: SocketAddr, scheme: &str| {
            let host = if addr.ip().is_unspecified() {
                "localhost".to_owned()
            } else if addr.is_ipv6() {
                format!("[{}]", addr.ip())
            } else {
                addr.ip().to_string()
            };
            format!("{scheme}://{host}:{}/", addr.port())
        };
        let mut urls = vec![show(self.https_addr, "https")];
        urls.extend(self.http_addr.map(|addr| show(addr, "http")));
        urls
    }

    /// The store, for tests that look underneath.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until SIGINT/SIGTERM (or a stop), then finishes in-flight captures, flushes the
    /// writer and returns.
    pub async fn run_until_stopped(self) -> io::Result<()> {
        let served = self.server.await;
        self.signals.abort();
        for task in &self.background {
            task.abort();
        }
        self.store.close().await;
        tracing::info!("binspector stopped");
        served
    }

    /// A handle that can stop the server gracefully (used by tests).
    pub fn server_handle(&self) -> ServerHandle {
        self.server.handle()
    }
}

/// Waits for SIGINT or SIGTERM, ends live streams, then stops the server gracefully: it stops
/// accepting and lets in-flight requests (and their captures) finish.
async fn stop_on_signal(server: ServerHandle, shutdown: tokio::sync::watch::Sender<bool>) {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("interrupted; shutting down"),
        _ = terminate => tracing::info!("SIGTERM received; shutting down"),
    }
    let _ = shutdown.send(true);
    server.stop(true).await;
}

/// Every minute, the rate limiters forget the keys whose buckets have refilled.
fn tidy_limits(limits: Arc<Limits>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(60));
        loop {
            ticks.tick().await;
            limits.tidy();
        }
    })
}

fn bind(addr: SocketAddr) -> Result<TcpListener, StartupError> {
    TcpListener::bind(addr).map_err(|err| bind_error(addr, &err))
}

fn local_addr(listener: &TcpListener, addr: SocketAddr) -> Result<SocketAddr, StartupError> {
    listener.local_addr().map_err(|err| bind_error(addr, &err))
}

fn bind_error(addr: SocketAddr, err: &io::Error) -> StartupError {
    let reason = match err.kind() {
        io::ErrorKind::AddrInUse => "the address is already in use".to_owned(),
        io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need privileges)".to_owned()
        }
        _ => err.to_string(),
    };
    StartupError::Bind { addr, reason }
}
