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

use sqlx::SqliteConnection;
use tokio::{
    sync::{mpsc, oneshot, Mutex},
    task::JoinHandle,
};

use crate::limits::Limiter;

use super::{
    checkpoint, commands,
    duplicates::{self, Recent},
    health::Health,
    live::Hub,
    Arrival, Captured, Drops, NewRequest, Outcome, TokenCheck, BODY_HEAD, MAX_BATCH,
};
use crate::settings::{
    answer::{Answer, Handshake},
    Settings,
};

/// Columns of one captured row, in the order [`bind_capture`] binds them.
const COLUMNS: &str = "bin_key, seq, received_at, outcome, method, path, query, headers, \
    trailers, content_type, body_size, remote_addr, kz_event_type, kz_event_id, kz_object_type, \
    kz_object_id, kz_event_key, duplicate_of, handshake, kz_token, kz_context_ok, \
    response_status, response_latency_ms, body_head, body_rest";
/// Bins whose key, newest request number, settings and recent event keys the writer remembers,
/// the most bytes of settings among them (a bin's can take 80 KiB), and the most event keys
/// (16 bytes each: 8 MiB, 512 bins' full windows); beyond any of them it starts over (between
/// batches).
const BINS_REMEMBERED: usize = 10_000;
const SETTINGS_REMEMBERED: usize = 32 * 1024 * 1024;
const KEYS_REMEMBERED: usize = 512 * 1024;

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
    /// The write committed, but not to the database file at its path (removed or replaced).
    #[error("{0}")]
    Unavailable(String),
    /// The bin took as many captures as `--capture-limit` allows; the next one is allowed
    /// after this long. Nothing was written.
    #[error("the bin is over its capture limit")]
    RateLimited(std::time::Duration),
}

/// A bin's settings as stored (JSON). Its `Debug` gives only the size: the settings hold the
/// callback token, and a failed command is logged with its `Debug`.
#[derive(Clone)]
pub struct StoredSettings(pub String);

impl std::fmt::Debug for StoredSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoredSettings({} bytes)", self.0.len())
    }
}

/// A write other than a capture.
#[derive(Debug, Clone)]
pub enum Command {
    CreateBin {
        id: String,
        created_at: i64,
        settings: StoredSettings,
    },
    /// Replaces a bin's settings; its next capture is answered by them.
    PutSettings {
        bin_id: String,
        settings: StoredSettings,
    },
    DeleteBin {
        id: String,
    },
    ClearBin {
        id: String,
    },
    /// Removes one request, by its number within the bin.
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
    /// Removes up to `limit` of the oldest requests of all bins (the disk quota).
    Shed {
        limit: u32,
    },
    /// Removes up to `limit` of a bin's oldest requests, unless the bin was captured into or
    /// visited since `before` (the first step of deleting an idle bin).
    TrimIdle {
        bin_id: String,
        before: i64,
        limit: u32,
    },
    /// Deletes a bin unless it was captured into or visited since `before`.
    DeleteIdle {
        bin_id: String,
        before: i64,
    },
    /// Writes the visits and rate-limit refusals gathered since the last sweep.
    Activity {
        at: i64,
        visited: Vec<String>,
        dropped: Vec<(String, Drops)>,
    },
    /// Gives up to `pages` free pages back to the file system.
    Vacuum {
        pages: u32,
    },
    /// Rewrites one row with a capture-sized payload, so the health check learns whether
    /// writes still land.
    Probe {
        at: i64,
    },
}

