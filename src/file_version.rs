//! What identifies one version of a file on disk, so files that binspector re-reads while it
//! runs (certificates, access tokens) are read again only when they change.

use std::{fs, path::Path, time::SystemTime};

/// A rewrite in place changes the time or size; a replacement (certbot moves a symlink)
/// changes the inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileVersion {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

impl FileVersion {
    /// The version of the file at `path` (following symlinks), or `None` when it cannot be read.
    pub fn of(path: &Path) -> Option<FileVersion> {
        // `metadata` follows symlinks, so a moved link shows the file it now points at.
        let meta = fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(FileVersion {
            modified: meta.modified().ok(),
            len: meta.len(),
            inode,
        })
    }
}
