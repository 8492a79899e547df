//! The single writer: one task owns the only writing connection, drains the bounded queue,
//! writes each batch of captures as one multi-row INSERT (one transaction), and only then
//! acknowledges.
//!
//! Group commit is what makes durable captures cheap: fifty senders waiting at once cost one
//! commit, not fifty. Commands (create, delete, sweep) go through the same queue so no two
//! connections ever compete for SQLite's write lock.

use std::{
    collections::HashMap,
    fs::File,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use sqlx::{Row, SqliteConnection};
use tokio::{
    sync::{broadcast, mpsc, oneshot, Mutex},
    task::JoinHandle,
};

use super::{NewRequest, MAX_BATCH};

/// Columns of one captured row, in the order the INSERT binds them.
/// The bin is bound by its public id and stored as its key (see [`insert_statement`]).
const COLUMNS: &str = "id, bin_key, received_at, outcome, method, path, query, headers, \
    content_type, body, body_size, remote_addr, kz_event_type, kz_event_id, kz_object_type, \
    kz_object_id";
const COLUMN_COUNT: usize = 16;
/// How often the background connection folds the WAL back into the database file while
/// captures arrive, and while they do not. The idle pause bounds how late the first round of
/// a new burst comes: at 500 ms the WAL had grown past its size limit before that round.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(25);
const IDLE_CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);
/// WAL frames (pages) beyond which the writer finishes a checkpoint itself, so the WAL can
/// start over even when captures never pause (about 32 MiB of 4 KiB pages).
const WAL_RESET_FRAMES: i64 = 8_192;

/// A request that has been committed, announced to live pages.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub bin_id: String,
    pub request_id: i64,
    pub event_type: Option<String>,
}

/// Why a write was not done.
#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    /// The bin does not exist (or was deleted while the capture waited).
    #[error("no such bin")]
    BinNotFound,
    /// The request does not exist in that bin.
    #[error("no such request")]
    RequestNotFound,
    /// The queue stayed full for the whole wait.
    #[error("the write queue is full")]
    QueueFull,
    /// The store is shutting down.
    #[error("the store is closed")]
    Closed,
    /// SQLite failed; the cause was logged by the writer.
    #[error("the database write failed")]
    Failed,
}

/// A write other than a capture.
#[derive(Debug, Clone)]
pub enum Command {
    CreateBin {
        id: String,
        created_at: i64,
    },
    DeleteBin {
        id: String,
    },
    ClearBin {
        id: String,
    },
    DeleteRequest {
        bin_id: String,
        id: i64,
    },
    /// Removes up to `limit` of the bin's oldest requests beyond its newest `keep`.
    TrimBin {
        bin_id: String,
        keep: u64,
        limit: u32,
    },
    /// Removes up to `limit` of the oldest requests received before `before`.
    Expire {
        before: i64,
        limit: u32,
    },
    /// Gives up to `pages` free pages back to the file system.
    Vacuum {
        pages: u32,
    },
}

