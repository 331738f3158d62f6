//! `cargo xtask interop`: the interop suites on their own. Each is a cargo integration test (so
//! `cargo xtask ci` runs them too) that installs its peer into an ignored folder on first use and
//! skips, printing why, only when python3 or node/npm is missing.
//!
//! | suite | peer | direction |
//! | --- | --- | --- |
//! | `agentweave-a2a` `interop` | Python `a2a-sdk` | its client -> our server |
//! | `agentweave-a2a` `client_interop` | Python `a2a-sdk` | our client -> its server |
//! | `agentweave-identity` `workload_api` | Python `spiffe`, the Rust `spiffe` crate | clients of the dev Workload API |
//! | `agentweave` `interop_js` | JS `@a2a-js/sdk` over mTLS | both directions |

use std::path::Path;

use crate::shell;

/// The test targets; their names are unique in the workspace.
const SUITES: &[&str] = &["interop", "client_interop", "workload_api", "interop_js"];

pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    // --workspace --all-features: the same feature set as `cargo xtask ci`, so its build is reused.
    let mut args = vec!["test", "--workspace", "--all-features"];
    for test in SUITES {
        args.extend(["--test", test]);
    }
    // With --nocapture the skip reasons (no python3, no node) reach the terminal.
    args.extend(["--", "--nocapture"]);
    shell::run_with_env(root, "interop suites", "cargo", &args, crate::ci::NO_INCREMENTAL)
}
