//! Wiring: create the data directory, open the store, build TLS, bind the listeners, start
//! the background tasks, and shut everything down in order. Tests build the same application.

use std::{
    io,
    net::{SocketAddr, TcpListener},
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use actix_web::{dev::Server, middleware, web, App, HttpServer};
use tokio::task::JoinHandle;

use crate::{
    config::Config,
    store::{spawn_sweeper, Store},
    tls,
    web::{html_errors, routes, security_headers, AppState},
};

/// Why binspector could not start; each reads as one sentence.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("the data directory {path} is not usable: {reason}")]
    DataDir { path: PathBuf, reason: String },
    #[error("cannot open the database at {url}: {source}")]
    Database {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("{0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
}

/// A bound, ready-to-run binspector.
pub struct Application {
    server: Server,
    store: Store,
    sweeper: JoinHandle<()>,
    signals: JoinHandle<()>,
    https_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    public_url: Option<String>,
}

impl Application {
    /// Prepares everything and binds the listeners (port 0 picks a free port).
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        prepare_data_dir(&config)?;
        let tls = tls::server_config(&config)?;
        let url = config.database_url();
        let store = Store::open(&url, config.write_queue)
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
            config.max_requests_per_bin,
            config.retention(),
            config.sweep_interval.max(Duration::from_millis(10)),
        );

        let config = Arc::new(config);
        let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
        let state = web::Data::new(AppState {
            store: store.clone(),
            config: config.clone(),
            body_budget: Arc::new(tokio::sync::Semaphore::new(config.body_budget())),
            shutdown,
        });
        let static_dir = config.static_dir.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(middleware::from_fn(html_errors))
                .wrap(security_headers())
                .configure(|cfg| routes(cfg, &static_dir))
        })
        .max_connections(config.max_connections)
        .client_request_timeout(config.header_timeout)
        .tls_handshake_timeout(config.header_timeout)
        .client_disconnect_timeout(Duration::from_secs(1))
        .keep_alive(Duration::from_secs(30))
        .shutdown_timeout(10)
        // Signals are handled below so live streams can be told to end first.
        .disable_signals();
        if let Some(workers) = config.workers {
            server = server.workers(workers.max(1));
        }
        server = server
            .listen_rustls_0_23(https, tls)
            .map_err(|err| bind_error(config.listen, &err))?;
        if let (Some(listener), Some(addr)) = (http, config.http_listen) {
            server = server
                .listen(listener)
                .map_err(|err| bind_error(addr, &err))?;
        }

        let server = server.run();
        let signals = tokio::spawn(stop_on_signal(server.handle(), shutdown_tx));
        Ok(Application {
            server,
            signals,
            store,
            sweeper,
            https_addr,
            http_addr,
            public_url: config.public_url.clone(),
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
        self.sweeper.abort();
        self.store.close().await;
        tracing::info!("binspector stopped");
        served
    }

    /// A handle that can stop the server gracefully (used by tests).
    pub fn server_handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

/// Waits for SIGINT or SIGTERM, ends live streams, then stops the server gracefully: it stops
/// accepting and lets in-flight requests (and their captures) finish.
async fn stop_on_signal(
    server: actix_web::dev::ServerHandle,
    shutdown: tokio::sync::watch::Sender<bool>,
) {
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

fn prepare_data_dir(config: &Config) -> Result<(), StartupError> {
    let dir = &config.data_dir;
    let unusable = |err: io::Error| StartupError::DataDir {
        path: dir.clone(),
        reason: err.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(unusable)?;
    let probe = dir.join(".binspector-write-test");
    std::fs::write(&probe, b"ok").map_err(unusable)?;
    std::fs::remove_file(&probe).map_err(unusable)?;
    Ok(())
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
