//! `cargo xtask deploy-check`: everything under `deploy/` that can be checked without a cluster or
//! Docker.
//!
//! | what | how |
//! | --- | --- |
//! | Kubernetes manifests (`deploy/kubernetes/**`) | `kubernetes-validate --strict` (PyPI) against each of [`KUBERNETES_VERSIONS`]; a manifest of an unknown kind fails |
//! | kustomizations, overlay patches, manifests against their agent config, policy copies | [`kube`] |
//! | `deploy/compose/docker-compose.yml` | the Compose Specification schema that `check-jsonschema` (PyPI) ships, then [`compose`] |
//! | every agent config (compose files, the ConfigMaps' `agent.yaml`) | the real parser: `agentweave validate` (compose configs also with environment forced to production) |
//! | the deployment's policy | `agentweave authz test deploy/policy/mesh_cases.json` |
//! | SPIRE registration | the ClusterSPIFFEID's fields against the controller's documented spec; `sh -n` on register.sh |
//!
//! The Python tools live in `<root>/.venv-deploy`, pinned; without python3 the two schema steps
//! are skipped with a printed reason and the rest still runs. Every check runs; the failures are
//! reported together at the end.

mod compose;
mod configs;
mod kube;
mod yaml;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::{shell, venv};

/// Kubernetes versions the manifests must validate against: the oldest we support, and a recent
/// one (both bundled with the pinned kubernetes-validate).
const KUBERNETES_VERSIONS: &[&str] = &["1.30.0", "1.34.0"];

/// The venv and its pinned tools.
const VENV: &str = ".venv-deploy";
const REQUIREMENTS: &[&str] = &["kubernetes-validate==1.37.0", "check-jsonschema==0.39.0"];

/// Fields of a ClusterSPIFFEID spec (spire-controller-manager's docs/clusterspiffeid-crd.md).
const CLUSTER_SPIFFE_ID_FIELDS: &[&str] = &[
    "spiffeIDTemplate",
    "podSelector",
    "namespaceSelector",
    "dnsNameTemplates",
    "workloadSelectorTemplates",
    "ttl",
    "jwtTtl",
    "federatesWith",
    "admin",
    "downstream",
    "autoPopulateDNSNames",
    "fallback",
    "className",
];

/// What the checks found: failures fail the task; notes are printed.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    failures: Vec<String>,
    notes: Vec<String>,
}

impl Findings {
    fn fail(&mut self, message: String) {
        self.failures.push(message);
    }
    fn note(&mut self, message: String) {
        self.notes.push(message);
    }
}

