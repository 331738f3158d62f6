//! Wall-clock source, injectable so expiry logic can be tested without sleeping.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Returns the current Unix time in seconds, or `None` if the clock is before 1970.
pub type Clock = Arc<dyn Fn() -> Option<u64> + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| SystemTime::now().duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs()))
}
