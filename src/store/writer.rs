//! The single writer: one task owns the only writing connection, drains the bounded queue,
//! writes each batch of captures in one transaction, commits, and only then acknowledges.
//!
//! Group commit is what makes durable captures cheap: fifty senders waiting at once cost one
//! commit, not fifty. Commands (create, delete, sweep) go through the same queue so no two
//! connections ever compete for SQLite's write lock.

use std::{collections::HashMap, sync::Arc, time::Duration};

use sqlx::{sqlite::SqliteRow, QueryBuilder, Row, Sqlite, SqliteConnection};
use tokio::{
    sync::{broadcast, mpsc, oneshot, Mutex},
    task::JoinHandle,
};

use super::{NewRequest, MAX_BATCH};

/// Rows per multi-row INSERT: 64 × 16 columns stays far below SQLite's variable limit.
const ROWS_PER_INSERT: usize = 64;
/// How often the background connection folds the WAL back into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(500);

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
        self.tx
            .send_timeout(
                Job::Capture {
                    request: Box::new(request),
                    ack,
                },
                wait,
            )
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
    mut checkpoint_conn: SqliteConnection,
    queue_capacity: usize,
) -> Result<WriterHandle, sqlx::Error> {
    let next_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM requests")
        .fetch_one(&mut conn)
        .await?;
    let (tx, rx) = mpsc::channel(queue_capacity);
    let (arrivals, _) = broadcast::channel(1_024);

    let mut writer = Writer {
        conn,
        next_id,
        arrivals: arrivals.clone(),
    };
    let writer_task = tokio::spawn(async move { writer.run(rx).await });
    let checkpoint_task = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(CHECKPOINT_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut checkpoint_conn)
                .await
            {
                tracing::warn!(error = %err, "background WAL checkpoint failed");
            }
        }
    });
    // Only the checkpointer is aborted at shutdown; the writer ends itself after flushing.
    drop(writer_task);
    Ok(WriterHandle {
        tx,
        arrivals,
        tasks: Arc::new(Mutex::new(vec![checkpoint_task])),
    })
}

