//! Memory budgets for bodies in flight: a total for everyone, and a share of it per client
//! address, so that one client (say, a few uploads that declare megabytes and then stall)
//! cannot hold the whole budget while everyone else is turned away.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why bytes could not be reserved in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    /// This client already holds its share, and none of it came free in time.
    #[error("this client holds its share of the memory for bodies in flight")]
    ClientShare,
    /// Everyone's budget stayed exhausted.
    #[error("the memory for bodies in flight is exhausted")]
    Exhausted,
}

/// A budget of bytes, with a share per client address.
pub struct Budget {
    total: Arc<Semaphore>,
    share: usize,
    /// How long a client waits for its own share to come free: what holds it is that client's
    /// own bodies in flight, so this is as long as one of them may take.
    share_wait: Duration,
    clients: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
}

impl Budget {
    /// A budget of `total` bytes, of which one client address may hold at most `share`,
    /// waiting at most `share_wait` for it.
    pub fn new(total: usize, share: usize, share_wait: Duration) -> Arc<Budget> {
        let total = total.min(Semaphore::MAX_PERMITS);
        Arc::new(Budget {
            total: Arc::new(Semaphore::new(total)),
            share: share.clamp(1, total.max(1)),
            share_wait,
            clients: Mutex::new(HashMap::new()),
        })
    }

    fn clients(&self) -> MutexGuard<'_, HashMap<IpAddr, Arc<Semaphore>>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An empty reservation for `client` (unknown clients only count against the total).
    pub fn reservation(self: &Arc<Self>, client: Option<IpAddr>) -> Reservation {
        Reservation {
            budget: self.clone(),
            client,
            total: None,
            own: None,
        }
    }

    /// Bytes not reserved by anyone.
    #[cfg(test)]
    fn available(&self) -> usize {
        self.total.available_permits()
    }
}

/// Bytes reserved for one body; they are given back when it is dropped.
pub struct Reservation {
    budget: Arc<Budget>,
    client: Option<IpAddr>,
    /// Bytes held of the total.
    total: Option<OwnedSemaphorePermit>,
    /// Bytes held of the client's share: at least `total`, more when claimed ahead.
    own: Option<OwnedSemaphorePermit>,
}

impl Reservation {
    /// Claims `bytes` of the client's share ahead of the body (its declared length), so
    /// that bodies from one address either get all the share they need or wait holding
    /// none: several that each held a part would wait for each other.
    pub async fn claim_share(&mut self, bytes: usize) -> Result<(), BudgetError> {
        let needed = bytes.saturating_sub(permits(&self.own));
        self.take_share(needed).await
    }

    /// Reserves `bytes` more of the total, waiting at most `wait`, and of the client's share
    /// whatever was not claimed ahead (a client over its share waits behind itself only).
    pub async fn grow(&mut self, bytes: usize, wait: Duration) -> Result<(), BudgetError> {
        if bytes == 0 {
            return Ok(());
        }
        let needed = (permits(&self.total) + bytes).saturating_sub(permits(&self.own));
        self.take_share(needed).await?;
        let count = u32::try_from(bytes).map_err(|_| BudgetError::Exhausted)?;
        let permit =
            tokio::time::timeout(wait, self.budget.total.clone().acquire_many_owned(count))
                .await
                .map_err(|_| BudgetError::Exhausted)?
                .map_err(|_| BudgetError::Exhausted)?;
        merge(&mut self.total, permit);
        Ok(())
    }

    async fn take_share(&mut self, bytes: usize) -> Result<(), BudgetError> {
        let Some(client) = self.client.filter(|_| bytes > 0) else {
            return Ok(());
        };
        if permits(&self.own) + bytes > self.budget.share {
            return Err(BudgetError::ClientShare);
        }
        let count = u32::try_from(bytes).map_err(|_| BudgetError::ClientShare)?;
        let share = self
            .budget
            .clients()
            .entry(client)
            .or_insert_with(|| Arc::new(Semaphore::new(self.budget.share)))
            .clone();
        let permit = tokio::time::timeout(self.budget.share_wait, share.acquire_many_owned(count))
            .await
            .map_err(|_| BudgetError::ClientShare)?
            .map_err(|_| BudgetError::ClientShare)?;
        merge(&mut self.own, permit);
        Ok(())
    }

    /// Bytes this reservation holds of the total.
    #[cfg(test)]
    fn held(&self) -> usize {
        permits(&self.total)
    }
}

fn permits(held: &Option<OwnedSemaphorePermit>) -> usize {
    held.as_ref().map_or(0, OwnedSemaphorePermit::num_permits)
}

fn merge(held: &mut Option<OwnedSemaphorePermit>, permit: OwnedSemaphorePermit) {
    match held {
        Some(held) => held.merge(permit),
        None => *held = Some(permit),
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.total.take();
        if self.own.take().is_none() {
            return;
        }
        let Some(client) = self.client else { return };
        // Forget a client once nothing of its share is held or awaited, so the map stays small.
        let mut clients = self.budget.clients();
        if clients.get(&client).is_some_and(|share| {
            Arc::strong_count(share) == 1 && share.available_permits() == self.budget.share
        }) {
            clients.remove(&client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_millis(20);

    #[tokio::test]
    async fn one_client_cannot_take_more_than_its_share() {
        let budget = Budget::new(100, 40, WAIT);
        let greedy: IpAddr = [192, 0, 2, 1].into();
        let other: IpAddr = [192, 0, 2, 2].into();
        let mut first = budget.reservation(Some(greedy));
        first.grow(30, WAIT).await.unwrap();
        let mut second = budget.reservation(Some(greedy));
        assert_eq!(second.grow(20, WAIT).await, Err(BudgetError::ClientShare));
        let mut others = budget.reservation(Some(other));
        others.grow(40, WAIT).await.unwrap();
        assert_eq!(budget.available(), 30);
        drop((first, second, others));
        assert_eq!(budget.available(), 100);
        assert!(budget.clients().is_empty(), "idle clients are forgotten");
    }

    #[tokio::test]
    async fn a_share_claimed_ahead_is_all_or_nothing() {
        let budget = Budget::new(100, 40, WAIT);
        let client: IpAddr = [192, 0, 2, 1].into();
        let mut first = budget.reservation(Some(client));
        first.claim_share(30).await.unwrap();
        first.grow(10, WAIT).await.unwrap();
        // The second body of that client waits for its whole claim, holding nothing.
        let mut second = budget.reservation(Some(client));
        assert_eq!(second.claim_share(20).await, Err(BudgetError::ClientShare));
        assert_eq!((first.held(), second.held()), (10, 0));
        // Growing within the claim takes no more of the share.
        first.grow(20, WAIT).await.unwrap();
        drop(first);
        second.claim_share(20).await.unwrap();
    }

    #[tokio::test]
    async fn the_total_still_bounds_everyone() {
        let budget = Budget::new(50, 40, WAIT);
        let mut a = budget.reservation(Some([192, 0, 2, 1].into()));
        a.grow(40, WAIT).await.unwrap();
        let mut b = budget.reservation(Some([192, 0, 2, 2].into()));
        assert_eq!(b.grow(20, WAIT).await, Err(BudgetError::Exhausted));
        b.grow(10, WAIT).await.unwrap();
        assert_eq!((a.held(), b.held()), (40, 10));
    }
}
