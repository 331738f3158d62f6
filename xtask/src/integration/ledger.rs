//! What the audit files must hold at the end of the run: each call the scenarios make adds the
//! records its observed outcome implies (an allowed call: the caller's outbound allow and the
//! callee's inbound allow; a remote denial: an outbound allow and an inbound deny; a call that
//! never reached the callee: only the outbound record; ...). The check compares multisets per
//! file, so a missing record and a duplicated one both fail.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};

/// One audit record, reduced to what identifies the decision.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry {
    /// `outbound`, `inbound` or `guard`.
    pub(crate) kind: String,
    pub(crate) caller: String,
    pub(crate) callee: String,
    pub(crate) action: String,
    pub(crate) allowed: bool,
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |id: &str| id.rsplit('/').next().unwrap_or(id).to_owned();
        write!(
            f,
            "{} {} -> {} {} {}",
            self.kind,
            short(&self.caller),
            short(&self.callee),
            self.action,
            if self.allowed { "allow" } else { "deny" }
        )
    }
}

/// Expected records per audit file (by the file's stem: `search`, `cli-frontend`, ...).
#[derive(Default)]
pub(crate) struct Ledger {
    expected: BTreeMap<String, BTreeMap<Entry, usize>>,
}

impl Ledger {
    pub(crate) fn expect(
        &mut self,
        file: &str,
        kind: &str,
        caller: &str,
        callee: &str,
        action: &str,
        allowed: bool,
    ) {
        let entry = Entry {
            kind: kind.to_owned(),
            caller: super::mesh::spiffe_id(caller),
            callee: super::mesh::spiffe_id(callee),
            action: action.to_owned(),
            allowed,
        };
        *self.expected.entry(file.to_owned()).or_default().entry(entry).or_default() += 1;
    }

    /// How many records are expected in all.
    pub(crate) fn total(&self) -> usize {
        self.expected.values().flat_map(|m| m.values()).sum()
    }

    /// Reads every `<dir>/<file>.jsonl` and compares it with the expectations.
    pub(crate) fn check(&self, dir: &Path) -> anyhow::Result<usize> {
        let mut problems = Vec::new();
        let mut files: Vec<String> = self.expected.keys().cloned().collect();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if let Some(stem) = path.file_stem().and_then(|s| s.to_str())
                && !files.iter().any(|f| f == stem)
            {
                files.push(stem.to_owned());
            }
        }
        let mut seen = 0;
        for file in files {
            let actual = read(&dir.join(format!("{file}.jsonl")))?;
            seen += actual.values().sum::<usize>();
            let expected = self.expected.get(&file).cloned().unwrap_or_default();
            for (entry, want) in &expected {
                let got = actual.get(entry).copied().unwrap_or(0);
                if got != *want {
                    problems.push(format!("{file}: {entry}: expected {want}, found {got}"));
                }
            }
            for (entry, got) in &actual {
                if !expected.contains_key(entry) {
                    problems.push(format!("{file}: {entry}: expected none, found {got}"));
                }
            }
        }
        if !problems.is_empty() {
            bail!("the audit files do not match the decisions made:\n  {}", problems.join("\n  "));
        }
        Ok(seen)
    }
}

fn read(path: &Path) -> anyhow::Result<BTreeMap<Entry, usize>> {
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(out) };
    for (n, line) in text.lines().enumerate() {
        let record: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a JSON record", path.display(), n + 1))?;
        let field = |key: &str| record[key].as_str().unwrap_or_default().to_owned();
        let kind = match record["event"].as_str() {
            Some(event) => event.to_owned(),
            None => field("direction"),
        };
        let action =
            if record["action"].is_string() { field("action") } else { field("capability") };
        let Some(allowed) = record["allowed"].as_bool() else {
            bail!("{}:{}: record without a boolean `allowed`: {line}", path.display(), n + 1);
        };
        let entry =
            Entry { kind, caller: field("caller"), callee: field("callee"), action, allowed };
        *out.entry(entry).or_default() += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW: &str = r#"{"direction":"outbound","caller":"spiffe://example.org/agent/a","callee":"spiffe://example.org/agent/b","action":"x","allowed":true}"#;
    const GUARD: &str = r#"{"event":"guard","caller":"spiffe://example.org/agent/a","callee":"spiffe://example.org/agent/b","capability":"x","allowed":false}"#;

    fn check(lines: &[&str]) -> anyhow::Result<usize> {
        let dir = std::env::temp_dir().join(format!(
            "ledger-test-{}-{}",
            std::process::id(),
            lines.len()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("a.jsonl"), lines.join("\n"))?;
        let mut ledger = Ledger::default();
        ledger.expect("a", "outbound", "a", "b", "x", true);
        ledger.expect("a", "guard", "a", "b", "x", false);
        let result = ledger.check(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    #[test]
    fn exact_records_pass_and_missing_extra_or_duplicated_fail() {
        assert_eq!(check(&[ALLOW, GUARD]).unwrap(), 2);
        for (case, lines) in [
            ("missing", vec![ALLOW]),
            ("duplicated", vec![ALLOW, GUARD, GUARD]),
            ("unexpected", vec![ALLOW, GUARD, &ALLOW.replace("true", "false")]),
            ("not json", vec![ALLOW, GUARD, "{"]),
        ] {
            assert!(check(&lines).is_err(), "{case}");
        }
    }
}
