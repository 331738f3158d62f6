//! The structural checks on the real `deploy/` files, and on copies with one defect each: every
//! defect must be reported (a check that cannot fail proves nothing).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Findings, structural};

/// A copy of the parts of the repository the structural checks read, in a fresh temp folder.
struct Copy {
    root: PathBuf,
}

impl Copy {
    fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "xtask-deploy-check-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        let source = crate::shell::project_root();
        for dir in ["deploy", "agentweave-authz/policies"] {
            copy_dir(&source.join(dir), &root.join(dir));
        }
        Copy { root }
    }

    /// Replaces the one occurrence of `from` in `file` by `to`.
    fn edit(&self, file: &str, from: &str, to: &str) {
        let path = self.root.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches(from).count(), 1, "{from:?} must occur once in {file}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    fn failures(&self) -> Vec<String> {
        let mut findings = Findings::default();
        structural(&self.root, &mut findings).unwrap();
        findings.failures
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn the_deploy_files_pass_the_structural_checks() {
    let mut findings = Findings::default();
    let (configs, compose_configs) =
        structural(&crate::shell::project_root(), &mut findings).unwrap();
    assert_eq!(findings.failures, Vec::<String>::new());
    let labels: Vec<&str> = configs.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "deploy/kubernetes/configmap.yaml#agent.yaml",
            "deploy/kubernetes/opa-sidecar/configmap.yaml#agent.yaml"
        ]
    );
    assert_eq!(compose_configs.len(), 3, "the three compose agents' configs: {compose_configs:?}");
}

#[test]
fn each_defect_is_reported() {
    // (file, text, replacement, expected in a failure message)
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "deploy/kubernetes/kustomization.yaml",
            "  - networkpolicy.yaml\n",
            "",
            "networkpolicy.yaml is not listed",
        ),
        (
            "deploy/kubernetes/kustomization.yaml",
            "  - service.yaml\n",
            "  - service.yaml\n  - missing.yaml\n",
            "resource missing.yaml does not exist",
        ),
        (
            "deploy/kubernetes/opa-sidecar/deployment.yaml",
            "        - name: tmp\n          emptyDir:\n            sizeLimit: 16Mi\n",
            "",
            "drops spec.template.spec.volumes[name=tmp]",
        ),
        (
            "deploy/kubernetes/opa-sidecar/deployment.yaml",
            "            - name: SPIFFE_ENDPOINT_SOCKET",
            "            - name: SPIFFE_ENDPOINT_SOCKET_X",
            "drops spec.template.spec.containers[agent].env[name=SPIFFE_ENDPOINT_SOCKET]",
        ),
        (
            "deploy/kubernetes/configmap.yaml",
            "      listen: 0.0.0.0:8443",
            "      listen: 0.0.0.0:8444",
            "container port a2a-mtls",
        ),
        (
            "deploy/kubernetes/deployment.yaml",
            "        prometheus.io/port: \"9090\"",
            "        prometheus.io/port: \"9091\"",
            "prometheus.io/port",
        ),
        (
            "deploy/kubernetes/deployment.yaml",
            "              path: /health/ready",
            "              path: /health/live",
            "readinessProbe must be GET /health/ready",
        ),
        (
            "deploy/kubernetes/deployment.yaml",
            "      serviceAccountName: search",
            "      serviceAccountName: payments",
            "service account \"payments\" does not match",
        ),
        (
            "deploy/kubernetes/deployment.yaml",
            "            driver: csi.spiffe.io",
            "            driver: secrets-store.csi.k8s.io",
            "must be a read-only csi.spiffe.io volume mount",
        ),
        (
            "deploy/kubernetes/opa-sidecar/configmap.yaml",
            "      url: http://127.0.0.1:8181",
            "      url: http://127.0.0.1:8282",
            "which no sidecar of the pod serves",
        ),
        (
            "deploy/kubernetes/opa-sidecar/configmap.yaml",
            "      json_logs: true",
            "      json_logs: false",
            "differs from deploy/kubernetes/configmap.yaml#agent.yaml in more than `authz`",
        ),
        (
            "deploy/kubernetes/policy-configmap.yaml",
            "default decision := {\"allow\": false,",
            "default decision := {\"allow\": true,",
            "key core.rego differs from agentweave-authz/policies/core.rego",
        ),
        (
            "deploy/compose/docker-compose.yml",
            "--serve=spiffe://example.org/agent/search=",
            "--serve=spiffe://example.org/agent/searcher=",
            "no identity server serves spiffe://example.org/agent/search",
        ),
        (
            "deploy/compose/docker-compose.yml",
            "      - audit:/var/lib/agentweave/audit\n    ports:\n      - \"127.0.0.1:9092:9090\"",
            "      - audits:/var/lib/agentweave/audit\n    ports:\n      - \"127.0.0.1:9092:9090\"",
            "named volume audits is not declared",
        ),
        (
            "deploy/compose/docker-compose.yml",
            "      - ./config/payments.yaml:",
            "      - ./config/payment.yaml:",
            "bind-mount source ./config/payment.yaml does not exist",
        ),
    ];
    for (file, from, to, expected) in cases {
        let copy = Copy::new();
        copy.edit(file, from, to);
        let failures = copy.failures();
        assert!(
            failures.iter().any(|f| f.contains(expected)),
            "editing {file} ({from:?} -> {to:?}): expected a failure containing {expected:?}, got {failures:#?}"
        );
    }
}
