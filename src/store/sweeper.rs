//! The sweeper: trims bins over their cap, expires old requests, keeps the database under its
//! quota, deletes idle bins and writes out the visits and refusals gathered in memory, in
//! small batches sent through the writer's queue so captures interleave and never stall.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::{Command, Store, WriterError};
use crate::{clock, config::Config};

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
/// Idle bins deleted per sweep (each after its requests, in batches).
const IDLE_BINS_PER_SWEEP: u32 = 100;
/// Pages given back per sweep.
const VACUUM_PAGES: u32 = 512;

/// The quota is met by removing requests until this share of it is used, so that a database at
/// its quota is not trimmed again on every sweep.
const QUOTA_TARGET_PERCENT: u64 = 90;

/// What the sweeper enforces.
#[derive(Debug, Clone, Copy, Default)]
pub struct SweepPolicy {
    /// Requests kept per bin (0 = no cap).
    pub keep: u64,
    /// Requests older than this are removed.
    pub retention: Option<Duration>,
    /// The database file stays under this many bytes.
    pub max_db_size: Option<u64>,
    /// Bins with no capture and no visit for this long are deleted.
    pub bin_retention: Option<Duration>,
}

impl SweepPolicy {
    pub fn from_config(config: &Config) -> SweepPolicy {
        SweepPolicy {
            keep: config.max_requests_per_bin,
            retention: config.retention(),
            max_db_size: config.max_db_size(),
            bin_retention: config.bin_retention(),
        }
    }
}

/// What one sweep removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Requests over a bin's cap or past the retention window.
    pub expired: u64,
    /// The oldest requests, removed to stay under the quota.
    pub shed: u64,
    /// Idle bins.
    pub bins: u64,
}

/// Starts the sweeper: every `every`, one [`Store::sweep`]; idle bins are looked for less
/// often (a tenth of `--bin-retention`, at most once a minute), since that scans every bin.
pub fn spawn_sweeper(store: Store, policy: SweepPolicy, every: Duration) -> JoinHandle<()> {
    let idle_every = policy
        .bin_retention
        .map(|idle| (idle / 10).clamp(every, Duration::from_secs(60)));
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut idle_due = tokio::time::Instant::now();
        loop {
            ticks.tick().await;
            let check_idle = idle_every.is_some_and(|_| tokio::time::Instant::now() >= idle_due);
            if let (true, Some(idle_every)) = (check_idle, idle_every) {
                idle_due = tokio::time::Instant::now() + idle_every;
            }
            match store.sweep(&policy, check_idle).await {
                Ok(swept) if swept == Swept::default() => {}
                Ok(Swept {
                    expired,
                    shed,
                    bins,
                }) => {
                    tracing::info!(
                        expired,
                        shed,
                        bins,
                        "sweeper removed old requests and idle bins"
                    );
                }
                Err(err) => tracing::warn!(error = %err, "sweep failed; will retry"),
            }
        }
    })
}

impl Store {
    /// One sweep: writes out visits and refusals, then enforces the policy (idle bins only
    /// when `check_idle`).
    pub async fn sweep(&self, policy: &SweepPolicy, check_idle: bool) -> Result<Swept, SweepError> {
        self.write_activity().await?;
        let mut swept = Swept {
            expired: self.expire(policy.keep, policy.retention).await?,
            ..Swept::default()
        };
        if let (true, Some(idle)) = (check_idle, policy.bin_retention) {
            swept.bins = self.delete_idle_bins(idle).await?;
        }
        match policy.max_db_size {
            Some(quota) => swept.shed = self.keep_under(quota).await?,
            None => self.return_free_pages().await?,
        }
        Ok(swept)
    }

    async fn write_activity(&self) -> Result<(), SweepError> {
        let pending = self.activity().take();
        if pending.is_empty() {
            return Ok(());
        }
        let command = Command::Activity {
            at: clock::now_millis(),
            visited: pending.visited.into_iter().collect(),
            dropped: pending.dropped.into_iter().collect(),
        };
        match self.writer().run(command.clone()).await {
            Ok(_) => Ok(()),
            Err(err) => {
                // Kept for the next sweep, so no count is lost to a failed write.
                if let Command::Activity {
                    visited, dropped, ..
                } = command
                {
                    self.activity().restore(visited, dropped);
                }
                Err(err.into())
            }
        }
    }

