//! Live arrivals, per bin: the writer announces each committed request on its bin's own channel,
//! so an open inspect page wakes for its bin's requests and nobody else's.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use tokio::sync::broadcast;

/// Arrivals a slow page may fall behind by before it is told to reload instead.
const CHANNEL_CAPACITY: usize = 256;

/// A request that has been committed, announced to its bin's live pages.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The request's number within its bin.
    pub request_id: i64,
    pub event_type: Option<String>,
}

/// The channels of the bins that someone is watching.
#[derive(Default)]
pub(super) struct Hub {
    bins: Mutex<HashMap<String, broadcast::Sender<Arrival>>>,
}

impl Hub {
    fn bins(&self) -> MutexGuard<'_, HashMap<String, broadcast::Sender<Arrival>>> {
        self.bins.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts watching a bin; the channel goes away with its last watcher.
    pub(super) fn subscribe(self: &Arc<Self>, bin_id: &str) -> LiveArrivals {
        let receiver = self
            .bins()
            .entry(bin_id.to_owned())
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe();
        LiveArrivals {
            receiver,
            bin_id: bin_id.to_owned(),
            hub: self.clone(),
        }
    }

    /// Announces a batch's arrivals, each on its own bin's channel (if anyone watches it).
    pub(super) fn publish<'a>(&self, arrivals: impl IntoIterator<Item = (&'a str, Arrival)>) {
        let bins = self.bins();
        if bins.is_empty() {
            return;
        }
        for (bin_id, arrival) in arrivals {
            if let Some(sender) = bins.get(bin_id) {
                // No receiver left is not an error: the last one is leaving right now.
                let _ = sender.send(arrival);
            }
        }
    }

    /// How many bins are being watched (for tests of the cleanup).
    #[cfg(test)]
    fn watched(&self) -> usize {
        self.bins().len()
    }
}

/// One watcher of one bin's arrivals.
pub struct LiveArrivals {
    receiver: broadcast::Receiver<Arrival>,
    bin_id: String,
    hub: Arc<Hub>,
}

impl LiveArrivals {
    /// The next arrival; `Lagged` when this watcher fell too far behind to follow one by one.
    pub async fn recv(&mut self) -> Result<Arrival, broadcast::error::RecvError> {
        self.receiver.recv().await
    }
}

impl Drop for LiveArrivals {
    fn drop(&mut self) {
        let mut bins = self.hub.bins();
        // This watcher's receiver is still alive here, so one means it was the last.
        if bins
            .get(&self.bin_id)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            bins.remove(&self.bin_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_watcher_hears_only_its_own_bin_and_the_channel_leaves_with_it() {
        let hub = Arc::new(Hub::default());
        let mut mine = hub.subscribe("a");
        let other = hub.subscribe("b");
        hub.publish([
            (
                "b",
                Arrival {
                    request_id: 1,
                    event_type: None,
                },
            ),
            (
                "a",
                Arrival {
                    request_id: 7,
                    event_type: None,
                },
            ),
        ]);
        assert_eq!(mine.recv().await.map(|a| a.request_id).ok(), Some(7));
        assert!(mine.receiver.is_empty(), "b's arrival never reached a");
        assert_eq!(hub.watched(), 2);
        drop(other);
        assert_eq!(hub.watched(), 1);
        let second = hub.subscribe("a");
        drop(mine);
        assert_eq!(hub.watched(), 1, "a is still watched by the second page");
        drop(second);
        assert_eq!(hub.watched(), 0);
    }
}
