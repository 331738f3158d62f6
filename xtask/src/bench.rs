//! `cargo xtask bench <name>`: load runs that need a release build and a whole process (criterion
//! benches live under each crate's `benches/`). Each one measures its baseline in the same
//! process and run, prints figures and ratios, and fails when a target is missed (`--strict`).
//!
//! | name | binary | baseline in the same run |
//! | --- | --- | --- |
//! | `transport` | `agentweave-transport` example `bench-transport` | plain-TCP HTTP and bare rustls handshakes |
//! | `e2e` | `agentweave` example `bench-e2e` | a bare hyper + rustls mTLS echo server |

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// One load binary: the package and example that hold it, and the features it needs.
struct Bench {
    name: &'static str,
    package: &'static str,
    example: &'static str,
    features: &'static str,
}

const BENCHES: &[Bench] = &[
    Bench {
        name: "transport",
        package: "agentweave-transport",
        example: "bench-transport",
        features: "test-util",
    },
    Bench { name: "e2e", package: "agentweave", example: "bench-e2e", features: "" },
];

/// The names `cargo xtask bench` accepts, for help and error text.
pub(crate) fn names() -> String {
    BENCHES.iter().map(|b| b.name).collect::<Vec<_>>().join(", ")
}

/// Builds and runs the bench `name` in release mode from the workspace `root`, passing `extra`
/// arguments through (e.g. `--quick`). Fails when the build or the binary fails, or a target is
/// missed.
pub(crate) fn run(root: &Path, name: &str, extra: &[String]) -> anyhow::Result<()> {
    let Some(bench) = BENCHES.iter().find(|b| b.name == name) else {
        bail!("unknown bench {name:?}: expected one of {}", names());
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.current_dir(root).args(["run", "--release", "--package", bench.package]);
    if !bench.features.is_empty() {
        command.args(["--features", bench.features]);
    }
    command.args(["--example", bench.example, "--", "--strict"]).args(extra);
    let status = command.status().with_context(|| format!("cannot start cargo for {name}"))?;
    if !status.success() {
        bail!("bench {name} failed ({status}); see its output above");
    }
    Ok(())
}
