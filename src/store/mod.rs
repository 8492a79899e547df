//! SQLite storage: opening the database, the records it holds, and the handles the app uses.
//!
//! All writes go through one writer task (see [`writer`]); reads use a separate pool, so
//! a page being rendered never waits for a capture and a capture never waits for a page.

mod activity;
mod checkpoint;
mod commands;
pub(crate) mod duplicates;
mod health;
mod live;
mod queries;
mod sweeper;
mod writer;

use std::{
    path::PathBuf,
    str::FromStr,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use sqlx::{
    sqlite::{
        SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions,
        SqliteSynchronous,
    },
    ConnectOptions, Connection, SqliteConnection, SqlitePool,
};

pub use activity::{Activity, Drops};
pub use health::Health;
pub use live::{Arrival, LiveArrivals};
pub use queries::Listing;
pub use sweeper::{spawn_sweeper, SweepPolicy};
pub use writer::{Command, StoredSettings, WriterError, WriterHandle};

use crate::{
    config::Rate,
    headers::HeaderPair,
    kaizala::KaizalaEvent,
    limits::Limiter,
    settings::{
        answer::{Answer, Asks, Handshake},
        Settings,
    },
};

/// What a commit waits for before its captures are answered (`--sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// The commit is in the WAL file, not yet on disk (`synchronous=NORMAL`): a `2xx`
    /// survives the process being killed, not a power cut.
    #[default]
    Normal,
    /// The WAL is flushed to disk at every commit, once per batch (`synchronous=FULL`): a
    /// `2xx` survives losing power too.
    Full,
}

/// Captures a single batch may hold; beyond this the writer commits and starts another.
pub const MAX_BATCH: usize = 256;

/// Bytes of each body kept in `body_head`, the part listings read; the rest is `body_rest`.
pub const BODY_HEAD: usize = 64 * 1024;

/// What happened to a captured request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored with its body.
    Stored,
    /// The body was over the size limit: recorded without it and answered 413.
    Rejected,
    /// A handshake (see [`Handshake`]), answered with its challenge.
    Handshake,
}

impl Outcome {
    /// The value kept in the `outcome` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Stored => "stored",
            Outcome::Rejected => "rejected",
            Outcome::Handshake => "handshake",
        }
    }

    fn from_column(text: &str) -> Self {
        match text {
            "rejected" => Outcome::Rejected,
            "handshake" => Outcome::Handshake,
            _ => Outcome::Stored,
        }
    }
}

/// A request as the capture handler hands it to the writer.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub bin_id: String,
    pub received_at: i64,
    pub outcome: Outcome,
    pub method: String,
    pub path: String,
    pub query: String,
    /// Every header as the stored JSON array (see [`crate::headers`]), encoded by the handler
    /// so the single writer only writes.
    pub headers_json: String,
    /// The trailer section of a chunked body, in the same shape; `None` when none came.
    pub trailers_json: Option<String>,
    pub content_type: Option<String>,
    pub body: Bytes,
    pub body_size: u64,
    pub remote_addr: Option<String>,
    pub kaizala: Option<KaizalaEvent>,
    /// The event's key for finding repeats (see [`duplicates::event_key`]), worked out by the
    /// handler so the single writer does not hash.
    pub event_key: Option<i64>,
    /// The handshakes it asks for; its bin's settings decide whether one answers it.
    pub asks: Asks,
    /// The `kz-callback-token` header, checked against the bin's callback token.
    pub callback_token: Option<String>,
    /// When the handler began on it: the answer's latency is counted from here.
    pub started: Instant,
}

/// A capture written: its number within its bin, and how to answer it.
#[derive(Debug, Clone)]
pub struct Captured {
    pub id: i64,
    pub answer: Answer,
}

/// A bin as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinRecord {
    /// The internal key requests refer to.
    pub key: i64,
    /// The public id: a UUID v4.
    pub id: String,
    pub created_at: i64,
    pub request_count: i64,
    /// Captures refused by the rate limit (written ones; see [`Store::drops`]).
    pub dropped_count: i64,
    /// When the first of them was refused (Unix ms).
    pub dropped_since: Option<i64>,
    /// Its settings' stored JSON (see [`Settings::from_stored`]).
    pub settings: String,
}

