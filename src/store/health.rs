//! What `/healthz` reports about the store: whether the database file it opened is still the
//! one at its path, whether writes still land, and whether the read pool answers.

use std::{
    fs::File,
    path::PathBuf,
    sync::{
        atomic::{AtomicBool, AtomicI64, Ordering},
        Mutex, PoisonError,
    },
    time::Duration,
};

use super::{Command, Store, WriterError};
use crate::clock;

/// How often a health check may send a write through the writer; checks in between reuse the
/// last outcome, so hammering `/healthz` cannot load the writer.
const PROBE_EVERY_MS: i64 = 1_000;
/// How long a health check waits for its write.
const PROBE_WAIT: Duration = Duration::from_secs(5);

/// How long a write failure is reported before a probe that lands may clear it (a capture
/// that lands clears it at once): long enough for any monitor to see it, since the probe's
/// one write landing does not prove that captures will.
const FAILURE_HELD_MS: i64 = 30_000;

/// The database file's identity, and how the last write went.
pub struct Health {
    file: Option<(PathBuf, FileId)>,
    failing: AtomicBool,
    /// Why, and when (Unix milliseconds), the last write failed.
    failure: Mutex<(String, i64)>,
    probed_at: AtomicI64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    device: u64,
    inode: u64,
}

impl FileId {
    #[cfg(unix)]
    fn of(metadata: &std::fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId {
            device: metadata.dev(),
            inode: metadata.ino(),
        }
    }

    #[cfg(not(unix))]
    fn of(_: &std::fs::Metadata) -> FileId {
        FileId {
            device: 0,
            inode: 0,
        }
    }
}

impl Health {
    pub(super) fn new(path: Option<PathBuf>, file: Option<&File>) -> Health {
        let id = file
            .and_then(|file| file.metadata().ok())
            .map(|metadata| FileId::of(&metadata));
        Health {
            file: path.zip(id),
            failing: AtomicBool::new(false),
            failure: Mutex::new((String::new(), 0)),
            probed_at: AtomicI64::new(0),
        }
    }

    /// Why data written now would not reach the database file at its path: the file (or its
    /// directory) was removed, or another file took its place. SQLite would go on writing to
    /// the open, unlinked file, and everything would be gone at the next start.
    pub fn file_problem(&self) -> Option<String> {
        let (path, id) = self.file.as_ref()?;
        match std::fs::metadata(path) {
            Ok(metadata) if FileId::of(&metadata) == *id => None,
            Ok(_) => Some(format!(
                "the database file {} was replaced by another file",
                path.display()
            )),
            Err(_) => Some(format!("the database file {} was removed", path.display())),
        }
    }

    /// Records that a write failed, and why.
    pub(super) fn write_failed(&self, reason: String) {
        *self.failure.lock().unwrap_or_else(PoisonError::into_inner) =
            (reason, clock::now_millis());
        self.failing.store(true, Ordering::Release);
    }

    /// Records that a batch of captures landed.
    pub(super) fn write_succeeded(&self) {
        if self.failing.load(Ordering::Acquire) {
            self.failing.store(false, Ordering::Release);
        }
    }

    /// Records that the health probe's write landed: it clears a failure reported for a while,
    /// so an idle server recovers once the disk has room again.
    pub(super) fn probe_landed(&self) {
        let failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        if clock::now_millis() - failure.1 >= FAILURE_HELD_MS {
            self.failing.store(false, Ordering::Release);
        }
    }

    /// Why the last write failed, if it did.
    fn last_failure(&self) -> Option<String> {
        self.failing.load(Ordering::Acquire).then(|| {
            self.failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .0
                .clone()
        })
    }
}

impl Store {
    /// `Ok` when the store can take writes and answer reads; otherwise why not, in one
    /// sentence for the operator.
    pub async fn check_health(&self) -> Result<(), String> {
        let health = self.health();
        if let Some(problem) = health.file_problem() {
            return Err(problem);
        }
        self.ping()
            .await
            .map_err(|err| format!("the database does not answer reads: {err}"))?;
        let now = clock::now_millis();
        let last = health.probed_at.load(Ordering::Relaxed);
        if now - last >= PROBE_EVERY_MS
            && health
                .probed_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            // The writer records the probe's outcome (a failure, or a landing that clears an
            // old failure); only a probe that never ran is told here.
            let probe = self.writer().run(Command::Probe { at: now });
            match tokio::time::timeout(PROBE_WAIT, probe).await {
                Err(_) => return Err("the database writer did not answer within 5 s".to_owned()),
                Ok(Err(WriterError::Closed)) => return Err("the store is shutting down".to_owned()),
                Ok(_) => {}
            }
        }
        match health.last_failure() {
            Some(reason) => Err(format!("the last database write failed: {reason}")),
            None => Ok(()),
        }
    }
}
