//! Rate limits: bin creations per client address, captures per bin (applied by the store's
//! writer, which knows which bins exist), and wrong access tokens per address, on `governor`'s
//! keyed GCRA limiters.
//!
//! A limiter remembers at most [`MAX_KEYS`] keys. A flood from more addresses than that (IPv6
//! makes them cheap) would otherwise grow its map without end, because an address is only
//! forgotten once its bucket has refilled: when the map is full, the forgettable keys go, and
//! if it is still full the limiter starts over empty. Memory stays flat; the price is that
//! during such a flood an address's count can restart, which a sender with that many
//! addresses gets around anyway.

use std::{
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    num::NonZeroU32,
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use governor::{
    clock::{Clock, DefaultClock},
    middleware::StateInformationMiddleware,
    state::keyed::DefaultKeyedStateStore,
    Quota, RateLimiter,
};

use crate::config::{Config, Rate};

/// Keys one limiter remembers at most.
pub const MAX_KEYS: usize = 16_384;

/// Wrong access tokens allowed per client address, at the login form and the API together.
const WRONG_TOKENS: Rate = Rate {
    count: NonZeroU32::new(10).expect("ten is not zero"),
    period: Duration::from_secs(60),
};

/// governor's keyed limiter, telling how much of its allowance a key has left.
type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

/// A keyed limiter with bounded memory.
pub struct Limiter<K: Hash + Eq + Clone> {
    quota: Quota,
    current: RwLock<Arc<Keyed<K>>>,
    clock: DefaultClock,
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// `rate.count` events per `rate.period`, all of which may come at once.
    pub fn new(rate: Rate) -> Limiter<K> {
        let per_event = rate.period / rate.count.get();
        let quota = Quota::with_period(per_event.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| Quota::per_second(rate.count))
            .allow_burst(rate.count);
        Limiter {
            quota,
            current: RwLock::new(Arc::new(keyed(quota))),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one event for `key`: how many more it may have right now, or `Err` with the
    /// wait until the next one is allowed when it is over the limit.
    pub fn check(&self, key: &K) -> Result<u32, Duration> {
        let mut limiter = self.limiter();
        if limiter.len() >= MAX_KEYS {
            limiter.retain_recent();
            if limiter.len() >= MAX_KEYS {
                limiter = self.start_over(&limiter);
            }
        }
        limiter
            .check_key(key)
            .map(|state| state.remaining_burst_capacity())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// How long one more event takes to come back.
    pub fn refill(&self) -> Duration {
        self.quota.replenish_interval()
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.limiter().len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets the keys whose buckets have refilled, and gives the memory back.
    pub fn tidy(&self) {
        let limiter = self.limiter();
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }

    fn limiter(&self) -> Arc<Keyed<K>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn start_over(&self, full: &Arc<Keyed<K>>) -> Arc<Keyed<K>> {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        // Another thread may have started over already.
        if Arc::ptr_eq(&current, full) {
            tracing::warn!(
                keys = MAX_KEYS,
                "a rate limiter is full of recent senders; it starts over"
            );
            *current = Arc::new(keyed(self.quota));
        }
        current.clone()
    }
}

fn keyed<K: Hash + Eq + Clone>(quota: Quota) -> Keyed<K> {
    RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>()
}

/// The key of a client address: IPv4 as it is, IPv6 by its /64 (one subscriber's network).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

/// Every limit the web layer applies (the per-bin capture limit lives in the store's writer).
pub struct Limits {
    /// Bin creations per client address (`--create-limit`).
    pub create: Option<Limiter<IpAddr>>,
    /// Wrong access tokens per client address.
    pub guesses: Guesses,
}

impl Limits {
    pub fn from_config(config: &Config) -> Limits {
        Limits {
            create: config.create_limit.0.map(Limiter::new),
            guesses: Guesses::new(WRONG_TOKENS),
        }
    }

    /// Checks an access token from `client` with `check` (which says what the token opens, if
    /// anything), unless the address has guessed wrong too often lately: then the token is
    /// not even looked at until it may guess again.
    pub fn guess<T>(
        &self,
        client: Option<IpAddr>,
        check: impl FnOnce() -> Option<T>,
    ) -> Result<T, Refused> {
        let Some(client) = client.map(client_key) else {
            return check().ok_or(Refused {
                wrong: true,
                wait: None,
            });
        };
        if let Some(wait) = self.guesses.blocked(client) {
            return Err(Refused {
                wrong: false,
                wait: Some(wait),
            });
        }
        check().ok_or_else(|| {
            self.guesses.wrong(client);
            Refused {
                wrong: true,
                wait: None,
            }
        })
    }

    /// Forgets refilled keys in every limiter (run now and then).
    pub fn tidy(&self) {
        if let Some(create) = &self.create {
            create.tidy();
        }
        self.guesses.tidy();
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// The token was checked and is wrong (answer 401, worth a log line).
    pub wrong: bool,
    /// The token was not looked at: the address may not guess again for this long (answer
    /// 429).
    pub wait: Option<Duration>,
}

/// Wrong tokens per address, and the addresses that used up their allowance: those are
/// refused before their token is compared, so guessing goes no faster than the limit.
pub struct Guesses {
    wrong: Limiter<IpAddr>,
    blocked: Mutex<HashMap<IpAddr, Instant>>,
}

impl Guesses {
    fn new(rate: Rate) -> Guesses {
        Guesses {
            wrong: Limiter::new(rate),
            blocked: Mutex::new(HashMap::new()),
        }
    }

    /// How long `client` must still wait, if it is blocked.
    fn blocked(&self, client: IpAddr) -> Option<Duration> {
        let blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let until = *blocked.get(&client)?;
        until.checked_duration_since(Instant::now())
    }

    /// Counts a wrong token; once it has used up the address's allowance, the address is
    /// blocked until one more guess comes back.
    fn wrong(&self, client: IpAddr) {
        let wait = match self.wrong.check(&client) {
            Ok(0) => self.wrong.refill(),
            Ok(_) => return,
            Err(wait) => wait,
        };
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        if blocked.len() >= MAX_KEYS {
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
            if blocked.len() >= MAX_KEYS {
                blocked.clear();
            }
        }
        blocked.insert(client, Instant::now() + wait);
    }

    fn tidy(&self) {
        self.wrong.tidy();
        let now = Instant::now();
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        blocked.retain(|_, until| *until > now);
        blocked.shrink_to_fit();
    }
}

/// A client address for a log line (`unknown` when there is none).
pub fn shown(client: Option<IpAddr>) -> String {
    client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// Whole seconds to wait, rounded up, at least one: what `Retry-After` says.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_rate;

    #[test]
    fn the_limit_allows_its_count_then_says_how_long_to_wait() {
        let limiter = Limiter::new(parse_rate("3/h").unwrap());
        let me: IpAddr = "203.0.113.7".parse().unwrap();
        for _ in 0..3 {
            assert!(limiter.check(&me).is_ok());
        }
        let wait = limiter.check(&me).unwrap_err();
        // One event comes back every 20 minutes.
        assert!(wait > Duration::from_secs(19 * 60) && wait <= Duration::from_secs(20 * 60));
        assert_eq!(retry_after_secs(wait), wait.as_secs() + 1);
        let other: IpAddr = "203.0.113.8".parse().unwrap();
        assert!(limiter.check(&other).is_ok());
    }

    #[test]
    fn memory_stays_bounded_under_many_addresses() {
        let limiter = Limiter::new(parse_rate("60/h").unwrap());
        for n in 0..(3 * MAX_KEYS as u32) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n));
            let _ = limiter.check(&ip);
            assert!(limiter.len() <= MAX_KEYS);
        }
    }

    #[test]
    fn an_address_that_guessed_wrong_too_often_is_not_even_checked() {
        let limits = Limits {
            create: None,
            guesses: Guesses::new(parse_rate("3/m").unwrap()),
        };
        let me = Some("203.0.113.7".parse().unwrap());
        for _ in 0..3 {
            let refused = limits.guess(me, || None::<()>).unwrap_err();
            assert_eq!(
                refused,
                Refused {
                    wrong: true,
                    wait: None
                }
            );
        }
        // The allowance is used up: not even the right token is looked at until one more
        // guess comes back (20 s at 3 a minute).
        let mut looked = false;
        let refused = limits
            .guess(me, || {
                looked = true;
                Some(())
            })
            .unwrap_err();
        assert!(!looked && !refused.wrong);
        let wait = refused.wait.unwrap();
        assert!(
            wait > Duration::from_secs(19) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        // Another address, and the right token, are fine.
        assert_eq!(
            limits.guess(Some("203.0.113.8".parse().unwrap()), || Some(7)),
            Ok(7)
        );
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(client_key(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
    }
}
