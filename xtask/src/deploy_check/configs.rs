//! Agent configurations under `deploy/` validated by the real parser: `agentweave validate`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use super::Findings;

/// Runs the `agentweave` CLI on config texts written to a scratch folder.
pub(super) struct Validator {
    /// The built `agentweave` binary.
    pub(super) binary: PathBuf,
    /// Where texts are written before validation.
    pub(super) scratch: PathBuf,
}

impl Validator {
    /// Validates `text` (shown as `label`) as written and, when `also_production`, again with
    /// `environment` overridden to `production` (`AGENTWEAVE__ENVIRONMENT`), which proves the
    /// file relies on no development-only option.
    pub(super) fn check(
        &self,
        label: &str,
        text: &str,
        also_production: bool,
        findings: &mut Findings,
    ) -> anyhow::Result<()> {
        let file_name: String =
            label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let path = self.scratch.join(format!("{file_name}.yaml"));
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        let modes: &[Option<&str>] =
            if also_production { &[None, Some("production")] } else { &[None] };
        for environment in modes {
            let what = match environment {
                None => label.to_owned(),
                Some(env) => format!("{label} (environment forced to {env})"),
            };
            let (ok, message) = self.validate(&path, *environment)?;
            if ok {
                println!("    {what}: valid");
                continue;
            }
            findings.fail(format!("{what}: {}", message.trim()));
        }
        Ok(())
    }

    /// `(valid?, what the CLI printed)`; an exit code other than 0 or 1 is a fault of the check.
    fn validate(&self, path: &Path, environment: Option<&str>) -> anyhow::Result<(bool, String)> {
        let mut command = Command::new(&self.binary);
        command.arg("validate").arg(path);
        // The result must not depend on overrides in the caller's environment.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("AGENTWEAVE__") {
                command.env_remove(name);
            }
        }
        if let Some(environment) = environment {
            command.env("AGENTWEAVE__ENVIRONMENT", environment);
        }
        let output =
            command.output().with_context(|| format!("running {}", self.binary.display()))?;
        // The scratch file's name means nothing to the reader: the caller names the source.
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
        .replace(&format!("{}: ", path.display()), "");
        match output.status.code() {
            Some(0) => Ok((true, printed)),
            Some(1) => Ok((false, printed)),
            _ => anyhow::bail!("agentweave validate {} faulted: {printed}", path.display()),
        }
    }
}