/// Runs every check on `<root>/deploy`.
pub(crate) fn run(root: &Path) -> anyhow::Result<()> {
    let deploy = root.join("deploy");
    let kube_dir = deploy.join("kubernetes");
    let compose_file = deploy.join("compose/docker-compose.yml");
    let mut findings = Findings::default();

    let venv = if venv::python3_available() {
        Some(venv::ensure(root, VENV, REQUIREMENTS, &[])?)
    } else {
        println!("SKIP schema validation (Kubernetes and Compose): python3 not found");
        findings.note("schemas not checked: python3 not found".into());
        None
    };

    println!("==> deploy-check: Kubernetes manifests and the compose file against their schemas");
    let manifests: Vec<PathBuf> = yaml::files_under(&kube_dir)?
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    if let Some(venv) = &venv {
        kubernetes_schema(root, venv, &manifests, &mut findings)?;
        compose_schema(root, venv, &compose_file, &mut findings)?;
    }
    println!(
        "==> deploy-check: kustomizations, overlays, manifests against agent configs, compose"
    );
    let (agent_configs, compose_configs) = structural(root, &mut findings)?;

    println!("==> deploy-check: agent configs with `agentweave validate`, policy cases");
    let binary = shell::agentweave_cli(root)?;
    let scratch = shell::target_dir(root).join("deploy-check");
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let validator = configs::Validator { binary: binary.clone(), scratch };
    for config in &agent_configs {
        validator.check(&config.label, &config.text, false, &mut findings)?;
    }
    for path in &compose_configs {
        let text = std::fs::read_to_string(path)?;
        validator.check(&yaml::shown(root, path), &text, true, &mut findings)?;
    }
    let cases = deploy.join("policy/mesh_cases.json");
    let output = Command::new(&binary)
        .args(["authz", "test", "deploy/policy/mesh_cases.json"])
        .current_dir(root)
        .output()?;
    print!("    {}", String::from_utf8_lossy(&output.stdout));
    if !output.status.success() {
        findings.fail(format!(
            "{}: {}{}",
            yaml::shown(root, &cases),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }

    println!("==> deploy-check: SPIRE registration");
    spire(root, &deploy.join("spire"), &mut findings)?;

    for note in &findings.notes {
        println!("NOTE {note}");
    }
    for failure in &findings.failures {
        eprintln!("FAIL {failure}");
    }
    if !findings.failures.is_empty() {
        bail!("{} problem(s) under deploy/", findings.failures.len());
    }
    println!("deploy-check: all deployment files check out");
    Ok(())
}

/// The checks that need neither Python nor the CLI (see [`kube`] and [`compose`]); returns the
/// agent configs found in the Kubernetes renderings and the compose file's config files.
fn structural(
    root: &Path,
    findings: &mut Findings,
) -> anyhow::Result<(Vec<kube::AgentConfigText>, Vec<PathBuf>)> {
    let deploy = root.join("deploy");
    let renderings = kube::kustomizations(root, &deploy.join("kubernetes"), findings)?;
    let mut per_rendering = Vec::new();
    for rendering in &renderings {
        kube::policy_copies(root, rendering, findings)?;
        per_rendering.push(kube::consistency(root, rendering, findings)?);
    }
    // The first rendering is the base (kustomizations() sorts bases first); the others are its
    // overlays, which may change only `authz`.
    if let [base, overlays @ ..] = per_rendering.as_slice()
        && let Some(base) = base.first()
    {
        for overlay in overlays.iter().flatten() {
            kube::only_authz_differs(base, overlay, findings)?;
        }
    }
    let compose_configs =
        compose::check(root, &deploy.join("compose/docker-compose.yml"), findings)?;
    Ok((per_rendering.into_iter().flatten().collect(), compose_configs))
}

/// `kubernetes-validate --strict` on every manifest, once per version. Warnings fail too: the
/// validator only warns when it has no schema for a kind, which here means a typo or a resource
/// that belongs elsewhere (CRDs live in deploy/spire/).
fn kubernetes_schema(
    root: &Path,
    venv: &Path,
    manifests: &[PathBuf],
    findings: &mut Findings,
) -> anyhow::Result<()> {
    for version in KUBERNETES_VERSIONS {
        let output = Command::new(venv.join("bin/kubernetes-validate"))
            .args(["--strict", "--kubernetes-version", version])
            .args(manifests)
            .current_dir(root)
            .output()
            .context("running kubernetes-validate")?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let passed =
            text.lines().filter(|l| l.starts_with("INFO") && l.contains(" passed ")).count();
        for line in text.lines().filter(|l| !l.starts_with("INFO")) {
            findings.fail(format!(
                "Kubernetes {version}: {}",
                line.replace(&root.display().to_string(), "")
            ));
        }
        if !output.status.success() && !text.lines().any(|l| l.starts_with("ERROR")) {
            findings.fail(format!("kubernetes-validate failed ({}): {text}", output.status));
        }
        println!("    Kubernetes {version}: {passed} of {} manifests valid", manifests.len());
    }
    Ok(())
}

/// The compose file against the Compose Specification schema vendored in check-jsonschema.
fn compose_schema(
    root: &Path,
    venv: &Path,
    compose_file: &Path,
    findings: &mut Findings,
) -> anyhow::Result<()> {
    let output = Command::new(venv.join("bin/check-jsonschema"))
        .args(["--builtin-schema", "vendor.compose-spec"])
        .arg(compose_file)
        .output()
        .context("running check-jsonschema")?;
    if output.status.success() {
        println!("    {}: valid (Compose Specification schema)", yaml::shown(root, compose_file));
    } else {
        findings.fail(format!(
            "{} against the Compose Specification: {}{}",
            yaml::shown(root, compose_file),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// The ClusterSPIFFEID uses only documented fields and issues agent IDs; register.sh parses.
fn spire(root: &Path, dir: &Path, findings: &mut Findings) -> anyhow::Result<()> {
    let file = dir.join("clusterspiffeid.yaml");
    for object in yaml::documents(&file)? {
        let label = yaml::shown(root, &file);
        if yaml::str_at(&object, &["apiVersion"]) != Some("spire.spiffe.io/v1alpha1")
            || yaml::str_at(&object, &["kind"]) != Some("ClusterSPIFFEID")
        {
            findings.fail(format!("{label}: not a spire.spiffe.io/v1alpha1 ClusterSPIFFEID"));
            continue;
        }
        let spec = yaml::at(&object, &["spec"]).and_then(serde_yaml_ng::Value::as_mapping);
        for key in spec.into_iter().flat_map(|s| s.keys()) {
            let key = key.as_str().unwrap_or("?");
            if !CLUSTER_SPIFFE_ID_FIELDS.contains(&key) {
                findings.fail(format!("{label}: spec.{key} is not a ClusterSPIFFEID field"));
            }
        }
        let template = yaml::str_at(&object, &["spec", "spiffeIDTemplate"]).unwrap_or("");
        if !template.starts_with("spiffe://{{ .TrustDomain }}/agent/") {
            findings.fail(format!("{label}: spiffeIDTemplate {template:?} does not issue agent IDs (spiffe://<td>/agent/<name>)"));
        }
    }
    let script = dir.join("register.sh");
    let status = Command::new("sh").arg("-n").arg(&script).status().context("running sh -n")?;
    if !status.success() {
        findings.fail(format!("{}: shell syntax error", yaml::shown(root, &script)));
    }
    println!("    {}: checked", yaml::shown(root, dir));
    Ok(())
}
