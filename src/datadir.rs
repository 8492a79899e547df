//! The data directory: created private to its owner, and held by one binspector at a time
//! through an exclusive lock, so a second instance refuses to start instead of writing into
//! the same database.

use std::{
    fs::{self, File, OpenOptions},
    io::{Read, Seek, Write},
    path::{Path, PathBuf},
};

/// Why the data directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("the data directory {path} is not usable: {reason}")]
    Unusable { path: PathBuf, reason: String },
    #[error(
        "the data directory {path} is in use by another binspector ({holder}); stop it or choose another --data-dir"
    )]
    InUse { path: PathBuf, holder: String },
}

/// The data directory, locked for as long as this value lives.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Creates (owner-only) and locks the directory; fails if another process holds it.
    pub fn open(path: &Path) -> Result<DataDir, DataDirError> {
        let unusable = |err: std::io::Error| DataDirError::Unusable {
            path: path.to_owned(),
            reason: err.to_string(),
        };
        create_private_dir(path).map_err(unusable)?;
        let lock_path = path.join("binspector.lock");
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(unusable)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = lock.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "a process that did not say which".to_owned(),
                    pid => format!("process {pid}"),
                };
                return Err(DataDirError::InUse {
                    path: path.to_owned(),
                    holder,
                });
            }
            Err(fs::TryLockError::Error(err)) => return Err(unusable(err)),
        }
        // Say who holds it, for the next one to read.
        lock.set_len(0).map_err(unusable)?;
        lock.rewind().map_err(unusable)?;
        writeln!(lock, "{}", std::process::id()).map_err(unusable)?;
        Ok(DataDir {
            path: path.to_owned(),
            _lock: lock,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)?;
    // A directory that is there but cannot be written to would fail later, less clearly.
    let probe = path.join(".binspector-write-test");
    fs::write(&probe, b"ok")?;
    fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::open(dir.path()).unwrap();
        let second = DataDir::open(dir.path()).unwrap_err().to_string();
        assert!(second.contains("in use by another binspector"), "{second}");
        assert!(
            second.contains(&format!("process {}", std::process::id())),
            "{second}"
        );
        drop(first);
        assert!(
            DataDir::open(dir.path()).is_ok(),
            "the lock goes with its holder"
        );
    }
}
