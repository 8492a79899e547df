//! Live arrivals: `GET /inspect/{bin}/events` streams Server-Sent Events naming each request
//! committed to the bin, so an open inspect page can fetch and show its card.
//!
//! Streams are capped (in all and per client address, `503` beyond) so idle ones can never
//! take the connections captures need, each wakes only for its own bin's arrivals, and a
//! client that goes away frees its slot at once: the tap in front of an HTTP/1 connection says
//! when the client closed its side, so the stream does not wait for a write to fail (over
//! HTTP/2, a frequent heartbeat finds out within seconds).

use std::time::Duration;

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use super::{access::Credential, extract::Bin};
use crate::{
    access::Access, error::AppError, server::tap::TapShared, state::AppState, store::LiveArrivals,
    streams::StreamSlot,
};

/// A comment line this often keeps proxies from closing an idle stream.
const HEARTBEAT: Duration = Duration::from_secs(15);
/// Over HTTP/2 there is no tap to say the client went away: a stream it reset is noticed only
/// when a write fails, so such streams write this often and a closed tab frees its slot soon.
const UNTAPPED_HEARTBEAT: Duration = Duration::from_secs(2);

#[derive(Serialize)]
struct ArrivalEvent<'a> {
    id: String,
    event_type: Option<&'a str>,
}

struct Subscription {
    arrivals: LiveArrivals,
    shutdown: watch::Receiver<bool>,
    heartbeat: tokio::time::Interval,
    /// The connection's tap, which says when the client has gone.
    tap: Option<Arc<TapShared>>,
    /// With an access token: what let the stream open, checked again at every heartbeat.
    credential: Option<(Arc<Access>, Credential)>,
    /// Given back when the stream ends, whichever way.
    _slot: StreamSlot,
}

/// `GET /inspect/{bin}/events`
pub(super) async fn events(
    req: HttpRequest,
    Bin(bin): Bin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let slot = state
        .streams
        .take(state.client_ip(req.peer_addr(), req.headers()))?;
    let tap = req.conn_data::<Arc<TapShared>>().cloned();
    let mut heartbeat = tokio::time::interval(match tap {
        Some(_) => HEARTBEAT,
        None => UNTAPPED_HEARTBEAT,
    });
    heartbeat.reset();
    let credential = state
        .access
        .clone()
        .and_then(|access| Some((access, Credential::of(&req)?)));
    let subscription = Subscription {
        arrivals: state.store.subscribe(&bin.id),
        shutdown: state.shutdown.clone(),
        heartbeat,
        tap,
        credential,
        _slot: slot,
    };
    let opening = futures_util::stream::once(async {
        Ok::<_, actix_web::Error>(Bytes::from_static(b"retry: 2000\n\n"))
    });
    let stream = futures_util::stream::unfold(subscription, |mut sub| async move {
        let chunk = next_chunk(&mut sub).await?;
        Some((Ok::<_, actix_web::Error>(chunk), sub))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures_util::StreamExt::chain(opening, stream)))
}

/// The next bytes to send, or `None` when the stream should end (shutdown).
async fn next_chunk(sub: &mut Subscription) -> Option<Bytes> {
    if *sub.shutdown.borrow() {
        return None;
    }
    tokio::select! {
        arrival = sub.arrivals.recv() => match arrival {
            Ok(arrival) => {
                let event = ArrivalEvent {
                    id: arrival.request_id.to_string(),
                    event_type: arrival.event_type.as_deref(),
                };
                let data = serde_json::to_string(&event).unwrap_or_default();
                Some(Bytes::from(format!("event: request\ndata: {data}\n\n")))
            }
            // Too many arrivals to follow one by one: the page reloads instead.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                Some(Bytes::from_static(b"event: reload\ndata: {}\n\n"))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        },
        _ = sub.heartbeat.tick() => {
            // A token taken out of the token file ends the streams it opened.
            let revoked = sub
                .credential
                .as_ref()
                .is_some_and(|(access, credential)| !credential.holds(access));
            (!revoked).then(|| Bytes::from_static(b": keep-alive\n\n"))
        }
        _ = sub.shutdown.changed() => None,
        _ = client_gone(sub.tap.as_deref()) => None,
    }
}

/// Resolves when the client closed its side of the connection (never, untapped).
async fn client_gone(tap: Option<&TapShared>) {
    match tap {
        Some(tap) => tap.closed().await,
        None => std::future::pending().await,
    }
}