struct Writer {
    conn: SqliteConnection,
    next_id: i64,
    arrivals: broadcast::Sender<Arrival>,
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
        match insert_captures(&mut self.conn, &captures).await {
            Ok(inserted) => {
                for (id, request, ack) in captures {
                    if inserted.contains(&id) {
                        let _ = self.arrivals.send(Arrival {
                            event_type: request.kaizala.map(|event| event.event_type),
                            bin_id: request.bin_id,
                            request_id: id,
                        });
                        let _ = ack.send(Ok(id));
                    } else {
                        let _ = ack.send(Err(WriterError::BinNotFound));
                    }
                }
            }
            Err(err) => {
                tracing::error!(error = %err, captures = captures.len(), "writing a batch failed");
                for (_, _, ack) in captures {
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

/// Inserts the batch in one transaction and returns the ids that were stored (those whose bin exists).
async fn insert_captures(
    conn: &mut SqliteConnection,
    captures: &[CaptureAck],
) -> Result<std::collections::HashSet<i64>, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let mut inserted = std::collections::HashSet::with_capacity(captures.len());
    for chunk in captures.chunks(ROWS_PER_INSERT) {
        let mut insert: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO requests (id, bin_id, received_at, outcome, method, path, query, \
             headers, content_type, body, body_size, remote_addr, kz_event_type, kz_event_id, \
             kz_object_type, kz_object_id) SELECT * FROM (",
        );
        insert.push_values(chunk, |mut row, (id, request, _)| {
            let kaizala = request.kaizala.as_ref();
            row.push_bind(*id)
                .push_bind(request.bin_id.as_str())
                .push_bind(request.received_at)
                .push_bind(request.outcome.as_str())
                .push_bind(request.method.as_str())
                .push_bind(request.path.as_str())
                .push_bind(request.query.as_str())
                .push_bind(request.headers_json.as_str())
                .push_bind(request.content_type.as_deref())
                .push_bind(request.body.as_ref())
                .push_bind(i64::try_from(request.body_size).unwrap_or(i64::MAX))
                .push_bind(request.remote_addr.as_deref())
                .push_bind(kaizala.map(|k| k.event_type.as_str()))
                .push_bind(kaizala.and_then(|k| k.event_id.as_deref()))
                .push_bind(kaizala.and_then(|k| k.object_type.as_deref()))
                .push_bind(kaizala.and_then(|k| k.object_id.as_deref()));
        });
        // A capture whose bin vanished is skipped rather than failing the whole batch.
        insert.push(
            ") AS v WHERE EXISTS (SELECT 1 FROM bins WHERE bins.id = v.column2) RETURNING id",
        );
        let ids: Vec<i64> = insert.build_query_scalar().fetch_all(&mut *tx).await?;
        inserted.extend(ids);
    }

    let mut per_bin: HashMap<&str, i64> = HashMap::new();
    let mut per_event: HashMap<(&str, &str), i64> = HashMap::new();
    for (id, request, _) in captures {
        if !inserted.contains(id) {
            continue;
        }
        *per_bin.entry(&request.bin_id).or_default() += 1;
        if let Some(kaizala) = &request.kaizala {
            *per_event
                .entry((&request.bin_id, &kaizala.event_type))
                .or_default() += 1;
        }
    }
    adjust_counts(&mut tx, &per_bin, &per_event).await?;
    tx.commit().await?;
    Ok(inserted)
}

/// Adds the signed deltas to the bins' request counts and event-type counts.
async fn adjust_counts(
    conn: &mut SqliteConnection,
    per_bin: &HashMap<&str, i64>,
    per_event: &HashMap<(&str, &str), i64>,
) -> Result<(), sqlx::Error> {
    for (bin, delta) in per_bin {
        sqlx::query("UPDATE bins SET request_count = request_count + ? WHERE id = ?")
            .bind(delta)
            .bind(bin)
            .execute(&mut *conn)
            .await?;
    }
    for ((bin, event_type), delta) in per_event {
        sqlx::query(
            "INSERT INTO bin_event_counts (bin_id, event_type, count) VALUES (?, ?, ?) \
             ON CONFLICT (bin_id, event_type) DO UPDATE SET count = count + excluded.count",
        )
        .bind(bin)
        .bind(event_type)
        .bind(delta)
        .execute(&mut *conn)
        .await?;
    }
    if per_event.values().any(|delta| *delta < 0) {
        sqlx::query("DELETE FROM bin_event_counts WHERE count <= 0")
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Runs a command in its own transaction; `None` means its target did not exist.
async fn run_command(
    conn: &mut SqliteConnection,
    command: &Command,
) -> Result<Option<u64>, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let rows = match command {
        Command::CreateBin { id, created_at } => {
            sqlx::query("INSERT INTO bins (id, created_at) VALUES (?, ?)")
                .bind(id)
                .bind(created_at)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        }
        Command::DeleteBin { id } => {
            let rows = sqlx::query("DELETE FROM bins WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if rows == 0 {
                return Ok(None);
            }
            rows
        }
        Command::ClearBin { id } => {
            let exists = sqlx::query("UPDATE bins SET request_count = 0 WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if exists == 0 {
                return Ok(None);
            }
            sqlx::query("DELETE FROM bin_event_counts WHERE bin_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM requests WHERE bin_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
        }
        Command::DeleteRequest { bin_id, id } => {
            let deleted = delete_and_recount(
                &mut tx,
                sqlx::query("DELETE FROM requests WHERE id = ? AND bin_id = ? RETURNING bin_id, kz_event_type")
                    .bind(id)
                    .bind(bin_id),
            )
            .await?;
            if deleted == 0 {
                return Ok(None);
            }
            deleted
        }
        Command::TrimBin {
            bin_id,
            keep,
            limit,
        } => {
            let count: Option<i64> =
                sqlx::query_scalar("SELECT request_count FROM bins WHERE id = ?")
                    .bind(bin_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(count) = count else { return Ok(None) };
            let excess = u64::try_from(count).unwrap_or(0).saturating_sub(*keep);
            let take = excess.min(u64::from(*limit));
            if take == 0 {
                0
            } else {
                delete_and_recount(
                    &mut tx,
                    sqlx::query(
                        "DELETE FROM requests WHERE id IN \
                         (SELECT id FROM requests WHERE bin_id = ? ORDER BY id LIMIT ?) \
                         RETURNING bin_id, kz_event_type",
                    )
                    .bind(bin_id)
                    .bind(i64::try_from(take).unwrap_or(i64::MAX)),
                )
                .await?
            }
        }
        Command::Expire { before, limit } => {
            // Ids grow with time, so only the oldest `limit` rows can be due: no scan.
            delete_and_recount(
                &mut tx,
                sqlx::query(
                    "DELETE FROM requests WHERE id IN (SELECT id FROM \
                     (SELECT id, received_at FROM requests ORDER BY id LIMIT ?) \
                     WHERE received_at < ?) RETURNING bin_id, kz_event_type",
                )
                .bind(limit)
                .bind(before),
            )
            .await?
        }
        Command::Vacuum { pages } => {
            sqlx::query(&format!("PRAGMA incremental_vacuum({pages})"))
                .execute(&mut *tx)
                .await?;
            0
        }
    };
    tx.commit().await?;
    Ok(Some(rows))
}

/// Runs a `DELETE … RETURNING bin_id, kz_event_type` and takes the rows off the counts.
async fn delete_and_recount<'q>(
    conn: &mut SqliteConnection,
    delete: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
) -> Result<u64, sqlx::Error> {
    let rows: Vec<SqliteRow> = delete.fetch_all(&mut *conn).await?;
    let mut per_bin: HashMap<String, i64> = HashMap::new();
    let mut per_event: HashMap<(String, String), i64> = HashMap::new();
    for row in &rows {
        let bin: String = row.try_get(0)?;
        let event_type: Option<String> = row.try_get(1)?;
        if let Some(event_type) = event_type {
            *per_event.entry((bin.clone(), event_type)).or_default() -= 1;
        }
        *per_bin.entry(bin).or_default() -= 1;
    }
    let per_bin_ref = per_bin.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let per_event_ref = per_event
        .iter()
        .map(|((b, e), v)| ((b.as_str(), e.as_str()), *v))
        .collect();
    adjust_counts(conn, &per_bin_ref, &per_event_ref).await?;
    Ok(rows.len() as u64)
}
