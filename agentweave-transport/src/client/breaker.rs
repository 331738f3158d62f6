//! A circuit breaker per peer: after repeated failures, calls are refused without touching the
//! network until a recovery timeout passes; then single probes decide whether to close again.
//!
//! ```text
//! Closed --(failure_threshold consecutive failures)--> Open
//! Open --(recovery_timeout elapsed; next call becomes a probe)--> HalfOpen
//! HalfOpen --(success_threshold successful probes)--> Closed
//! HalfOpen --(a probe fails)--> Open
//! ```
//! In half-open, one probe is in flight at a time; other calls are refused meanwhile.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Circuit breaker thresholds. Defaults: 5 failures, 30 s, 2 successes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open before a probe is let through.
    pub recovery_timeout: Duration,
    /// Successful probes in half-open that close the circuit.
    pub success_threshold: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            recovery_timeout: Duration::from_secs(30),
            success_threshold: 2,
        }
    }
}

impl BreakerConfig {
    /// The same config with other thresholds.
    pub fn with(
        failure_threshold: u32,
        recovery_timeout: Duration,
        success_threshold: u32,
    ) -> Self {
        Self { failure_threshold, recovery_timeout, success_threshold }
    }
}

/// The state of a peer's circuit.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitState {
    /// Calls flow; failures are counted.
    Closed,
    /// Calls are refused until the recovery timeout passes.
    Open,
    /// Probes decide whether to close or open again.
    HalfOpen,
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { successes: u32, probing: bool },
}

/// One peer's breaker.
#[derive(Debug)]
pub(crate) struct Breaker {
    config: BreakerConfig,
    state: Mutex<State>,
}

/// Permission to make one call; report its outcome with [`Admission::record`]. Dropped without a
/// record (the call was cancelled), it frees the probe slot without counting anything.
#[derive(Debug)]
pub(crate) struct Admission {
    breaker: Arc<Breaker>,
    probe: bool,
    recorded: bool,
}

impl Breaker {
    pub(crate) fn new(config: BreakerConfig) -> Self {
        Self { config, state: Mutex::new(State::Closed { failures: 0 }) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a single assignment, so a poisoned lock still holds a valid state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn state(&self) -> CircuitState {
        match *self.lock() {
            State::Closed { .. } => CircuitState::Closed,
            State::Open { .. } => CircuitState::Open,
            State::HalfOpen { .. } => CircuitState::HalfOpen,
        }
    }

    /// Admits a call, or says how long until the circuit lets one through.
    pub(crate) fn admit(self: &Arc<Self>) -> Result<Admission, Duration> {
        let now = Instant::now();
        let mut state = self.lock();
        let probe = match &mut *state {
            State::Closed { .. } => false,
            State::Open { until } if now < *until => return Err(*until - now),
            State::Open { .. } => {
                tracing::info!("circuit half-open: letting a probe through");
                *state = State::HalfOpen { successes: 0, probing: true };
                true
            }
            State::HalfOpen { probing: true, .. } => return Err(Duration::ZERO),
            State::HalfOpen { probing, .. } => {
                *probing = true;
                true
            }
        };
        Ok(Admission { breaker: self.clone(), probe, recorded: false })
    }
}

impl Admission {
    /// Reports the outcome of the admitted call.
    pub(crate) fn record(mut self, success: bool) {
        self.recorded = true;
        let config = &self.breaker.config;
        let mut state = self.breaker.lock();
        let next = match (&*state, self.probe, success) {
            (State::Closed { .. }, false, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false, false) => {
                let failures = failures.saturating_add(1);
                if failures >= config.failure_threshold {
                    tracing::warn!(failures, "circuit opened");
                    State::Open { until: Instant::now() + config.recovery_timeout }
                } else {
                    State::Closed { failures }
                }
            }
            (State::HalfOpen { successes, .. }, true, true) => {
                let successes = successes.saturating_add(1);
                if successes >= config.success_threshold {
                    tracing::info!("circuit closed after successful probes");
                    State::Closed { failures: 0 }
                } else {
                    State::HalfOpen { successes, probing: false }
                }
            }
            (State::HalfOpen { .. }, true, false) => {
                tracing::warn!("probe failed; circuit open again");
                State::Open { until: Instant::now() + config.recovery_timeout }
            }
            // A call admitted under an earlier state finished after the state moved on: its
            // outcome says nothing about the current phase.
            _ => return,
        };
        *state = next;
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if self.probe
            && !self.recorded
            && let State::HalfOpen { probing, .. } = &mut *self.breaker.lock()
        {
            *probing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Arc<Breaker> {
        Arc::new(Breaker::new(BreakerConfig::with(3, Duration::from_secs(10), 2)))
    }

    #[tokio::test(start_paused = true)]
    async fn walks_closed_open_half_open_closed() {
        let b = breaker();
        for _ in 0..2 {
            b.admit().unwrap().record(false);
        }
        assert_eq!(b.state(), CircuitState::Closed, "below the threshold");
        b.admit().unwrap().record(false);
        assert_eq!(b.state(), CircuitState::Open);
        assert!(b.admit().is_err(), "refused while open");
        tokio::time::advance(Duration::from_secs(11)).await;
        let probe = b.admit().unwrap();
        assert_eq!(b.state(), CircuitState::HalfOpen);
        assert_eq!(b.admit().unwrap_err(), Duration::ZERO, "one probe at a time");
        probe.record(true);
        assert_eq!(b.state(), CircuitState::HalfOpen, "one success of two");
        b.admit().unwrap().record(true);
        assert_eq!(b.state(), CircuitState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_reopens_and_a_success_resets_the_count() {
        let b = breaker();
        b.admit().unwrap().record(false);
        b.admit().unwrap().record(false);
        b.admit().unwrap().record(true);
        b.admit().unwrap().record(false);
        assert_eq!(b.state(), CircuitState::Closed, "failures must be consecutive");
        b.admit().unwrap().record(false);
        b.admit().unwrap().record(false);
        assert_eq!(b.state(), CircuitState::Open);
        tokio::time::advance(Duration::from_secs(11)).await;
        b.admit().unwrap().record(false);
        assert_eq!(b.state(), CircuitState::Open);
        assert!(b.admit().unwrap_err() > Duration::from_secs(9), "a fresh recovery timeout");
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_probe_frees_the_slot() {
        let b = breaker();
        for _ in 0..3 {
            b.admit().unwrap().record(false);
        }
        tokio::time::advance(Duration::from_secs(11)).await;
        drop(b.admit().unwrap());
        assert!(b.admit().is_ok(), "the next call may probe");
    }
}
