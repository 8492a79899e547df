//! Reading a capture's body: bounded in size, in time (a body must keep arriving, and finish
//! within the body timeout), and in memory (bytes are reserved from the budget as they arrive,
//! within the sender's share of it).

use std::time::{Duration, Instant};

use actix_web::web;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use crate::{
    budget::{BudgetError, Reservation},
    error::AppError,
};

/// How the body read ended.
pub enum Body {
    Complete(Bytes),
    /// Over the limit: the size declared by Content-Length, or the bytes seen before giving up.
    TooLarge(u64),
}

/// The limits a body is read within.
pub struct Limits {
    /// Largest body kept.
    pub max_bytes: u64,
    /// The whole body must arrive within this.
    pub total_time: Duration,
    /// A body that sends nothing for this long is cut off.
    pub stall: Duration,
    /// How long to wait for memory from the budget.
    pub memory_wait: Duration,
}

/// Reads the body into memory reserved from `reservation` (which travels with the body until
/// its capture is acknowledged). A body declared or found larger than the limit is reported,
/// not kept.
pub async fn read(
    mut payload: web::Payload,
    declared: Option<u64>,
    limits: &Limits,
    reservation: &mut Reservation,
) -> Result<Body, AppError> {
    if declared.is_some_and(|declared| declared > limits.max_bytes) {
        return Ok(Body::TooLarge(declared.unwrap_or_default()));
    }
    let deadline = Instant::now() + limits.total_time;
    // The declared size was claimed from the sender's share already; the memory is only
    // touched (and the total budget reserved) as bytes arrive.
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let next = tokio::time::timeout(left.min(limits.stall), payload.next()).await;
        let chunk = match next {
            Ok(Some(chunk)) => chunk.map_err(|err| {
                AppError::BadRequest(format!("the request body could not be read: {err}"))
            })?,
            Ok(None) => break,
            Err(_) if left <= limits.stall => {
                return Err(AppError::BodyTimeout(format!(
                    "the request body did not arrive within {} s; nothing was stored",
                    limits.total_time.as_secs()
                )))
            }
            Err(_) => {
                return Err(AppError::BodyTimeout(format!(
                    "the request body stopped arriving for {} s; nothing was stored",
                    limits.stall.as_secs()
                )))
            }
        };
        let seen = (body.len() + chunk.len()) as u64;
        if seen > limits.max_bytes {
            return Ok(Body::TooLarge(seen));
        }
        // A declared body was allocated whole; one of unknown length grows by doubling, and
        // it is the growth that takes memory.
        let taken = match declared {
            Some(_) => chunk.len(),
            None => {
                let before = body.capacity();
                body.reserve(chunk.len());
                body.capacity() - before
            }
        };
        reservation
            .grow(taken, limits.memory_wait)
            .await
            .map_err(|err: BudgetError| AppError::MemoryBusy(err))?;
        body.extend_from_slice(&chunk);
    }
    Ok(Body::Complete(body.freeze()))
}
