//! Repeat deliveries, found when they are written: each bin's most recent Kaizala event keys,
//! which the writer keeps and reads back from `requests_by_bin` when it first meets the bin.
//!
//! An index on the event id would find every repeat, but its random keys dirtied a page of
//! their own per capture: about 20 µs a capture (BENCHMARKS.md, "Where the time went"). A
//! repeat is recognised when its first delivery is among the bin's last [`WINDOW`] Kaizala
//! events, which holds retries that come minutes or hours later in all but the busiest bins.

use std::{collections::VecDeque, hash::Hasher};

use crate::kaizala::KaizalaEvent;

/// Kaizala events per bin whose keys are remembered.
pub const WINDOW: usize = 1024;

/// The stored key of an event: FNV-1a over its type, id and object id (the three that make
/// two deliveries the same event); `None` without an `eventId`. A hit is checked against the
/// stored fields before it counts, so a collision never names the wrong request.
pub fn event_key(event: &KaizalaEvent) -> Option<i64> {
    let id = event.event_id.as_deref()?;
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(event.event_type.as_bytes());
    hasher.write(&[0]);
    hasher.write(id.as_bytes());
    match &event.object_id {
        Some(object) => {
            hasher.write(&[1]);
            hasher.write(object.as_bytes());
        }
        None => hasher.write(&[0]),
    }
    Some(hasher.finish() as i64)
}

/// Whether two events are deliveries of the same one.
pub fn same_event(a: &KaizalaEvent, b: &KaizalaEvent) -> bool {
    a.event_type == b.event_type && a.event_id == b.event_id && a.object_id == b.object_id
}

/// One bin's most recent event keys with their request numbers, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Recent {
    keys: VecDeque<(i64, i64)>,
}

impl Recent {
    /// From `(key, seq)` pairs, newest first (as read from the index).
    pub fn from_newest_first(pairs: Vec<(i64, i64)>) -> Recent {
        Recent {
            keys: pairs.into_iter().rev().collect(),
        }
    }

    /// The requests remembered with this key, oldest first.
    pub fn candidates(&self, key: i64) -> Vec<i64> {
        self.keys
            .iter()
            .filter(|(stored, _)| *stored == key)
            .map(|(_, seq)| *seq)
            .collect()
    }

    /// Remembers a request's key, forgetting the oldest beyond [`WINDOW`]; returns how many
    /// entries were added (0 or 1) for the writer's memory count.
    pub fn push(&mut self, key: i64, seq: i64) -> usize {
        if self.keys.len() >= WINDOW {
            self.keys.pop_front();
            self.keys.push_back((key, seq));
            0
        } else {
            self.keys.push_back((key, seq));
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: &str, id: Option<&str>, object: Option<&str>) -> KaizalaEvent {
        KaizalaEvent {
            event_type: event_type.into(),
            event_id: id.map(Into::into),
            object_type: Some("Group".into()),
            object_id: object.map(Into::into),
            context: None,
        }
    }

    #[test]
    fn keys_are_stable_and_tell_the_three_fields_apart() {
        let text = event("TextMessageCreated", Some("e1"), Some("g1"));
        // Stored in the database: the value must never change between builds.
        assert_eq!(event_key(&text), Some(-0x7b32_3d8f_6cb9_70fe));
        let others = [
            event("MemberAdded", Some("e1"), Some("g1")),
            event("TextMessageCreated", Some("e2"), Some("g1")),
            event("TextMessageCreated", Some("e1"), Some("g2")),
            event("TextMessageCreated", Some("e1"), None),
            // The separators keep moved bytes apart.
            event("TextMessageCreatede", Some("1"), Some("g1")),
        ];
        for other in others {
            assert_ne!(event_key(&other), event_key(&text), "{other:?}");
        }
        assert_eq!(
            event_key(&event("TextMessageCreated", None, Some("g1"))),
            None
        );
    }

    #[test]
    fn the_window_keeps_the_newest_and_lists_candidates_oldest_first() {
        let mut recent = Recent::from_newest_first(vec![(7, 3), (5, 2), (7, 1)]);
        assert_eq!(recent.candidates(7), vec![1, 3]);
        assert_eq!(recent.candidates(9), Vec::<i64>::new());
        let mut added = 0;
        for seq in 4..4 + WINDOW as i64 {
            added += recent.push(100 + seq, seq);
        }
        assert_eq!(added, WINDOW - 3);
        assert_eq!(recent.keys.len(), WINDOW);
        assert!(recent.candidates(7).is_empty());
        assert_eq!(recent.candidates(104), vec![4]);
    }
}