pub(crate) enum Job {
    Capture {
        request: Box<NewRequest>,
        ack: oneshot::Sender<Result<Captured, WriterError>>,
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
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl WriterHandle {
    /// Queues a capture, waiting at most `wait` for room, and returns its number within its bin
    /// and how to answer it, once committed.
    pub async fn capture(
        &self,
        request: NewRequest,
        wait: Duration,
    ) -> Result<Captured, WriterError> {
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
    conn: SqliteConnection,
    checkpoint_conn: SqliteConnection,
    database: Option<File>,
    queue_capacity: usize,
    live: Arc<Hub>,
    health: Arc<Health>,
    capture_limit: Option<Limiter<String>>,
) -> Result<WriterHandle, sqlx::Error> {
    let (tx, rx) = mpsc::channel(queue_capacity);
    let wal_too_long = Arc::new(AtomicBool::new(false));

    let mut writer = Writer {
        conn,
        bins: HashMap::new(),
        settings_bytes: 0,
        keys_remembered: 0,
        wal_too_long: wal_too_long.clone(),
        live,
        health,
        capture_limit,
    };
    // The writer is not aborted at shutdown: it ends itself after flushing the queue.
    drop(tokio::spawn(async move { writer.run(rx).await }));
    let checkpointer = tokio::spawn(checkpoint::run(checkpoint_conn, database, wal_too_long));
    Ok(WriterHandle {
        tx,
        tasks: Arc::new(Mutex::new(vec![checkpointer])),
    })
}

/// A bin's key, the newest request number handed out in it, its settings and its recent event
/// keys. Only the writer assigns numbers, counts `fail_next` down and writes keys, so what it
/// remembers is what the table holds.
#[derive(Debug, Clone)]
struct BinState {
    key: i64,
    last_seq: i64,
    settings: Settings,
    /// The size of the settings as stored, counted in `Writer::settings_bytes`.
    settings_bytes: usize,
    recent: Recent,
}

struct Writer {
    conn: SqliteConnection,
    bins: HashMap<String, BinState>,
    /// Bytes of stored settings behind `bins` (since it last started over).
    settings_bytes: usize,
    /// Event keys remembered in `bins`.
    keys_remembered: usize,
    wal_too_long: Arc<AtomicBool>,
    live: Arc<Hub>,
    health: Arc<Health>,
    /// `--capture-limit`, per bin id; checked here, where a bin is known to exist, so requests
    /// to made-up bins never become keys.
    capture_limit: Option<Limiter<String>>,
}

type CaptureAck = oneshot::Sender<Result<Captured, WriterError>>;

/// A capture placed in its bin and answered, ready to bind.
struct Placed {
    bin_key: i64,
    seq: i64,
    request: Box<NewRequest>,
    answer: Answer,
    token_check: Option<TokenCheck>,
    context_ok: Option<bool>,
    duplicate_of: Option<i64>,
    ack: CaptureAck,
}

/// A batch placed: its rows, and the `fail_next` counts it moved, by bin key.
#[derive(Default)]
struct Batch {
    placed: Vec<Placed>,
    fail_counts: HashMap<i64, u32>,
}

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
                // batch start the WAL over. It costs two syncs and a little copying, 4 – 5 ms
                // on the benchmark's VM, three or four times a second under sustained load,
                // and never between a commit and its acknowledgement. (A WAL three and four
                // times longer, with fewer of these, left the saturated p99 where it was.)
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
        let mut captures = Vec::new();
        let mut commands = Vec::new();
        let mut shutdown = None;
        for job in batch.drain(..) {
            match job {
                Job::Capture { request, ack } => captures.push((request, ack)),
                Job::Command { command, ack } => commands.push((command, ack)),
                Job::Shutdown { done } => shutdown = Some(done),
            }
        }
        if !captures.is_empty() {
            let batch = self.place(captures).await;
            if !batch.placed.is_empty() {
                self.write_captures(batch).await;
            }
        }
        for (command, ack) in commands {
            let result = self.run_command(&command).await;
            let _ = ack.send(result);
        }
        shutdown
    }

    /// Gives each capture its number within its bin, its answer, its Kaizala checks and its
    /// first delivery if it is a repeat.
    /// Captures of bins that no longer exist are answered here and left out.
    async fn place(&mut self, captures: Vec<(Box<NewRequest>, CaptureAck)>) -> Batch {
        // Forgetting happens only here, before the batch: a bin placed earlier in the batch
        // and read again from the table would get numbers the batch has already handed out.
        if self.bins.len() >= BINS_REMEMBERED
            || self.settings_bytes >= SETTINGS_REMEMBERED
            || self.keys_remembered >= KEYS_REMEMBERED
        {
            self.bins.clear();
            self.settings_bytes = 0;
            self.keys_remembered = 0;
        }
        let mut batch = Batch {
            placed: Vec::with_capacity(captures.len()),
            fail_counts: HashMap::new(),
        };
        for (mut request, ack) in captures {
            match self.bin(&request.bin_id).await {
                Ok(Some(_)) => {}
                Ok(None) => {
                    let _ = ack.send(Err(WriterError::BinNotFound));
                    continue;
                }
                Err(err) => {
                    tracing::error!(error = %err, "looking up a capture's bin failed");
                    self.health.write_failed(err.to_string());
                    let _ = ack.send(Err(WriterError::Failed));
                    continue;
                }
            }
            if let Some(limit) = &self.capture_limit {
                if let Err(wait) = limit.check(&request.bin_id) {
                    let _ = ack.send(Err(WriterError::RateLimited(wait)));
                    continue;
                }
            }
            let Some(bin) = self.bins.get_mut(&request.bin_id) else {
                // Just looked up and remembered.
                let _ = ack.send(Err(WriterError::Failed));
                continue;
            };
            bin.last_seq += 1;
            let fails = bin.settings.fail_next.count;
            let too_large = request.outcome == Outcome::Rejected;
            let answer = Answer::decide(&mut bin.settings, &request.asks, too_large);
            if bin.settings.fail_next.count != fails {
                batch
                    .fail_counts
                    .insert(bin.key, bin.settings.fail_next.count);
            }
            if answer.handshake().is_some() {
                request.outcome = Outcome::Handshake;
            }
            let expected = &bin.settings.kaizala;
            let (token_check, context_ok) = match &request.kaizala {
                Some(event) => (
                    TokenCheck::of(
                        request.callback_token.as_deref(),
                        expected.callback_token.as_deref(),
                    ),
                    expected
                        .context
                        .as_ref()
                        .map(|context| event.context.as_ref() == Some(context)),
                ),
                None => (None, None),
            };
            let (bin_key, seq) = (bin.key, bin.last_seq);
            // Only first deliveries are remembered, so a repeat names the first one.
            let duplicate_of = request.event_key.and_then(|key| {
                let first = bin.recent.first(key);
                if first.is_none() {
                    self.keys_remembered += bin.recent.push(key, seq);
                }
                first
            });
            batch.placed.push(Placed {
                bin_key,
                seq,
                request,
                answer,
                token_check,
                context_ok,
                duplicate_of,
                ack,
            });
        }
        batch
    }

    /// The remembered state of a bin, read from the table the first time it is needed.
    async fn bin(&mut self, id: &str) -> Result<Option<&mut BinState>, sqlx::Error> {
        if !self.bins.contains_key(id) {
            let row: Option<(i64, i64, String)> =
                sqlx::query_as("SELECT key, last_seq, settings FROM bins WHERE id = ?")
                    .bind(id)
                    .fetch_optional(&mut self.conn)
                    .await?;
            let Some((key, last_seq, settings)) = row else {
                return Ok(None);
            };
            // The bin's newest event keys, from the index alone, looking no further back than
            // a few windows' worth of requests (other requests have no key).
            let window = duplicates::WINDOW as i64;
            let keys: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT kz_event_key, seq FROM requests WHERE bin_key = ? AND seq > ? \
                 AND kz_event_key IS NOT NULL ORDER BY seq DESC LIMIT ?",
            )
            .bind(key)
            .bind(last_seq - 4 * window)
            .bind(window)
            .fetch_all(&mut self.conn)
            .await?;
            let settings_bytes = settings.len();
            self.settings_bytes += settings_bytes;
            self.keys_remembered += keys.len();
            let settings = Settings::from_stored(&settings);
            self.bins.insert(
                id.to_owned(),
                BinState {
                    key,
                    last_seq,
                    settings,
                    settings_bytes,
                    recent: Recent::from_newest_first(keys),
                },
            );
        }
        Ok(self.bins.get_mut(id))
    }