    /// Deletes up to [`IDLE_BINS_PER_SWEEP`] idle bins: each one's requests first, in small
    /// batches so captures interleave, then the bin. Every step checks again that the bin is
    /// still idle, so a capture or a visit meanwhile keeps it and all it holds.
    async fn delete_idle_bins(&self, idle: Duration) -> Result<u64, SweepError> {
        let before = clock::now_millis() - i64::try_from(idle.as_millis()).unwrap_or(i64::MAX);
        let mut removed = 0;
        for bin_id in self.idle_bins(before, IDLE_BINS_PER_SWEEP).await? {
            loop {
                if self.activity().was_visited(&bin_id) {
                    break;
                }
                let rows = self
                    .writer()
                    .run(Command::TrimIdle {
                        bin_id: bin_id.clone(),
                        before,
                        limit: SWEEP_BATCH,
                    })
                    .await?;
                if rows < u64::from(SWEEP_BATCH) {
                    if !self.activity().was_visited(&bin_id) {
                        removed += self
                            .writer()
                            .run(Command::DeleteIdle {
                                bin_id: bin_id.clone(),
                                before,
                            })
                            .await?;
                    }
                    break;
                }
            }
        }
        Ok(removed)
    }

    /// Removes the oldest requests of a bin beyond its newest `keep`, in batches; a bin that
    /// is gone has nothing left to trim.
    async fn trim(&self, bin_id: &str, keep: u64) -> Result<u64, SweepError> {
        let mut removed = 0;
        loop {
            let rows = self
                .writer()
                .run(Command::TrimBin {
                    bin_id: bin_id.to_owned(),
                    keep,
                    limit: SWEEP_BATCH,
                })
                .await;
            match rows {
                Ok(rows) => {
                    removed += rows;
                    if rows < u64::from(SWEEP_BATCH) {
                        return Ok(removed);
                    }
                }
                Err(WriterError::BinNotFound) => return Ok(removed),
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Removes the oldest requests of all bins until the used pages fit well under `quota`,
    /// then gives the freed pages back so the file itself shrinks under it.
    async fn keep_under(&self, quota: u64) -> Result<u64, SweepError> {
        let target = quota / 100 * QUOTA_TARGET_PERCENT;
        let (mut size, mut free) = self.file_size().await?;
        if size <= quota {
            self.return_free_pages().await?;
            return Ok(0);
        }
        let mut shed = 0;
        while size.saturating_sub(free) > target {
            // As many of the oldest rows as the excess holds on average, so a quota of a few
            // megabytes is not undershot by a whole batch of large bodies.
            let rows = u64::try_from(self.total_requests().await?)
                .unwrap_or(0)
                .max(1);
            let used = size.saturating_sub(free);
            let average = (used / rows).max(1);
            let wanted = (used - target).div_ceil(average);
            let limit = u32::try_from(wanted)
                .unwrap_or(SWEEP_BATCH)
                .clamp(1, SWEEP_BATCH);
            let rows = self.writer().run(Command::Shed { limit }).await?;
            shed += rows;
            if rows == 0 {
                break;
            }
            (size, free) = self.file_size().await?;
        }
        if shed > 0 {
            tracing::warn!(
                shed,
                quota,
                "the database reached --max-db-size; removed its oldest requests"
            );
        }
        // Every free page goes back, a batch per command so captures interleave (and no more
        // tries once a batch frees nothing).
        let mut free_pages = self.free_pages().await?;
        while free_pages > 0 {
            self.writer()
                .run(Command::Vacuum {
                    pages: VACUUM_PAGES,
                })
                .await?;
            let left = self.free_pages().await?;
            if left >= free_pages {
                break;
            }
            free_pages = left;
        }
        Ok(shed)
    }

    /// Gives some free pages back once more than a few are kept for reuse.
    async fn return_free_pages(&self) -> Result<(), SweepError> {
        if self.free_pages().await? > FREE_PAGES_KEPT {
            self.writer()
                .run(Command::Vacuum {
                    pages: VACUUM_PAGES,
                })
                .await?;
        }
        Ok(())
    }

    /// Trims bins over `keep` and expires requests past `retention`; returns how many.
    async fn expire(&self, keep: u64, retention: Option<Duration>) -> Result<u64, SweepError> {
        let mut removed = 0;
        if keep > 0 {
            for bin_id in self.bins_over(keep).await? {
                removed += self.trim(&bin_id, keep).await?;
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
        Ok(removed)
    }
}
