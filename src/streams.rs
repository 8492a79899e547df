//! Slots for live-event streams: a cap on how many are open at once, in all and per client
//! address, so idle streams can never take the connections captures need.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

/// Why a stream was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    #[error("too many live streams are open; close some pages or retry later")]
    Full,
    #[error("this address has too many live streams open; close some pages or retry later")]
    ClientFull,
}

/// The open streams, counted.
pub struct StreamSlots {
    max: usize,
    per_client: usize,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    clients: HashMap<IpAddr, usize>,
}

impl StreamSlots {
    /// At most `max` streams, and `per_client` from one address.
    pub fn new(max: usize, per_client: usize) -> StreamSlots {
        StreamSlots {
            max,
            per_client,
            open: Mutex::new(Open::default()),
        }
    }

    fn open(&self) -> MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a slot for a stream to `client`; it is given back when the slot is dropped.
    pub fn take(self: &Arc<Self>, client: Option<IpAddr>) -> Result<StreamSlot, SlotError> {
        let mut open = self.open();
        if open.total >= self.max {
            return Err(SlotError::Full);
        }
        if let Some(client) = client {
            let mine = open.clients.entry(client).or_default();
            if *mine >= self.per_client {
                return Err(SlotError::ClientFull);
            }
            *mine += 1;
        }
        open.total += 1;
        Ok(StreamSlot {
            slots: self.clone(),
            client,
        })
    }

    /// Streams open now.
    #[cfg(test)]
    fn in_use(&self) -> usize {
        self.open().total
    }
}

/// One open stream's slot.
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    client: Option<IpAddr>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open();
        open.total -= 1;
        if let Some(client) = self.client {
            if let Some(mine) = open.clients.get_mut(&client) {
                *mine -= 1;
                if *mine == 0 {
                    open.clients.remove(&client);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_capped_in_all_and_per_address() {
        let slots = Arc::new(StreamSlots::new(3, 2));
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        let first = slots.take(Some(a)).unwrap();
        let _second = slots.take(Some(a)).unwrap();
        assert_eq!(slots.take(Some(a)).err(), Some(SlotError::ClientFull));
        let _third = slots.take(Some(b)).unwrap();
        assert_eq!(slots.take(Some(b)).err(), Some(SlotError::Full));
        drop(first);
        assert_eq!(slots.in_use(), 2);
        assert!(slots.take(Some(a)).is_ok());
    }
}
