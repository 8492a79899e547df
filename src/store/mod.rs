//! SQLite storage: opening the database, the records it holds, and the handles the app uses.
//!
//! All writes go through one writer task (see [`writer`]); reads use a separate pool, so
//! a page being rendered never waits for a capture and a capture never waits for a page.

mod queries;
mod sweeper;
mod writer;

use std::{str::FromStr, time::Duration};

use bytes::Bytes;
use sqlx::{
    sqlite::{
        SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions,
        SqliteSynchronous,
    },
    ConnectOptions, Connection, SqliteConnection, SqlitePool,
};
use tokio::sync::broadcast;

pub use sweeper::spawn_sweeper;
pub use writer::{Arrival, Command, WriterError, WriterHandle};

use crate::kaizala::KaizalaEvent;

/// Captures a single batch may hold; beyond this the writer commits and starts another.
pub const MAX_BATCH: usize = 256;

/// What happened to a captured request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Stored with its body.
    Stored,
    /// The body was over the size limit: recorded without it and answered 413.
    Rejected,
    /// A `validationToken` handshake, answered with the token.
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
    /// Every header as a JSON array of `[name, value]` pairs, encoded by the handler so the
    /// single writer only writes.
    pub headers_json: String,
    pub content_type: Option<String>,
    pub body: Bytes,
    pub body_size: u64,
    pub remote_addr: Option<String>,
    pub kaizala: Option<KaizalaEvent>,
}

/// A bin as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinRecord {
    pub id: String,
    pub created_at: i64,
    pub request_count: i64,
}

/// A captured request as stored, with its duplicate lookup resolved.
#[derive(Debug, Clone)]
pub struct StoredRequest {
    pub id: i64,
    pub bin_id: String,
    pub received_at: i64,
    pub outcome: Outcome,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub body_size: i64,
    pub remote_addr: Option<String>,
    pub kaizala: Option<KaizalaEvent>,
    /// The first request in the same bin with the same Kaizala `eventId`, if this is a repeat.
    pub duplicate_of: Option<i64>,
}

/// One page of a bin's requests, newest first.
#[derive(Debug, Clone)]
pub struct RequestPage {
    pub requests: Vec<StoredRequest>,
    /// Pass as `before` to get the next (older) page; `None` on the last page.
    pub next_before: Option<i64>,
}

/// The database: a read pool and the handle of the single writer.
#[derive(Clone)]
pub struct Store {
    read: SqlitePool,
    writer: WriterHandle,
}

impl Store {
    /// Opens (creating if needed) the database, applies migrations and starts the writer task
    /// with room for `queue_capacity` waiting writes.
    pub async fn open(database_url: &str, queue_capacity: usize) -> Result<Store, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(database_url)?
            .create_if_missing(true)
            // Incremental auto-vacuum lets the sweeper hand freed pages back to the file system.
            .auto_vacuum(SqliteAutoVacuum::Incremental)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // Checkpoints run in the background on their own connection (see the writer):
            // their fsync must never sit between a commit and its acknowledgement.
            .pragma("wal_autocheckpoint", "0")
            .pragma("journal_size_limit", "67108864")
            .log_statements(tracing::log::LevelFilter::Trace);

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
        let database = std::fs::OpenOptions::new()
            .write(true)
            .open(options.get_filename())
            .ok();
        let writer = writer::spawn(
            writer_conn,
            checkpoint_conn,
            database,
            queue_capacity.max(1),
        )
        .await?;
        Ok(Store { read, writer })
    }

    /// The handle captures and commands are sent through.
    pub fn writer(&self) -> &WriterHandle {
        &self.writer
    }

    /// Subscribes to request arrivals (after their commit), for live pages.
    pub fn arrivals(&self) -> broadcast::Receiver<Arrival> {
        self.writer.subscribe()
    }

    /// Flushes everything queued and stops the writer; later writes fail.
    pub async fn close(&self) {
        self.writer.shutdown().await;
        self.read.close().await;
    }
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