    async fn write_captures(&mut self, batch: Batch) {
        let Batch {
            placed: captures,
            fail_counts,
        } = batch;
        let sql = insert_statement(captures.len());
        // The values are moved into the statement, not borrowed: sqlx would copy every
        // borrowed value before handing the statement to its SQLite thread. Not kept prepared:
        // sqlx would keep one per batch size, and up to 100 of them held 3.5 MiB more at the
        // peak under the realistic load (37.6 – 38.0 against 34.2 – 34.4 MiB), for 2.4 µs a
        // capture saved by not preparing again (4.2 µs when one body repeats).
        let mut insert = sqlx::query(&sql).persistent(false);
        let mut written = Vec::with_capacity(captures.len());
        for placed in captures {
            let (bound, written_row) = bind_capture(insert, placed);
            insert = bound;
            written.push(written_row);
        }
        let result = execute(&mut self.conn, insert, &fail_counts).await;
        let outcome = match result {
            Ok(rows) if rows == written.len() as u64 => {
                // Only captures landing again clear a failure: a sweep that deletes nothing
                // or the health probe's one small row can land on a disk too full for them.
                self.landed().inspect(|()| self.health.write_succeeded())
            }
            Ok(rows) => {
                tracing::error!(
                    inserted = rows,
                    captures = written.len(),
                    "a batch stored fewer rows than it held"
                );
                Err(WriterError::Failed)
            }
            Err(err) => {
                tracing::error!(error = %err, captures = written.len(), "writing a batch failed");
                self.health.write_failed(err.to_string());
                Err(WriterError::Failed)
            }
        };
        match outcome {
            Ok(()) => {
                self.live.publish(
                    written
                        .iter()
                        .map(|(bin_id, arrival, _, _)| (bin_id.as_str(), arrival.clone())),
                );
                for (_, _, captured, ack) in written {
                    let _ = ack.send(Ok(captured));
                }
            }
            Err(err) => {
                // The numbers handed out and failures counted may not have been stored: read
                // them again next time.
                for (bin_id, _, _, _) in &written {
                    self.forget(bin_id);
                }
                for (_, _, _, ack) in written {
                    let _ = ack.send(Err(clone_error(&err)));
                }
            }
        }
    }

