//! The state every handler receives: the store, the validated config, the memory budgets and
//! live-stream slots that keep one client from starving the others, and the shutdown signal.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use actix_web::http::header::HeaderMap;

use crate::{
    access::Access, acme::Http01Tokens, budget::Budget, config::Config, limits::Limits,
    store::Store, streams::StreamSlots, tls::Certificates,
};

/// What every handler receives.
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    /// Body bytes held by captures in flight, so memory stays bounded under load.
    pub body_budget: Arc<Budget>,
    /// Body bytes held by answers that carry a whole stored body.
    pub read_budget: Arc<Budget>,
    /// Live-event streams open at once, in all and per client address.
    pub streams: Arc<StreamSlots>,
    /// What the HTTPS listener serves: whether it is trusted can change while it runs.
    pub certificates: Arc<Certificates>,
    /// The ACME HTTP-01 answers being offered.
    pub acme_tokens: Arc<Http01Tokens>,
    /// The access token and sessions, or `None` when binspector is open.
    pub access: Option<Arc<Access>>,
    /// Rate limits on creations, captures and logins.
    pub limits: Arc<Limits>,
    /// Turns true when the server begins to shut down, so live streams can end.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Where this server's own HTTPS listener answers on this machine: samples sent from the
    /// inspect page go through it.
    pub own_https: SocketAddr,
}

/// What [`AppState::new`] is made from.
pub struct Parts {
    pub store: Store,
    pub config: Arc<Config>,
    pub certificates: Arc<Certificates>,
    pub acme_tokens: Arc<Http01Tokens>,
    pub access: Option<Arc<Access>>,
    pub limits: Arc<Limits>,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// The HTTPS listener's bound address.
    pub https_addr: SocketAddr,
}

impl AppState {
    /// The client's address: the peer's, or what a trusted proxy forwarded (`--trust-proxy`).
    pub fn client_ip(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        crate::proxy::Proxied::new(&self.config.trust_proxy, peer, headers).client()
    }

    /// The state for a configured server.
    pub fn new(parts: Parts) -> AppState {
        let Parts {
            store,
            config,
            certificates,
            acme_tokens,
            access,
            limits,
            shutdown,
            https_addr,
        } = parts;
        let (total, share) = (config.body_budget(), config.body_share());
        AppState {
            access,
            limits,
            store,
            body_budget: Budget::new(total, share, config.body_timeout),
            read_budget: Budget::new(total, share, config.queue_timeout),
            streams: Arc::new(StreamSlots::new(
                config.max_streams,
                config.max_streams_per_client,
            )),
            certificates,
            acme_tokens,
            config,
            shutdown,
            own_https: reachable(https_addr),
        }
    }
}

/// A listener's address as a local client reaches it: a wildcard address means loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            (std::net::Ipv4Addr::LOCALHOST, addr.port()).into()
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            (std::net::Ipv6Addr::LOCALHOST, addr.port()).into()
        }
        _ => addr,
    }
}
