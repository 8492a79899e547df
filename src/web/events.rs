//! Live arrivals: `GET /inspect/{bin}/events` streams Server-Sent Events naming each request
//! committed to the bin, so an open inspect page can fetch and show its card.

use std::time::Duration;

use actix_web::{web, HttpResponse};
use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use super::{api::bin_id, AppState};
use crate::{error::AppError, store::Arrival};

/// A comment line this often keeps proxies from closing an idle stream.
const HEARTBEAT: Duration = Duration::from_secs(15);

#[derive(Serialize)]
struct ArrivalEvent<'a> {
    id: String,
    event_type: Option<&'a str>,
}

struct Subscription {
    bin_id: String,
    arrivals: broadcast::Receiver<Arrival>,
    shutdown: watch::Receiver<bool>,
    heartbeat: tokio::time::Interval,
}

/// `GET /inspect/{bin}/events`
pub(super) async fn events(
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let id = bin_id(&path)?;
    state.store.bin(id).await?.ok_or(AppError::BinNotFound)?;
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.reset();
    let subscription = Subscription {
        bin_id: id.to_owned(),
        arrivals: state.store.arrivals(),
        shutdown: state.shutdown.clone(),
        heartbeat,
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
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures_util::StreamExt::chain(opening, stream)))
}

/// The next bytes to send, or `None` when the stream should end (shutdown).
async fn next_chunk(sub: &mut Subscription) -> Option<Bytes> {
    if *sub.shutdown.borrow() {
        return None;
    }
    loop {
        tokio::select! {
            arrival = sub.arrivals.recv() => match arrival {
                Ok(arrival) if arrival.bin_id == sub.bin_id => {
                    let event = ArrivalEvent {
                        id: arrival.request_id.to_string(),
                        event_type: arrival.event_type.as_deref(),
                    };
                    let data = serde_json::to_string(&event).unwrap_or_default();
                    return Some(Bytes::from(format!("event: request\ndata: {data}\n\n")));
                }
                Ok(_) => continue,
                // Too many arrivals to follow one by one: the page reloads instead.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Some(Bytes::from_static(b"event: reload\ndata: {}\n\n"));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            },
            _ = sub.heartbeat.tick() => return Some(Bytes::from_static(b": keep-alive\n\n")),
            _ = sub.shutdown.changed() => return None,
        }
    }
}
