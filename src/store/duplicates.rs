//! Repeat deliveries, found when they are written: each bin's most recent Kaizala event keys,
//! which the writer keeps and reads back from `requests_by_bin` when it first meets the bin.
//!
//! An index on the event id would find every repeat, but its random keys dirtied a page of
//! their own per capture and, once it outgrew SQLite's page cache, read one too: about 20 µs a
//! capture, growing with the database (BENCHMARKS.md, "Where the time went"). A repeat is
//! recognised when its first delivery is among the bin's last [`WINDOW`] Kaizala events, which
//! holds retries that come minutes or hours later in all but the busiest bins.

use std::collections::VecDeque;

use ring::digest::{digest, SHA256};

use crate::kaizala::KaizalaEvent;

/// Kaizala events per bin whose keys are remembered.
pub const WINDOW: usize = 1024;

/// The stored key of an event: the first 8 bytes of SHA-256 over its type, id and object id
/// (the three that make two deliveries the same event); `None` without an `eventId`.
///
/// Keys are trusted without reading the first delivery back (a read per repeat cost the
/// one-body benchmark two thirds of its throughput), so they must not collide on purpose:
/// matching a given event's key is a 2^64 search, and a sender who makes two events of their
/// own collide (2^32) only labels their own second event a repeat.
pub fn event_key(event: &KaizalaEvent) -> Option<i64> {
    let id = event.event_id.as_deref()?;
    let object = event.object_id.as_deref();
    let text = [
        event.event_type.as_bytes(),
        &[0],
        id.as_bytes(),
        &[u8::from(object.is_some())],
        object.unwrap_or_default().as_bytes(),
    ]
    .concat();
    let hash = digest(&SHA256, &text);
    let mut first = [0; 8];
    first.copy_from_slice(&hash.as_ref()[..8]);
    Some(i64::from_be_bytes(first))
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

    /// The oldest request remembered with this key.
    pub fn first(&self, key: i64) -> Option<i64> {
        self.keys
            .iter()
            .find(|(stored, _)| *stored == key)
            .map(|(_, seq)| *seq)
    }

    /// Remembers a request's key, forgetting the oldest beyond [`WINDOW`]; returns how many
    /// entries were added (0 or 1) for the writer's memory count.
    pub fn push(&mut self, key: i64, seq: i64) -> usize {
        let added = if self.keys.len() >= WINDOW {
            self.keys.pop_front();
            0
        } else {
            1
        };
        self.keys.push_back((key, seq));
        added
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.keys.len()
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
        assert_eq!(event_key(&text), Some(-0x1fe6_18fe_a9f5_4034));
        let others = [
            event("MemberAdded", Some("e1"), Some("g1")),
            event("TextMessageCreated", Some("e2"), Some("g1")),
            event("TextMessageCreated", Some("e1"), Some("g2")),
            event("TextMessageCreated", Some("e1"), None),
            event("TextMessageCreated", Some("e1"), Some("")),
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
    fn the_window_keeps_the_newest_and_names_the_oldest_match() {
        let mut recent = Recent::from_newest_first(vec![(7, 3), (5, 2), (7, 1)]);
        assert_eq!(recent.first(7), Some(1));
        assert_eq!(recent.first(9), None);
        let mut added = 0;
        for seq in 4..4 + WINDOW as i64 {
            added += recent.push(100 + seq, seq);
        }
        assert_eq!(added, WINDOW - 3);
        assert_eq!(recent.len(), WINDOW);
        assert_eq!(recent.first(7), None);
        assert_eq!(recent.first(104), Some(4));
    }
}