    /// Drops what is remembered of a bin; it is read from the table when next needed.
    fn forget(&mut self, id: &str) {
        if let Some(bin) = self.bins.remove(id) {
            self.settings_bytes = self.settings_bytes.saturating_sub(bin.settings_bytes);
            self.keys_remembered = self.keys_remembered.saturating_sub(bin.recent.len());
        }
    }

    /// After a commit: whether what was committed reached the database file at its path.
    fn landed(&self) -> Result<(), WriterError> {
        match self.health.file_problem() {
            None => Ok(()),
            Some(problem) => {
                tracing::error!(%problem, "writes no longer reach the database file");
                self.health.write_failed(problem.clone());
                Err(WriterError::Unavailable(problem))
            }
        }
    }

    async fn run_command(&mut self, command: &Command) -> Result<u64, WriterError> {
        // A deleted bin's key can be handed to a new bin: forget what was remembered of it.
        // A cleared bin's remembered event keys would name deleted requests.
        match command {
            Command::DeleteBin { id }
            | Command::DeleteIdle { bin_id: id, .. }
            | Command::ClearBin { id }
            | Command::PutSettings { bin_id: id, .. } => self.forget(id),
            _ => {}
        }
        match commands::run(&mut self.conn, command).await {
            Ok(Some(rows)) => self.landed().map(|()| {
                if let Command::Probe { .. } = command {
                    self.health.probe_landed();
                }
                rows
            }),
            Ok(None) => Err(match command {
                Command::DeleteRequest { .. } => WriterError::RequestNotFound,
                _ => WriterError::BinNotFound,
            }),
            Err(err) => {
                tracing::error!(error = %err, ?command, "store command failed");
                self.health.write_failed(err.to_string());
                Err(WriterError::Failed)
            }
        }
    }
}

fn clone_error(err: &WriterError) -> WriterError {
    match err {
        WriterError::Unavailable(reason) => WriterError::Unavailable(reason.clone()),
        _ => WriterError::Failed,
    }
}

