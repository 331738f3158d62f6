//! A bounded decision cache with a time to live, keyed by the policy input's fields that the
//! policy version can read (all of them for OPA, whose policy the SDK does not see; see
//! `rego::reads` for the in-process enforcer). The trace ID is never part of the key.
//!
//! Sharded so concurrent checks rarely contend on one lock; each shard is a plain map whose
//! entries hold the input (its keyed fields compared on a hit, so a hash collision is a miss,
//! never a wrong decision) and the policy version that produced them (a hit under another
//! version is a miss; the fields keyed belong to the version, so they agree within a version).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::input::PolicyInput;
use crate::input_mask::InputMask;

const SHARDS: usize = 16;

/// Decision cache settings. The in-process Rego enforcer caches by default (`RegoConfig::new`
/// says why that is exact); the OPA enforcer only when configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// How many decisions to keep at most (over all shards).
    pub capacity: usize,
    /// How long a decision stays valid. Keep it short: a revoked permission stays in force for
    /// up to this long (a policy reload clears the cache at once).
    pub ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self { capacity: 10_000, ttl: Duration::from_secs(5) }
    }
}

impl CacheConfig {
    pub(crate) fn validate(&self) -> Result<(), crate::AuthzError> {
        if self.capacity == 0 {
            return Err(crate::AuthzError::Config {
                field: "cache.capacity",
                message: "must be at least 1 (leave the cache unset to disable it)".into(),
            });
        }
        if self.ttl.is_zero() {
            return Err(crate::AuthzError::Config {
                field: "cache.ttl",
                message: "must be longer than zero".into(),
            });
        }
        Ok(())
    }
}

/// What a hit yields: everything of a decision except its (per-decision) audit ID.
#[derive(Debug, Clone)]
pub(crate) struct Cached {
    pub(crate) allowed: bool,
    pub(crate) reason: Arc<str>,
    pub(crate) policy_id: Arc<str>,
}

#[derive(Debug)]
struct Entry {
    input: PolicyInput,
    version: u64,
    expires: Instant,
    value: Cached,
}

#[derive(Debug)]
pub(crate) struct DecisionCache {
    shards: Box<[Mutex<HashMap<u64, Entry>>]>,
    per_shard: usize,
    ttl: Duration,
    hasher: RandomState,
}

impl DecisionCache {
    pub(crate) fn new(config: CacheConfig) -> Self {
        let per_shard = config.capacity.div_ceil(SHARDS).max(1);
        let shards = (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect();
        Self { shards, per_shard, ttl: config.ttl, hasher: RandomState::new() }
    }

    fn key(&self, input: &PolicyInput, mask: &InputMask) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        input.hash_view(mask, &mut hasher);
        hasher.finish()
    }

    fn shard(&self, key: u64) -> Option<&Mutex<HashMap<u64, Entry>>> {
        // The modulo keeps the index in range; `get` keeps clippy's no-indexing rule honest.
        self.shards.get((key % SHARDS as u64) as usize)
    }

    /// The cached decision for `input` under policy `version` (which reads the fields in
    /// `mask`), if fresh.
    pub(crate) fn get(
        &self,
        input: &PolicyInput,
        version: u64,
        mask: &InputMask,
    ) -> Option<Cached> {
        let key = self.key(input, mask);
        let shard = self.shard(key)?;
        // A poisoned shard (a panic while holding it) is treated as a miss: correctness over speed.
        let map = shard.lock().ok()?;
        let entry = map.get(&key)?;
        if entry.version == version
            && entry.expires > Instant::now()
            && entry.input.eq_view(input, mask)
        {
            Some(entry.value.clone())
        } else {
            None
        }
    }

    /// Remembers a decision. Bounded: when a shard is full, expired and stale entries go first,
    /// then an arbitrary eighth of the shard (amortised O(1) per insert).
    pub(crate) fn insert(
        &self,
        input: &PolicyInput,
        version: u64,
        mask: &InputMask,
        value: Cached,
    ) {
        let key = self.key(input, mask);
        let Some(shard) = self.shard(key) else { return };
        let Ok(mut map) = shard.lock() else { return };
        let now = Instant::now();
        if map.len() >= self.per_shard && !map.contains_key(&key) {
            map.retain(|_, e| e.expires > now && e.version == version);
            if map.len() >= self.per_shard {
                let evict = (self.per_shard / 8).max(1);
                let victims: Vec<u64> = map.keys().take(evict).copied().collect();
                for victim in victims {
                    map.remove(&victim);
                }
            }
        }
        let mut stored = input.clone();
        stored.clear_trace_id();
        map.insert(key, Entry { input: stored, version, expires: now + self.ttl, value });
    }

    /// Drops everything (policy reload).
    pub(crate) fn clear(&self) {
        for shard in self.shards.iter() {
            if let Ok(mut map) = shard.lock() {
                map.clear();
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map(|m| m.len()).unwrap_or(0)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{AuthzContext, Direction};
    use agentweave_identity::SpiffeId;

    const ALL: InputMask = InputMask::ALL;

    fn input(action: &str) -> PolicyInput {
        PolicyInput::new(
            Direction::Inbound,
            SpiffeId::parse("spiffe://a.org/agent/x").unwrap(),
            SpiffeId::parse("spiffe://a.org/agent/y").unwrap(),
            action,
            AuthzContext::for_method("SendMessage"),
        )
    }

    fn value(allowed: bool) -> Cached {
        Cached { allowed, reason: Arc::from("r"), policy_id: Arc::from("p") }
    }

    #[test]
    fn hit_miss_version_and_expiry() {
        let cache = DecisionCache::new(CacheConfig { capacity: 100, ttl: Duration::from_secs(60) });
        cache.insert(&input("a"), 1, &ALL, value(true));
        assert!(cache.get(&input("a"), 1, &ALL).is_some_and(|c| c.allowed));
        assert!(cache.get(&input("b"), 1, &ALL).is_none(), "other input");
        assert!(cache.get(&input("a"), 2, &ALL).is_none(), "other policy version");
        let mut traced = input("a");
        traced.context_mut().trace_id = Some("t".into());
        assert!(cache.get(&traced, 1, &ALL).is_some(), "trace id is not part of the key");
        cache.clear();
        assert!(cache.get(&input("a"), 1, &ALL).is_none());

        let short = DecisionCache::new(CacheConfig { capacity: 10, ttl: Duration::from_millis(1) });
        short.insert(&input("a"), 1, &ALL, value(true));
        std::thread::sleep(Duration::from_millis(5));
        assert!(short.get(&input("a"), 1, &ALL).is_none(), "expired");
    }

    #[test]
    fn stays_bounded() {
        let cache = DecisionCache::new(CacheConfig { capacity: 64, ttl: Duration::from_secs(60) });
        for i in 0..10_000 {
            cache.insert(&input(&format!("action-{i}")), 1, &ALL, value(i % 2 == 0));
        }
        assert!(cache.len() <= 64, "{}", cache.len());
        // Whatever survived is still correct.
        for i in 0..10_000 {
            if let Some(hit) = cache.get(&input(&format!("action-{i}")), 1, &ALL) {
                assert_eq!(hit.allowed, i % 2 == 0);
            }
        }
    }

    #[test]
    fn invalid_configs_are_refused() {
        assert!(CacheConfig { capacity: 0, ttl: Duration::from_secs(1) }.validate().is_err());
        assert!(CacheConfig { capacity: 1, ttl: Duration::ZERO }.validate().is_err());
        assert!(CacheConfig::default().validate().is_ok());
    }
}
