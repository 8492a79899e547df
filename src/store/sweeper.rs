//! The retention sweeper: trims bins over their cap and expires old requests, in small
//! batches sent through the writer's queue so captures interleave and never stall.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::{Command, Store, WriterError};
use crate::clock;

/// Why a sweep stopped early (the next one tries again).
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("reading what to sweep failed: {0}")]
    Read(#[from] sqlx::Error),
    #[error("a sweep command failed: {0}")]
    Write(#[from] WriterError),
}

/// Rows removed per writer command; small enough that a capture batch never waits long.
const SWEEP_BATCH: u32 = 500;
/// Free pages kept for reuse before any are given back to the file system.
const FREE_PAGES_KEPT: i64 = 2_048;
/// Pages given back per sweep.
const VACUUM_PAGES: u32 = 512;

/// Starts the sweeper: every `every`, enforce `keep` requests per bin (0 = no cap) and the
/// `retention` window (None = forever).
pub fn spawn_sweeper(
    store: Store,
    keep: u64,
    retention: Option<Duration>,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match store.sweep(keep, retention).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "sweeper removed old requests"),
                Err(err) => tracing::warn!(error = %err, "sweep failed; will retry"),
            }
        }
    })
}

impl Store {
    /// One sweep: returns how many requests it removed.
    pub async fn sweep(&self, keep: u64, retention: Option<Duration>) -> Result<u64, SweepError> {
        let mut removed = 0;
        if keep > 0 {
            for bin_id in self.bins_over(keep).await? {
                loop {
                    let rows = self
                        .writer()
                        .run(Command::TrimBin {
                            bin_id: bin_id.clone(),
                            keep,
                            limit: SWEEP_BATCH,
                        })
                        .await;
                    match rows {
                        Ok(rows) => {
                            removed += rows;
                            if rows < u64::from(SWEEP_BATCH) {
                                break;
                            }
                        }
                        // Deleted meanwhile: nothing left to trim.
                        Err(WriterError::BinNotFound) => break,
                        Err(err) => return Err(err.into()),
                    }
                }
            }
        }
        if let Some(retention) = retention {
            let before =
                clock::now_millis() - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
            loop {
                let rows = self
                    .writer()
                    .run(Command::Expire {
                        before,
                        limit: SWEEP_BATCH,
                    })
                    .await?;
                removed += rows;
                if rows < u64::from(SWEEP_BATCH) {
                    break;
                }
            }
        }
        if self.free_pages().await? > FREE_PAGES_KEPT {
            self.writer()
                .run(Command::Vacuum {
                    pages: VACUUM_PAGES,
                })
                .await?;
        }
        Ok(removed)
    }
}
