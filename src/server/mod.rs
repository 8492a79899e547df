//! The listeners: TCP accept, socket options, TLS, the HTTP/1 tap, and actix-http's services
//! (HTTP/1.1 and HTTP/2, by ALPN) around the app.
//!
//! Built by hand on actix-server and actix-http rather than with actix-web's `HttpServer`,
//! for four things `HttpServer` does not let an app do: answer `Expect: 100-continue` only
//! after the capture checks, put the tap between each HTTP/1 connection and the HTTP parser,
//! close ACME validation handshakes, and tell each request which listener (and so which scheme)
//! it came through.

pub mod tap;

use std::{io, net::SocketAddr, path::PathBuf, rc::Rc, sync::Arc, time::Duration};

use actix_http::{Extensions, HttpService, KeepAlive, Protocol, Request};
use actix_rt::net::TcpStream;
use actix_server::Server;
use actix_service::{
    fn_factory, fn_service, map_config, Service, ServiceFactory, ServiceFactoryExt,
};
use actix_tls::accept::rustls_0_23::{Acceptor, TlsStream};
use actix_web::{dev::AppConfig, web};
use tokio::io::{AsyncRead, AsyncWrite};

use self::tap::{Tap, TapShared};
use crate::{capture, state::AppState, tls::ACME_TLS_ALPN};

/// How long a connection may stay open between requests.
const KEEP_ALIVE: Duration = Duration::from_secs(30);
/// How long HTTP/2 connections may finish what they are doing once the server stops.
const H2_STOP_GRACE: Duration = Duration::from_secs(2);
/// Idle time before the kernel starts probing a silent peer, and the gap between probes;
/// together with the retries, a peer that vanished is noticed within about a minute.
const TCP_KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
const TCP_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const TCP_KEEPALIVE_RETRIES: u32 = 3;

/// What a request may know about the connection it came on (`HttpRequest::conn_data`).
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    /// Whether it came through the HTTPS listener.
    pub secure: bool,
    /// The listener's address.
    pub local_addr: SocketAddr,
}

/// The sockets and settings the server is built from.
pub struct Settings {
    pub https: std::net::TcpListener,
    pub tls: rustls::ServerConfig,
    pub http: Option<std::net::TcpListener>,
    pub workers: Option<usize>,
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub static_dir: PathBuf,
}

/// Builds the server on the bound listeners; it starts serving once awaited.
pub fn build(settings: Settings, state: web::Data<AppState>) -> io::Result<Server> {
    let mut builder = Server::build()
        .max_concurrent_connections(settings.max_connections)
        .shutdown_timeout(10)
        // Signals are handled by the application, so live streams can be told to end first.
        .disable_signals();
    if let Some(workers) = settings.workers {
        builder = builder.workers(workers.max(1));
    }
    let shutdown = builder.graceful_shutdown_signal();
    let header_timeout = settings.header_timeout;

    let https_addr = settings.https.local_addr()?;
    let tls = Arc::new(settings.tls);
    let static_dir = Arc::new(settings.static_dir);
    let (state_https, dir_https, shutdown_https) =
        (state.clone(), static_dir.clone(), shutdown.clone());
    builder = builder.listen("https", settings.https, move || {
        let conn = Conn {
            secure: true,
            local_addr: https_addr,
        };
        let mut acceptor = Acceptor::new((*tls).clone());
        acceptor.set_handshake_timeout(header_timeout);
        // The tap times HTTP/1 heads itself; HTTP/2 has no tap, so actix-http times its
        // connection preface instead.
        let (h1, h2) = (
            http_service::<Tap<TlsStream<TcpStream>>>(
                conn,
                state_https.clone(),
                dir_https.clone(),
                shutdown_https.clone(),
                Duration::ZERO,
            ),
            http_service::<TlsStream<TcpStream>>(
                conn,
                state_https.clone(),
                dir_https.clone(),
                shutdown_https.clone(),
                header_timeout,
            ),
        );
        let stopping = shutdown_https.clone();
        let by_protocol = fn_factory(move || {
            let (h1, h2) = (h1.new_service(()), h2.new_service(()));
            let stopping = stopping.clone();
            async move {
                let (h1, h2) = (Rc::new(h1.await?), Rc::new(h2.await?));
                Ok::<_, ()>(fn_service(move |io: TlsStream<TcpStream>| {
                    let (h1, h2, stopping) = (h1.clone(), h2.clone(), stopping.clone());
                    async move {
                        let peer = io.get_ref().0.peer_addr().ok();
                        match io.get_ref().1.alpn_protocol() {
                            Some(b"h2") => {
                                // actix-http's HTTP/2 ignores graceful shutdown, so an idle
                                // connection would hold the stop for its whole timeout: close
                                // it shortly after the stop begins.
                                tokio::select! {
                                    served = h2.call((io, Protocol::Http2, peer)) => served,
                                    () = async {
                                        stopping.notified().await;
                                        tokio::time::sleep(H2_STOP_GRACE).await;
                                    } => Ok(()),
                                }
                            }
                            // An ACME CA checking a TLS-ALPN-01 answer: the handshake was the
                            // whole exchange.
                            Some(ACME_TLS_ALPN) => Ok(()),
                            _ => {
                                let io = Tap::new(io, header_timeout);
                                h1.call((io, Protocol::Http1, peer)).await
                            }
                        }
                    }
                }))
            }
        });
        fn_service(|io: TcpStream| async move {
            tune(&io);
            Ok::<_, ()>(io)
        })
        .and_then(acceptor.map_init_err(|_| ()).map_err(|_| ()))
        .and_then(by_protocol.map_err(|_| ()))
    })?;

    if let Some(listener) = settings.http {
        let http_addr = listener.local_addr()?;
        builder = builder.listen("http", listener, move || {
            let conn = Conn {
                secure: false,
                local_addr: http_addr,
            };
            let http = http_service::<Tap<TcpStream>>(
                conn,
                state.clone(),
                static_dir.clone(),
                shutdown.clone(),
                Duration::ZERO,
            );
            fn_service(move |io: TcpStream| async move {
                tune(&io);
                let peer = io.peer_addr().ok();
                Ok::<_, ()>((Tap::new(io, header_timeout), Protocol::Http1, peer))
            })
            .and_then(http.map_err(|_| ()))
        })?;
    }
    Ok(builder.run())
}

