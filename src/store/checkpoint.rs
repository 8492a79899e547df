//! The background checkpointer: folds the WAL back into the database file on a connection of
//! its own, so the copying and its fsync never sit between a commit and its acknowledgement.
//!
//! What it buys, against SQLite's own checkpoints in the writer's commit path (A/B, 3 pairs of
//! 10 s on the realistic load, BENCHMARKS.md "Tricks"): a saturated p99 of 8.3 – 9.2 ms
//! instead of 13.5 – 17.0 ms, and 12,500 – 14,200 captures a second instead of 9,800 – 11,600,
//! for about 2 µs more CPU a capture (the extra flushes). The p99 target (≤ 10 ms) needs it.

use std::{
    fs::File,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use sqlx::{Row, SqliteConnection};

/// How often the background connection folds the WAL back into the database file while
/// captures arrive, and while they do not. The idle pause bounds how late the first round of
/// a new burst comes: at 500 ms the WAL had grown past its size limit before that round.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(25);
const IDLE_CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);
/// WAL frames (pages) beyond which the writer finishes a checkpoint itself, so the WAL can
/// start over even when captures never pause (about 32 MiB of 4 KiB pages).
const WAL_RESET_FRAMES: i64 = 8_192;

/// Runs the checkpointer until aborted.
///
/// Rounds are short and frequent while captures arrive: a long copy competes with the writer
/// for the two cores and showed up as 2–5 ms commits. When the WAL stops growing the rounds
/// slow down, so an idle server stays nearly idle.
///
/// SQLite syncs the database file only in a checkpoint that reaches the end of the WAL, and
/// under endless load that is the writer's. Left alone, it would flush everything the
/// background copied since the last restart while captures wait. So after each round this
/// task flushes the pages it copied itself, through its own handle on the file, and the
/// writer's checkpoint is left a few frames to copy and little to sync.
///
/// `wal_too_long` is how the two coordinate: this task sets it when the WAL has grown past
/// [`WAL_RESET_FRAMES`], the writer then finishes a checkpoint between two batches and clears
/// it once the next batch has started the WAL over.
pub(super) async fn run(
    conn: SqliteConnection,
    database: Option<File>,
    wal_too_long: Arc<AtomicBool>,
) {
    let mut checkpointer = Checkpointer {
        conn,
        database: database.map(Arc::new),
        flushed: None,
    };
    let mut next = tokio::time::Instant::now() + CHECKPOINT_INTERVAL;
    loop {
        tokio::time::sleep_until(next).await;
        let started = tokio::time::Instant::now();
        if wal_too_long.load(Ordering::Relaxed) {
            // The writer is finishing a checkpoint so the WAL can start over; a round of
            // ours now would hold the WAL and stop it from doing so.
            next = started + CHECKPOINT_INTERVAL;
            continue;
        }
        let Some(wal) = checkpointer.round().await else {
            next = started + CHECKPOINT_INTERVAL;
            continue;
        };
        next = started
            + if wal.grew {
                CHECKPOINT_INTERVAL
            } else {
                IDLE_CHECKPOINT_INTERVAL
            };
        if wal.frames > WAL_RESET_FRAMES {
            // One more round straight away copies and flushes only what arrived during the
            // first, which leaves the writer less still.
            checkpointer.round().await;
            wal_too_long.store(true, Ordering::Relaxed);
        }
    }
}

struct Checkpointer {
    conn: SqliteConnection,
    /// The database file, to flush what the checkpoints copied into it.
    database: Option<Arc<File>>,
    /// The WAL's length and copied frames as of the last flush.
    flushed: Option<(i64, i64)>,
}

/// What a checkpoint round saw.
struct WalRound {
    /// The WAL's length in frames.
    frames: i64,
    /// Whether anything was written or copied since the round before.
    grew: bool,
}

impl Checkpointer {
    /// Copies what it can of the WAL into the database file and flushes what it copied.
    async fn round(&mut self) -> Option<WalRound> {
        let (frames, copied): (i64, i64) = match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut self.conn)
            .await
        {
            Ok(row) => (row.try_get(1).unwrap_or(0), row.try_get(2).unwrap_or(0)),
            Err(err) => {
                tracing::warn!(error = %err, "background WAL checkpoint failed");
                return None;
            }
        };
        let grew = self.flushed != Some((frames, copied));
        if let (Some(database), true) = (self.database.clone(), grew && copied > 0) {
            let flushed = tokio::task::spawn_blocking(move || database.sync_data()).await;
            match flushed.map_err(std::io::Error::other).and_then(|done| done) {
                Ok(()) => self.flushed = Some((frames, copied)),
                Err(err) => tracing::warn!(error = %err, "flushing the database file failed"),
            }
        } else {
            self.flushed = Some((frames, copied));
        }
        Some(WalRound { frames, grew })
    }
}