/// The INSERT of `rows` rows, prepared for its batch. (Padding batches to a power of two with
/// NULL rows, so that nine prepared statements served every size, cost 3.9 µs a capture:
/// BENCHMARKS.md, "Tricks".)
fn insert_statement(rows: usize) -> String {
    let row = format!("({})", vec!["?"; COLUMNS.split(',').count()].join(", "));
    format!(
        "INSERT INTO requests ({COLUMNS}) VALUES {}",
        vec![row; rows].join(", ")
    )
}

type Insert<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// Runs the batch's INSERT (triggers add to the bins' counters), and when it counted
/// `fail_next` down, the counts' updates in the same transaction; returns the rows inserted.
async fn execute(
    conn: &mut SqliteConnection,
    insert: Insert<'_>,
    fail_counts: &HashMap<i64, u32>,
) -> Result<u64, sqlx::Error> {
    if fail_counts.is_empty() {
        return Ok(insert.execute(conn).await?.rows_affected());
    }
    let mut tx = sqlx::Connection::begin(conn).await?;
    let rows = insert.execute(&mut *tx).await?.rows_affected();
    for (key, count) in fail_counts {
        sqlx::query(
            "UPDATE bins SET settings = json_set(settings, '$.fail_next.count', ?) WHERE key = ?",
        )
        .bind(count)
        .bind(key)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(rows)
}

/// A row bound: its bin, what its arrival announces, and its acknowledgement.
type Written = (String, Arrival, Captured, CaptureAck);

/// Binds one capture's row (in [`COLUMNS`] order).
fn bind_capture(insert: Insert<'_>, placed: Placed) -> (Insert<'_>, Written) {
    let Placed {
        bin_key,
        seq,
        request,
        answer,
        token_check,
        context_ok,
        duplicate_of,
        ack,
    } = placed;
    let request = *request;
    // Counted up to the row being written: the commit that follows takes well under a
    // millisecond unless the disk is struggling.
    let latency = request.started.elapsed() + answer.delay();
    let (event_type, event_id, object_type, object_id) = match request.kaizala {
        Some(event) => (
            Some(event.event_type),
            event.event_id,
            event.object_type,
            event.object_id,
        ),
        None => (None, None, None, None),
    };
    let (head, rest) = split_body(request.body);
    let insert = insert
        .bind(bin_key)
        .bind(seq)
        .bind(request.received_at)
        .bind(request.outcome.as_str())
        .bind(request.method)
        .bind(request.path)
        .bind(request.query)
        .bind(request.headers_json)
        .bind(request.trailers_json)
        .bind(request.content_type)
        .bind(i64::try_from(request.body_size).unwrap_or(i64::MAX))
        .bind(request.remote_addr)
        .bind(event_type.clone())
        .bind(event_id)
        .bind(object_type)
        .bind(object_id)
        .bind(request.event_key)
        .bind(duplicate_of)
        .bind(answer.handshake().map(Handshake::as_str))
        .bind(token_check.map(TokenCheck::as_str))
        .bind(context_ok)
        .bind(i64::from(answer.status()))
        .bind(i64::try_from(latency.as_millis()).unwrap_or(i64::MAX))
        .bind(head)
        .bind(rest);
    let arrival = Arrival {
        request_id: seq,
        event_type,
    };
    let captured = Captured { id: seq, answer };
    (insert, (request.bin_id, arrival, captured, ack))
}

/// Splits a body into the part listings read and the rest, copying only what must move.
fn split_body(body: bytes::Bytes) -> (Vec<u8>, Vec<u8>) {
    if body.len() <= BODY_HEAD {
        return (Vec::from(body), Vec::new());
    }
    let head = body[..BODY_HEAD].to_vec();
    let mut rest = Vec::from(body);
    rest.drain(..BODY_HEAD);
    (head, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_split_at_the_head_size() {
        let small = bytes::Bytes::from_static(b"small");
        assert_eq!(split_body(small), (b"small".to_vec(), Vec::new()));
        let large: Vec<u8> = (0..BODY_HEAD + 10).map(|i| (i % 251) as u8).collect();
        let (head, rest) = split_body(bytes::Bytes::from(large.clone()));
        assert_eq!(head.len(), BODY_HEAD);
        assert_eq!([head, rest].concat(), large);
    }
}
