//! Retry timing: exponential backoff with full jitter (the delay before retry `n` is uniform in
//! `[0, min(max, initial * 2^n)]`), which spreads retries of many clients instead of synchronising
//! them.

use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};

/// Retry settings. Defaults: 3 attempts in all, backoff from 1 s doubling up to 30 s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts in all, the first included (1 disables retries).
    pub max_attempts: u32,
    /// Backoff ceiling before the first retry.
    pub initial_backoff: Duration,
    /// Largest backoff ceiling.
    pub max_backoff: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetryConfig {
    /// The same config with other values.
    pub fn with(max_attempts: u32, initial_backoff: Duration, max_backoff: Duration) -> Self {
        Self { max_attempts, initial_backoff, max_backoff }
    }

    /// The ceiling of the delay before retry number `retry` (0 for the first retry).
    pub(crate) fn ceiling(&self, retry: u32) -> Duration {
        let factor = 2u32.checked_pow(retry.min(31)).unwrap_or(u32::MAX);
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }

    /// A full-jitter delay before retry number `retry`.
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        let mut bytes = [0u8; 8];
        // If the system RNG fails (it does not on supported platforms), waiting the full ceiling
        // is the safe choice: slower, never a retry storm.
        if SystemRandom::new().fill(&mut bytes).is_err() {
            return ceiling;
        }
        Duration::from_nanos(u64::from_le_bytes(bytes) % (nanos + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_and_cap() {
        let c = RetryConfig::default();
        let got: Vec<u64> = (0..7).map(|n| c.ceiling(n).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(c.ceiling(200), Duration::from_secs(30), "no overflow");
    }

    #[test]
    fn delays_stay_within_the_ceiling_and_vary() {
        let c = RetryConfig::with(3, Duration::from_millis(100), Duration::from_millis(400));
        let delays: Vec<Duration> = (0..64).map(|_| c.delay(2)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(400)));
        let first = delays[0];
        assert!(delays.iter().any(|d| *d != first), "full jitter must vary");
    }
}