pub(crate) enum Job {
    Capture {
        request: Box<NewRequest>,
        ack: oneshot::Sender<Result<i64, WriterError>>,
    },
    Command {
        command: Command,
        ack: oneshot::Sender<Result<u64, WriterError>>,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

/// Cheap to clone: every handler holds one.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Job>,
    arrivals: broadcast::Sender<Arrival>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl WriterHandle {
    /// Queues a capture, waiting at most `wait` for room, and returns its id once committed.
    pub async fn capture(&self, request: NewRequest, wait: Duration) -> Result<i64, WriterError> {
        let (ack, done) = oneshot::channel();
        let job = Job::Capture {
            request: Box::new(request),
            ack,
        };
        self.tx
            .send_timeout(job, wait)
            .await
            .map_err(|err| match err {
                mpsc::error::SendTimeoutError::Timeout(_) => WriterError::QueueFull,
                mpsc::error::SendTimeoutError::Closed(_) => WriterError::Closed,
            })?;
        done.await.map_err(|_| WriterError::Closed)?
    }

    /// Runs a command after everything queued before it; returns the rows it affected.
    pub async fn run(&self, command: Command) -> Result<u64, WriterError> {
        let (ack, done) = oneshot::channel();
        self.tx
            .send(Job::Command { command, ack })
            .await
            .map_err(|_| WriterError::Closed)?;
        done.await.map_err(|_| WriterError::Closed)?
    }

    /// Subscribes to committed arrivals.
    pub fn subscribe(&self) -> broadcast::Receiver<Arrival> {
        self.arrivals.subscribe()
    }

    /// Commits everything queued, checkpoints, and stops the writer and checkpointer.
    pub async fn shutdown(&self) {
        let (done, finished) = oneshot::channel();
        if self.tx.send(Job::Shutdown { done }).await.is_ok() {
            let _ = finished.await;
        }
        for task in self.tasks.lock().await.drain(..) {
            task.abort();
            let _ = task.await;
        }
    }
}

/// Starts the writer on `conn` and the checkpointer on `checkpoint_conn`.
pub(super) async fn spawn(
    mut conn: SqliteConnection,
    checkpoint_conn: SqliteConnection,
    database: Option<File>,
    queue_capacity: usize,
) -> Result<WriterHandle, sqlx::Error> {
    let next_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM requests")
        .fetch_one(&mut conn)
        .await?;
    let (tx, rx) = mpsc::channel(queue_capacity);
    let (arrivals, _) = broadcast::channel(1_024);
    let wal_too_long = Arc::new(AtomicBool::new(false));

    let mut writer = Writer {
        conn,
        next_id,
        arrivals: arrivals.clone(),
        inserts: HashMap::new(),
        wal_too_long: wal_too_long.clone(),
    };
    // The writer is not aborted at shutdown: it ends itself after flushing the queue.
    drop(tokio::spawn(async move { writer.run(rx).await }));
    let checkpointer = tokio::spawn(checkpoint(checkpoint_conn, database, wal_too_long));
    Ok(WriterHandle {
        tx,
        arrivals,
        tasks: Arc::new(Mutex::new(vec![checkpointer])),
    })
}

/// Folds the WAL into the database file on its own connection, so the copying and its fsync
/// never sit between a commit and its acknowledgement.
///
/// Rounds are short and frequent while captures arrive: a long copy competes with the writer
/// for the two cores and showed up as 2–5 ms commits. When the WAL stops growing the rounds
/// slow down, so an idle server stays nearly idle.
///
/// SQLite syncs the database file only in a checkpoint that reaches the end of the WAL, and
/// under endless load that is the writer's (below): left alone, it would flush everything the
/// background copied since the last restart while captures wait. So after each round this
/// task flushes the pages it copied itself, through its own handle on the file, and the
/// writer's checkpoint is left a few frames to copy and little to sync.
async fn checkpoint(conn: SqliteConnection, database: Option<File>, wal_too_long: Arc<AtomicBool>) {
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

struct Writer {
    conn: SqliteConnection,
    next_id: i64,
    arrivals: broadcast::Sender<Arrival>,
    /// INSERT statements by row count (powers of two), built once.
    inserts: HashMap<usize, String>,
    wal_too_long: Arc<AtomicBool>,
}

type CaptureAck = (
    i64,
    Box<NewRequest>,
    oneshot::Sender<Result<i64, WriterError>>,
);

impl Writer {
    async fn run(&mut self, mut rx: mpsc::Receiver<Job>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut shutdown = None;
        let mut restarting = false;
        while let Some(first) = rx.recv().await {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            shutdown = self.process(&mut batch).await;
            if shutdown.is_some() {
                break;
            }
            if restarting {
                // That batch started the WAL over (SQLite does it at the first write after
                // a complete checkpoint); the background checkpointer may go on.
                self.wal_too_long.store(false, Ordering::Relaxed);
                restarting = false;
            } else if self.wal_too_long.load(Ordering::Relaxed) {
                // The background checkpoint has copied and flushed nearly everything, and
                // waits; finishing the last frames here, between batches, lets the next
                // batch start the WAL over. It costs a millisecond or two of copying and
                // syncing, only under sustained load, and never between a commit and its
                // acknowledgement.
                if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&mut self.conn)
                    .await
                {
                    tracing::warn!(error = %err, "WAL checkpoint in the writer failed");
                }
                restarting = true;
            }
        }
        // Whatever was queued before the shutdown request still gets written.
        rx.close();
        while let Ok(job) = rx.try_recv() {
            batch.push(job);
        }
        if let Some(more) = self.process(&mut batch).await {
            shutdown.get_or_insert(more);
        }
        if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut self.conn)
            .await
        {
            tracing::warn!(error = %err, "final WAL checkpoint failed");
        }
        tracing::info!("store writer flushed and stopped");
        if let Some(done) = shutdown {
            let _ = done.send(());
        }
    }

    /// Writes one batch; returns the shutdown acknowledgement if the batch asked to stop.
    async fn process(&mut self, batch: &mut Vec<Job>) -> Option<oneshot::Sender<()>> {
        let mut captures: Vec<CaptureAck> = Vec::new();
        let mut commands = Vec::new();
        let mut shutdown = None;
        for job in batch.drain(..) {
            match job {
                Job::Capture { request, ack } => {
                    captures.push((self.next_id, request, ack));
                    self.next_id += 1;
                }
                Job::Command { command, ack } => commands.push((command, ack)),
                Job::Shutdown { done } => shutdown = Some(done),
            }
        }
        if !captures.is_empty() {
            self.write_captures(captures).await;
        }
        for (command, ack) in commands {
            let result = self.run_command(&command).await;
            let _ = ack.send(result);
        }
        shutdown
    }

    async fn write_captures(&mut self, captures: Vec<CaptureAck>) {
        let rows = captures.len().next_power_of_two();
        let sql = self
            .inserts
            .entry(rows)
            .or_insert_with(|| insert_statement(rows));
        // The values are moved into the statement, not borrowed: sqlx would copy every
        // borrowed value before handing the statement to its SQLite thread.
        let mut insert = sqlx::query(sql.as_str());
        let mut written = Vec::with_capacity(captures.len());
        for (id, request, ack) in captures {
            let (bound, arrival) = bind_capture(insert, id, *request);
            insert = bound;
            written.push((arrival, ack));
        }
        for _ in written.len()..rows {
            for _ in 0..COLUMN_COUNT {
                insert = insert.bind(None::<i64>);
            }
        }
        match insert_captures(&mut self.conn, insert, &written).await {
            Ok(missing) => {
                for (arrival, ack) in written {
                    if missing.contains(&arrival.request_id) {
                        let _ = ack.send(Err(WriterError::BinNotFound));
                        continue;
                    }
                    let id = arrival.request_id;
                    let _ = self.arrivals.send(arrival);
                    let _ = ack.send(Ok(id));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, captures = written.len(), "writing a batch failed");
                for (_, ack) in written {
                    let _ = ack.send(Err(WriterError::Failed));
                }
            }
        }
    }

    async fn run_command(&mut self, command: &Command) -> Result<u64, WriterError> {
        match run_command(&mut self.conn, command).await {
            Ok(Some(rows)) => Ok(rows),
            Ok(None) => Err(match command {
                Command::DeleteRequest { .. } => WriterError::RequestNotFound,
                _ => WriterError::BinNotFound,
            }),
            Err(err) => {
                tracing::error!(error = %err, ?command, "store command failed");
                Err(WriterError::Failed)
            }
        }
    }
}

/// `INSERT … SELECT … FROM (VALUES …) JOIN bins` for `rows` rows: the join turns each bin id
/// into its key and drops the rows of a bin that no longer exists. Batches are padded to a
/// power of two with all-NULL rows (which the join drops too), so a handful of prepared
/// statements serve every batch size.
fn insert_statement(rows: usize) -> String {
    let row = format!("({})", vec!["?"; COLUMN_COUNT].join(", "));
    let values: Vec<String> = (1..=COLUMN_COUNT)
        .map(|column| match column {
            2 => "bins.key".to_owned(),
            _ => format!("v.column{column}"),
        })
        .collect();
    format!(
        "INSERT INTO requests ({COLUMNS}) SELECT {} FROM (VALUES {}) AS v \
         JOIN bins ON bins.id = v.column2",
        values.join(", "),
        vec![row; rows].join(", ")
    )
}

type Insert<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// Binds one capture's row (in [`COLUMNS`] order), keeping what its arrival announces.
fn bind_capture(insert: Insert<'_>, id: i64, request: NewRequest) -> (Insert<'_>, Arrival) {
    let (event_type, event_id, object_type, object_id) = match request.kaizala {
        Some(event) => (
            Some(event.event_type),
            event.event_id,
            event.object_type,
            event.object_id,
        ),
        None => (None, None, None, None),
    };
    let insert = insert
        .bind(id)
        .bind(request.bin_id.clone())
        .bind(request.received_at)
        .bind(request.outcome.as_str())
        .bind(request.method)
        .bind(request.path)
        .bind(request.query)
        .bind(request.headers_json)
        .bind(request.content_type)
        .bind(Vec::from(request.body))
        .bind(i64::try_from(request.body_size).unwrap_or(i64::MAX))
        .bind(request.remote_addr)
        .bind(event_type.clone())
        .bind(event_id)
        .bind(object_type)
        .bind(object_id);
    let arrival = Arrival {
        bin_id: request.bin_id,
        request_id: id,
        event_type,
    };
    (insert, arrival)
}

/// Writes the batch with one statement, which SQLite commits as one transaction (the count
/// triggers run inside it). Returns the ids that were not stored because their bin is gone.
async fn insert_captures<T>(
    conn: &mut SqliteConnection,
    insert: Insert<'_>,
    written: &[(Arrival, T)],
) -> Result<Vec<i64>, sqlx::Error> {
    let inserted = insert.execute(&mut *conn).await?.rows_affected();
    if inserted == written.len() as u64 {
        return Ok(Vec::new());
    }
    // Rare: a bin was deleted while its captures waited. Find which ones were dropped.
    let mut missing = Vec::new();
    for (arrival, _) in written {
        let id = arrival.request_id;
        let stored: Option<i64> = sqlx::query_scalar("SELECT id FROM requests WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        if stored.is_none() {
            missing.push(id);
        }
    }
    Ok(missing)
}

/// Runs a command in its own transaction; `None` means its target did not exist. The count
/// triggers keep `request_count` and the event-type counts right on every delete.
async fn run_command(
    conn: &mut SqliteConnection,
    command: &Command,
) -> Result<Option<u64>, sqlx::Error> {
    let rows = match command {
        Command::CreateBin { id, created_at } => {
            sqlx::query("INSERT INTO bins (id, created_at) VALUES (?, ?)")
                .bind(id)
                .bind(created_at)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        }
        Command::DeleteBin { id } => sqlx::query("DELETE FROM bins WHERE id = ?")
            .bind(id)
            .execute(&mut *conn)
            .await?
            .rows_affected(),
        Command::ClearBin { id } => {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM bins WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Ok(None);
            }
            let rows = sqlx::query(
                "DELETE FROM requests WHERE bin_key = (SELECT key FROM bins WHERE id = ?)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            return Ok(Some(rows));
        }
        Command::DeleteRequest { bin_id, id } => sqlx::query(
            "DELETE FROM requests WHERE id = ? \
                 AND bin_key = (SELECT key FROM bins WHERE id = ?)",
        )
        .bind(id)
        .bind(bin_id)
        .execute(&mut *conn)
        .await?
        .rows_affected(),
        Command::TrimBin {
            bin_id,
            keep,
            limit,
        } => {
            let count: Option<i64> =
                sqlx::query_scalar("SELECT request_count FROM bins WHERE id = ?")
                    .bind(bin_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            let Some(count) = count else { return Ok(None) };
            let excess = u64::try_from(count).unwrap_or(0).saturating_sub(*keep);
            let take = excess.min(u64::from(*limit));
            if take == 0 {
                return Ok(Some(0));
            }
            sqlx::query(
                "DELETE FROM requests WHERE id IN \
                 (SELECT id FROM requests WHERE bin_key = (SELECT key FROM bins WHERE id = ?) \
                 ORDER BY id LIMIT ?)",
            )
            .bind(bin_id)
            .bind(i64::try_from(take).unwrap_or(i64::MAX))
            .execute(&mut *conn)
            .await?
            .rows_affected()
        }
        Command::Expire { before, limit } => {
            // Ids grow with time, so only the oldest `limit` rows can be due: no scan.
            sqlx::query(
                "DELETE FROM requests WHERE id IN (SELECT id FROM \
                 (SELECT id, received_at FROM requests ORDER BY id LIMIT ?) \
                 WHERE received_at < ?)",
            )
            .bind(limit)
            .bind(before)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        }
        Command::Vacuum { pages } => {
            sqlx::query(&format!("PRAGMA incremental_vacuum({pages})"))
                .execute(&mut *conn)
                .await?;
            0
        }
    };
    let found = match command {
        Command::DeleteBin { .. } | Command::DeleteRequest { .. } => rows > 0,
        _ => true,
    };
    Ok(found.then_some(rows))
}