impl BinRecord {
    /// Its settings, as stored.
    pub fn settings(&self) -> Settings {
        Settings::from_stored(&self.settings)
    }
}

/// A captured request as stored, with its duplicate lookup resolved.
#[derive(Debug, Clone)]
pub struct StoredRequest {
    /// The request's number within its bin (what URLs and the API call its id).
    pub id: i64,
    pub bin_id: String,
    pub received_at: i64,
    pub outcome: Outcome,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<HeaderPair>,
    pub trailers: Vec<HeaderPair>,
    pub content_type: Option<String>,
    /// The body, or only its first bytes when read for a listing (see `body_truncated`).
    pub body: Vec<u8>,
    pub body_size: i64,
    /// Whether `body` stops before the end of what was stored.
    pub body_truncated: bool,
    pub remote_addr: Option<String>,
    pub kaizala: Option<KaizalaEvent>,
    /// The first request in the same bin with the same Kaizala `eventId`, if this is a repeat.
    pub duplicate_of: Option<i64>,
    /// For a duplicate: whether its body is exactly the first delivery's.
    pub duplicate_identical: Option<bool>,
    /// Which handshake answered it, if one did.
    pub handshake: Option<Handshake>,
    /// The `kz-callback-token` against the bin's token when it came: `ok`, `mismatch` or
    /// `missing`; `None` when not a Kaizala event or the bin had no token.
    pub token_check: Option<TokenCheck>,
    /// The echoed context against the bin's; `None` when the bin had none.
    pub context_ok: Option<bool>,
    /// What it was answered, and how long after it arrived; `None` before this was recorded.
    pub response: Option<Response>,
}

/// What a request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub latency_ms: i64,
}

/// A Kaizala request's `kz-callback-token` against its bin's callback token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    Ok,
    Mismatch,
    Missing,
}

impl TokenCheck {
    /// Compares the header sent with the bin's token; `None` when the bin has none.
    pub fn of(sent: Option<&str>, expected: Option<&str>) -> Option<TokenCheck> {
        let expected = expected?;
        Some(match sent {
            None => TokenCheck::Missing,
            Some(sent) if sent == expected => TokenCheck::Ok,
            Some(_) => TokenCheck::Mismatch,
        })
    }

    /// The stored (and API) name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenCheck::Ok => "ok",
            TokenCheck::Mismatch => "mismatch",
            TokenCheck::Missing => "missing",
        }
    }

    fn from_column(text: &str) -> Option<TokenCheck> {
        [TokenCheck::Ok, TokenCheck::Mismatch, TokenCheck::Missing]
            .into_iter()
            .find(|check| check.as_str() == text)
    }
}

/// One page of a bin's requests, newest first.
#[derive(Debug, Clone)]
pub struct RequestPage {
    pub requests: Vec<StoredRequest>,
    /// Pass as `before` to get the next (older) page; `None` on the last page.
    pub next_before: Option<i64>,
}

/// The database: a read pool, the handle of the single writer, and what health checks watch.
#[derive(Clone)]
pub struct Store {
    read: SqlitePool,
    writer: WriterHandle,
    live: Arc<live::Hub>,
    health: Arc<Health>,
    activity: Arc<Activity>,
}

impl Store {
    /// Opens (creating if needed) the database, applies migrations and starts the writer task
    /// with room for `queue_capacity` waiting writes, holding each bin to `capture_limit`, and
    /// committing with `durability`.
    pub async fn open(
        database_url: &str,
        queue_capacity: usize,
        capture_limit: Option<Rate>,
        durability: Durability,
    ) -> Result<Store, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(database_url)?
            .create_if_missing(true)
            // Incremental auto-vacuum lets the sweeper hand freed pages back to the file system.
            .auto_vacuum(SqliteAutoVacuum::Incremental)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Normal => SqliteSynchronous::Normal,
                Durability::Full => SqliteSynchronous::Full,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // Checkpoints run in the background on their own connection (see the writer):
            // their fsync must never sit between a commit and its acknowledgement.
            .pragma("wal_autocheckpoint", "0")
            .pragma("journal_size_limit", "67108864")
            .log_statements(tracing::log::LevelFilter::Trace);
        let path = database_path(&options);
        if let Some(path) = &path {
            create_private(path)?;
        }

