//! The task state machine.

use crate::types::TaskState;

/// A refused transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid task transition from {from} to {to}")]
pub struct InvalidTransition {
    /// Current state.
    pub from: TaskState,
    /// Requested state.
    pub to: TaskState,
}

/// Checks a transition.
///
/// - Terminal states (completed, failed, canceled, rejected) are final.
/// - `UNSPECIFIED` is never a valid target.
/// - `SUBMITTED` is only an initial state: nothing moves back to it.
/// - Otherwise any non-terminal state may move to any state, including itself (progress
///   updates while working, a second input request while input-required).
pub fn check_transition(from: TaskState, to: TaskState) -> Result<(), InvalidTransition> {
    let ok = !from.is_terminal()
        && from != TaskState::Unspecified
        && to != TaskState::Unspecified
        && (to != TaskState::Submitted || from == TaskState::Submitted);
    if ok { Ok(()) } else { Err(InvalidTransition { from, to }) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskState::*;

    #[test]
    fn transition_table() {
        let all = TaskState::ALL;
        for &from in all {
            for &to in all {
                let want = match (from, to) {
                    (Unspecified, _) | (_, Unspecified) => false,
                    (Completed | Failed | Canceled | Rejected, _) => false,
                    (Submitted, Submitted) => true,
                    (_, Submitted) => false,
                    _ => true,
                };
                assert_eq!(check_transition(from, to).is_ok(), want, "{from} -> {to}");
            }
        }
    }
}
