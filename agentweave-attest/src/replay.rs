//! Bounded, time-expiring memory of token ids already accepted.
//!
//! The reference rescans its whole issuance record on every signature, so its cost grows
//! with load. Here ids sit in time buckets keyed by when they expire: a check looks in a
//! handful of hash sets (O(1) each), and whole buckets are dropped once their expiry
//! passed, so memory holds only unexpired ids and never more than `max_entries`.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use crate::error::VerifyError;

/// A set of `(id, expiry)` pairs with O(1) checks and time-based eviction.
#[derive(Debug)]
pub struct ReplayCache {
    inner: Mutex<Inner>,
    bucket_secs: u64,
    max_entries: usize,
}

#[derive(Debug, Default)]
struct Inner {
    /// Sorted by bucket index; a bucket holds ids expiring within its span.
    buckets: VecDeque<(u64, HashSet<Box<str>>)>,
    len: usize,
}

impl ReplayCache {
    /// A cache whose buckets span `bucket_secs` seconds and that holds at most
    /// `max_entries` unexpired ids.
    pub fn new(bucket_secs: u64, max_entries: usize) -> Self {
        Self { inner: Mutex::new(Inner::default()), bucket_secs: bucket_secs.max(1), max_entries }
    }

    /// Number of ids currently remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|g| g.len).unwrap_or(0)
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records `id` until `expires_at`, or fails if it is already present (a replay) or
    /// the cache is full of unexpired ids (fail closed rather than forget one).
    pub fn check_and_insert(&self, id: &str, expires_at: u64, now: u64) -> Result<(), VerifyError> {
        let mut g = self.inner.lock().map_err(|_| VerifyError::ReplayCacheFull(0))?;
        // Drop buckets whose whole span has expired.
        while let Some((idx, set)) = g.buckets.front() {
            if (idx + 1).saturating_mul(self.bucket_secs) <= now {
                let n = set.len();
                g.buckets.pop_front();
                g.len -= n;
            } else {
                break;
            }
        }
        if g.buckets.iter().any(|(_, set)| set.contains(id)) {
            return Err(VerifyError::Replay(id.to_owned()));
        }
        if g.len >= self.max_entries {
            return Err(VerifyError::ReplayCacheFull(g.len));
        }
        let idx = expires_at / self.bucket_secs;
        let pos = g.buckets.partition_point(|(i, _)| *i < idx);
        match g.buckets.get_mut(pos) {
            Some((i, set)) if *i == idx => {
                set.insert(id.into());
            }
            _ => {
                let mut set = HashSet::new();
                set.insert(id.into());
                g.buckets.insert(pos, (idx, set));
            }
        }
        g.len += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_replay_and_forgets_after_expiry() {
        let c = ReplayCache::new(10, 100);
        c.check_and_insert("a", 1_000, 900).unwrap();
        assert_eq!(c.check_and_insert("a", 1_000, 950), Err(VerifyError::Replay("a".into())));
        // After its bucket expired, the id is forgotten (the token itself is expired then).
        c.check_and_insert("b", 2_000, 1_011).unwrap();
        assert_eq!(c.len(), 1);
        c.check_and_insert("a", 3_000, 1_011).unwrap();
    }

    #[test]
    fn full_cache_fails_closed() {
        let c = ReplayCache::new(10, 2);
        c.check_and_insert("a", 100, 0).unwrap();
        c.check_and_insert("b", 200, 0).unwrap();
        assert_eq!(c.check_and_insert("c", 100, 0), Err(VerifyError::ReplayCacheFull(2)));
        // Once the first buckets expire there is room again.
        c.check_and_insert("c", 300, 201).unwrap();
    }
}