/// Socket options for an accepted connection: no Nagle delay on small answers, and keepalive
/// probes so that a peer that vanished without a word (a live stream's, say) is let go.
fn tune(io: &TcpStream) {
    let _ = io.set_nodelay(true);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(TCP_KEEPALIVE_IDLE)
        .with_interval(TCP_KEEPALIVE_INTERVAL)
        .with_retries(TCP_KEEPALIVE_RETRIES);
    let _ = socket2::SockRef::from(io).set_tcp_keepalive(&keepalive);
}

/// A connection type actix-http serves: the tap around an HTTP/1 connection, or an HTTP/2
/// connection as it is.
trait Connection: AsyncRead + AsyncWrite + Unpin + 'static {
    /// The tap's shared side, for the requests to find their raw heads.
    fn tap(&self) -> Option<Arc<TapShared>>;
}

impl<IO: AsyncRead + AsyncWrite + Unpin + 'static> Connection for Tap<IO> {
    fn tap(&self) -> Option<Arc<TapShared>> {
        Some(self.shared())
    }
}

impl Connection for TlsStream<TcpStream> {
    fn tap(&self) -> Option<Arc<TapShared>> {
        None
    }
}

/// actix-http's service for one listener's connections of type `IO`. `request_timeout` bounds
/// the wait for a connection's first request (zero: none).
fn http_service<IO: Connection>(
    conn: Conn,
    state: web::Data<AppState>,
    static_dir: Arc<PathBuf>,
    shutdown: actix_server::GracefulShutdownSignal,
    request_timeout: Duration,
) -> impl ServiceFactory<
    (IO, Protocol, Option<SocketAddr>),
    Config = (),
    Response = (),
    Error = actix_http::error::DispatchError,
    InitError = (),
> {
    let expect_state = state.clone();
    let expect = fn_factory(move || {
        let state = expect_state.clone();
        async move {
            Ok::<_, ()>(fn_service(move |req: Request| {
                let state = state.clone();
                async move { capture::expect::check(&state, req).await }
            }))
        }
    });
    let mut builder = HttpService::build()
        .keep_alive(KeepAlive::Timeout(KEEP_ALIVE))
        // The tap times every HTTP/1 head itself (actix-http only times a connection's first),
        // and answers a late one with a message.
        .client_request_timeout(request_timeout)
        .client_disconnect_timeout(Duration::from_secs(1))
        .local_addr(conn.local_addr)
        .graceful_shutdown_signal(move || {
            let signal = shutdown.clone();
            async move { signal.notified().await }
        });
    if conn.secure {
        builder = builder.secure();
    }
    builder
        .expect(expect)
        .on_connect_ext(move |io: &IO, extensions: &mut Extensions| {
            if let Some(tap) = io.tap() {
                extensions.insert(tap);
            }
            extensions.insert(conn);
        })
        .finish(map_config(crate::web::app(state, &static_dir), |_: ()| {
            AppConfig::default()
        }))
}