        let mut writer_conn = SqliteConnection::connect_with(&options).await?;
        sqlx::migrate!("./migrations")
            .run(&mut writer_conn)
            .await
            .map_err(|err| sqlx::Error::Migrate(Box::new(err)))?;

        let checkpoint_conn = SqliteConnection::connect_with(&options).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .connect_with(options.clone())
            .await?;

        // The checkpointer flushes the database file through a handle of its own; an
        // in-memory database has no file and nothing to flush.
        let database = path
            .as_ref()
            .and_then(|path| std::fs::OpenOptions::new().write(true).open(path).ok());
        let health = Arc::new(Health::new(path, database.as_ref()));
        let live = Arc::new(live::Hub::default());
        let writer = writer::spawn(
            writer_conn,
            checkpoint_conn,
            database,
            queue_capacity.max(1),
            live.clone(),
            health.clone(),
            capture_limit.map(Limiter::new),
        )
        .await?;
        Ok(Store {
            read,
            writer,
            live,
            health,
            activity: Arc::default(),
        })
    }

    /// The handle captures and commands are sent through.
    pub fn writer(&self) -> &WriterHandle {
        &self.writer
    }

    /// Subscribes to the arrivals (after their commit) of one bin, for its live page.
    pub fn subscribe(&self, bin_id: &str) -> LiveArrivals {
        self.live.subscribe(bin_id)
    }

    /// Visits and rate-limit refusals waiting for the next sweep.
    pub fn activity(&self) -> &Activity {
        &self.activity
    }

    /// The captures the rate limit refused in a bin, written and pending together.
    pub fn drops(&self, bin: &BinRecord) -> Option<Drops> {
        let written = (bin.dropped_count > 0).then(|| Drops {
            count: u64::try_from(bin.dropped_count).unwrap_or(0),
            since: bin.dropped_since.unwrap_or(bin.created_at),
        });
        match (written, self.activity.pending_drops(&bin.id)) {
            (Some(written), Some(pending)) => Some(written.merge(pending)),
            (written, pending) => written.or(pending),
        }
    }

    /// What the health check looks at.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Flushes everything queued and stops the writer; later writes fail.
    pub async fn close(&self) {
        self.writer.shutdown().await;
        self.read.close().await;
    }
}

/// The database file behind the options, if it is a file.
fn database_path(options: &SqliteConnectOptions) -> Option<PathBuf> {
    let path = options.get_filename();
    let text = path.to_string_lossy();
    (!text.is_empty() && text != ":memory:" && !text.starts_with("file:")).then(|| path.to_owned())
}

/// Creates the database file readable by its owner only, before SQLite does: SQLite creates
/// the WAL and shared-memory files with the database file's permissions. An existing file
/// (from an older binspector) is made private too.
fn create_private(path: &std::path::Path) -> Result<(), sqlx::Error> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        options.open(path).map_err(sqlx::Error::Io)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    return Err(sqlx::Error::Io(err))
                }
                _ => {}
            }
        }
    }
    #[cfg(not(unix))]
    options.open(path).map_err(sqlx::Error::Io)?;
    Ok(())
}

/// A bin id is a lowercase, hyphenated UUID v4, so it never collides with a route name.
pub fn valid_bin_id(text: &str) -> bool {
    text.len() == 36
        && uuid::Uuid::try_parse(text)
            .is_ok_and(|id| id.get_version_num() == 4 && id.hyphenated().to_string() == text)
}

/// A fresh bin id.
pub fn new_bin_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_ids_are_lowercase_hyphenated_v4() {
        let id = new_bin_id();
        assert!(valid_bin_id(&id));
        assert!(!valid_bin_id(&id.to_uppercase()));
        assert!(!valid_bin_id(&id.replace('-', "")));
        assert!(!valid_bin_id("inspect"));
        // A well-formed UUID of another version is not a bin id.
        assert!(!valid_bin_id("0b8f5c1e-8f0a-1c4e-9a57-2f1d0d7e9a10"));
    }
}
