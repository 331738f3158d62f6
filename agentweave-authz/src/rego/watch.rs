//! Background polling of policy sources for hot reload.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::RegoEnforcer;

/// Keeps a policy watcher running; dropping it stops the watcher (and waits for its thread).
#[derive(Debug)]
pub struct WatchHandle {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl WatchHandle {
    /// Stops watching.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        // Closing the channel wakes the thread at once.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("policy watcher thread panicked");
        }
    }
}

pub(super) fn spawn(
    enforcer: RegoEnforcer,
    interval: Duration,
) -> Result<WatchHandle, crate::AuthzError> {
    let (stop, stopped) = mpsc::channel::<()>();
    let spawned =
        std::thread::Builder::new().name("agentweave-authz-watch".into()).spawn(move || {
            loop {
                match stopped.recv_timeout(interval) {
                    Err(RecvTimeoutError::Timeout) => {
                        // Errors are logged and recorded in the status by `reload` itself.
                        let _outcome = enforcer.reload();
                    }
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        });
    let thread =
        spawned.map_err(|source| crate::AuthzError::Spawn { what: "policy watcher", source })?;
    Ok(WatchHandle { stop: Some(stop), thread: Some(thread) })
}
