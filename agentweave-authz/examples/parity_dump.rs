//! Evaluates every case file of a folder with regorus and prints the decisions as one JSON
//! document, the same shape `parity/opa_eval.py` prints with OPA's engine; `cargo xtask
//! authz-parity` compares the two.
//!
//! Usage: `cargo run -p agentweave-authz --example parity-dump -- <case-dir> [--bench N]`

use std::path::{Path, PathBuf};
use std::time::Instant;

use agentweave_authz::cases::CaseFile;
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let case_dir = PathBuf::from(
        args.first()
            .cloned()
            .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/policies/tests").into()),
    );
    let bench: usize = match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("--bench"), Some(n)) => n.parse()?,
        _ => 0,
    };
    let mut names: Vec<PathBuf> = std::fs::read_dir(&case_dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    let mut files = serde_json::Map::new();
    let mut bench_result = serde_json::Value::Null;
    for path in &names {
        let file = CaseFile::load(path)?;
        let set = file.policy_set(path.parent().unwrap_or(Path::new(".")))?;
        let results: Vec<serde_json::Value> = file
            .cases
            .iter()
            .map(|case| match set.evaluate_json(&case.input) {
                Ok((allow, reason)) => {
                    json!({"name": case.name, "allow": allow, "reason": &*reason, "fault": null})
                }
                Err(fault) => {
                    json!({"name": case.name, "allow": false, "reason": null, "fault": fault})
                }
            })
            .collect();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if bench > 0 && name == "role_matrix.json" {
            // The same loop as the Python side: one engine, inputs cycled, JSON input per call.
            // (Parity itself used a fresh engine per case above, as `PolicySet::evaluate_json` does.)
            let inputs: Vec<&serde_json::Value> = file.cases.iter().map(|c| &c.input).collect();
            let mut evaluator = set.evaluator();
            let start = Instant::now();
            for i in 0..bench {
                if let Some(input) = inputs.get(i % inputs.len().max(1)) {
                    std::hint::black_box(evaluator.evaluate_json(input).ok());
                }
            }
            bench_result = json!({"decisions": bench, "seconds": start.elapsed().as_secs_f64()});
        }
        files.insert(name, serde_json::Value::Array(results));
    }
    println!("{}", json!({"engine": "regorus", "files": files, "bench": bench_result}));
    Ok(())
}
