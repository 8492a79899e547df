//! What happened to bins between two sweeps, gathered in memory so a visit or a refused
//! capture costs no write of its own: which bins were visited, and how many captures the rate
//! limit refused in each. The sweeper writes it out.

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
};

use crate::clock;

/// Refused captures of one bin not yet written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drops {
    pub count: u64,
    /// When the first of them was refused (Unix ms).
    pub since: i64,
}

impl Drops {
    /// Two counts of one bin's refusals as one.
    pub fn merge(self, other: Drops) -> Drops {
        Drops {
            count: self.count + other.count,
            since: self.since.min(other.since),
        }
    }
}

/// Visits and refusals since the last sweep.
#[derive(Debug, Default)]
pub struct Activity {
    pending: Mutex<Pending>,
}

#[derive(Debug, Default)]
pub(super) struct Pending {
    pub visited: HashSet<String>,
    pub dropped: HashMap<String, Drops>,
}

impl Activity {
    /// A page or API call read this (existing) bin.
    pub fn visited(&self, bin_id: &str) {
        let mut pending = self.lock();
        if !pending.visited.contains(bin_id) {
            pending.visited.insert(bin_id.to_owned());
        }
    }

    /// The rate limit refused a capture to this (existing) bin.
    pub fn dropped(&self, bin_id: &str) {
        let mut pending = self.lock();
        match pending.dropped.get_mut(bin_id) {
            Some(drops) => drops.count += 1,
            None => {
                let drops = Drops {
                    count: 1,
                    since: clock::now_millis(),
                };
                pending.dropped.insert(bin_id.to_owned(), drops);
            }
        }
    }

    /// Whether this bin was visited since the last sweep wrote the visits out.
    pub fn was_visited(&self, bin_id: &str) -> bool {
        self.lock().visited.contains(bin_id)
    }

    /// Puts back what a failed write took, adding to what came meanwhile.
    pub(super) fn restore(&self, visited: Vec<String>, dropped: Vec<(String, Drops)>) {
        let mut pending = self.lock();
        pending.visited.extend(visited);
        for (bin_id, drops) in dropped {
            let merged = match pending.dropped.get(&bin_id) {
                Some(newer) => drops.merge(*newer),
                None => drops,
            };
            pending.dropped.insert(bin_id, merged);
        }
    }

    /// Refusals of this bin not yet written.
    pub fn pending_drops(&self, bin_id: &str) -> Option<Drops> {
        self.lock().dropped.get(bin_id).copied()
    }

    /// Takes everything gathered so far.
    pub(super) fn take(&self) -> Pending {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.visited.is_empty() && self.dropped.is_empty()
    }
}
