//! `deploy/kubernetes/`: what the schema validator cannot see.
//!
//! * Kustomizations: every listed resource and patch exists, and every manifest beside a
//!   kustomization is listed (nothing is left out of `kubectl apply -k` by accident).
//! * Overlay patches are complete objects that keep every field and list entry of the base object
//!   they patch, so that the rendered object is the patch file itself (which the schema validator
//!   checked) — no kustomize binary is needed to know what gets applied.
//! * Each rendering (the base, each overlay) agrees with its agent config: ports, probes, the
//!   scrape annotation, the service account that SPIRE registration turns into the SPIFFE ID, the
//!   Workload API socket mount, the OPA sidecar address.
//! * The policy ConfigMap holds exact copies of the policy sources.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_yaml_ng::Value;

use super::Findings;
use super::yaml::{at, documents, documents_of, object_key, seq_at, shown, str_at};

/// Lists whose entries strategic merge matches by a key, by the list's field name and the key
/// its entries carry (the other lists are replaced whole): container and Service ports differ.
const MERGE_KEYS: &[(&str, &str)] = &[
    ("containers", "name"),
    ("initContainers", "name"),
    ("volumes", "name"),
    ("env", "name"),
    ("ports", "containerPort"),
    ("ports", "port"),
    ("volumeMounts", "mountPath"),
];

/// The ConfigMap holding the policy, and where each of its keys comes from.
const POLICY_CONFIGMAP: &str = "agentweave-policy";
const POLICY_SOURCES: &[(&str, &str)] = &[
    ("core.rego", "agentweave-authz/policies/core.rego"),
    ("role_matrix.rego", "agentweave-authz/policies/role_matrix.rego"),
    ("federation.rego", "agentweave-authz/policies/federation.rego"),
    ("data.json", "deploy/policy/data.json"),
];

/// One `kubectl apply -k` target: its folder and the objects it renders.
pub(super) struct Rendering {
    /// The kustomization folder.
    pub(super) dir: PathBuf,
    /// Rendered objects by `kind/namespace/name`, each with the file it comes from.
    pub(super) objects: BTreeMap<String, (PathBuf, Value)>,
}

/// Checks every kustomization under `kube_dir` and renders each (resources, then patches, which
/// must be complete objects covering the base). Returns the renderings for the other checks.
pub(super) fn kustomizations(
    root: &Path,
    kube_dir: &Path,
    findings: &mut Findings,
) -> anyhow::Result<Vec<Rendering>> {
    let mut renderings = Vec::new();
    let mut dirs: Vec<PathBuf> = super::yaml::files_under(kube_dir)?
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "kustomization.yaml"))
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    // Bases before the overlays that include them (shorter paths first).
    dirs.sort_by_key(|d| d.components().count());
    for dir in dirs {
        let objects = render(root, &dir, findings)?;
        renderings.push(Rendering { dir, objects });
    }
    Ok(renderings)
}

fn render(
    root: &Path,
    dir: &Path,
    findings: &mut Findings,
) -> anyhow::Result<BTreeMap<String, (PathBuf, Value)>> {
    let kustomization_path = dir.join("kustomization.yaml");
    let docs = documents(&kustomization_path)?;
    let Some(kustomization) = docs.first() else {
        findings.fail(format!("{}: empty", shown(root, &kustomization_path)));
        return Ok(BTreeMap::new());
    };
    let mut listed: Vec<PathBuf> = vec![kustomization_path.clone()];
    let mut objects = BTreeMap::new();
    for entry in seq_at(kustomization, &["resources"]) {
        let Some(name) = entry.as_str() else {
            findings.fail(format!("{}: a resource is not a string", shown(root, dir)));
            continue;
        };
        let path = dir.join(name);
        if path.is_dir() {
            if !path.join("kustomization.yaml").is_file() {
                findings.fail(format!(
                    "{}: resource {name} is a folder without kustomization.yaml",
                    shown(root, &kustomization_path)
                ));
                continue;
            }
            objects.extend(render(root, &path, &mut Findings::default())?);
        } else if path.is_file() {
            listed.push(path.clone());
            for object in documents(&path)? {
                objects.insert(object_key(&object), (path.clone(), object));
            }
        } else {
            findings.fail(format!(
                "{}: resource {name} does not exist",
                shown(root, &kustomization_path)
            ));
        }
    }
    for patch in seq_at(kustomization, &["patches"]) {
        let Some(name) = str_at(patch, &["path"]) else {
            findings.fail(format!(
                "{}: only `patches: [{{path: …}}]` entries are supported by this check",
                shown(root, &kustomization_path)
            ));
            continue;
        };
        let path = dir.join(name);
        if !path.is_file() {
            findings
                .fail(format!("{}: patch {name} does not exist", shown(root, &kustomization_path)));
            continue;
        }
        listed.push(path.clone());
        for object in documents(&path)? {
            let key = object_key(&object);
            match objects.get(&key) {
                None => findings.fail(format!(
                    "{}: patches {key}, which the base does not define",
                    shown(root, &path)
                )),
                Some((_, base)) => {
                    let mut missing = Vec::new();
                    uncovered(base, &object, "", &mut missing);
                    for field in missing {
                        findings.fail(format!(
                            "{}: drops {field} of the base {key}; the patch must keep everything of the base so that it is the rendered object",
                            shown(root, &path)
                        ));
                    }
                }
            }
            objects.insert(key, (path.clone(), object));
        }
    }
    for file in std::fs::read_dir(dir)? {
        let path = file?.path();
        let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if is_yaml && !listed.contains(&path) {
            findings.fail(format!(
                "{} is not listed in {}",
                shown(root, &path),
                shown(root, &kustomization_path)
            ));
        }
    }
    Ok(objects)
}

/// Fields and keyed list entries of `base` that `patch` does not have (strategic merge would keep
/// them, so the rendered object would differ from the patch file).
fn uncovered(base: &Value, patch: &Value, path: &str, out: &mut Vec<String>) {
    match (base, patch) {
        (Value::Mapping(b), Value::Mapping(p)) => {
            for (key, b_value) in b {
                let name = key.as_str().unwrap_or("?");
                let here = if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") };
                match p.get(key) {
                    None => out.push(here),
                    Some(p_value) => uncovered(b_value, p_value, &here, out),
                }
            }
        }
        (Value::Sequence(b), Value::Sequence(p)) => {
            let last = path.rsplit('.').next().unwrap_or(path);
            for b_item in b {
                let Some((_, merge_key)) = MERGE_KEYS
                    .iter()
                    .find(|(list, key)| *list == last && b_item.get(*key).is_some())
                else {
                    return; // replaced whole by the patch
                };
                let id = b_item.get(*merge_key);
                match p.iter().find(|p_item| p_item.get(*merge_key) == id) {
                    None => out.push(format!("{path}[{merge_key}={}]", scalar(id))),
                    Some(p_item) => {
                        uncovered(b_item, p_item, &format!("{path}[{}]", scalar(id)), out);
                    }
                }
            }
        }
        _ => {} // a scalar or a different type: the patch's value replaces the base's
    }
}

fn scalar(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "?".into(),
    }
}

/// An agent config found in a rendering: the label for messages and the YAML text.
pub(super) struct AgentConfigText {
    /// `file#key` for messages.
    pub(super) label: String,
    /// The agent.yaml text.
    pub(super) text: String,
}

/// Checks each Deployment of `rendering` against the agent config its pod mounts, and returns
/// those configs.
pub(super) fn consistency(
    root: &Path,
    rendering: &Rendering,
    findings: &mut Findings,
) -> anyhow::Result<Vec<AgentConfigText>> {
    let mut configs = Vec::new();
    let where_ = shown(root, &rendering.dir);
    for (key, (_, deployment)) in &rendering.objects {
        if !key.starts_with("Deployment/") {
            continue;
        }
        let mut fail = |message: String| findings.fail(format!("{where_}: {key}: {message}"));
        let pod = at(deployment, &["spec", "template", "spec"]).unwrap_or(&Value::Null);
        let Some(agent) = seq_at(pod, &["containers"])
            .iter()
            .find(|c| seq_at(c, &["args"]).first().and_then(Value::as_str) == Some("serve"))
        else {
            fail("no container runs `agentweave serve`".into());
            continue;
        };
        let namespace = str_at(deployment, &["metadata", "namespace"]).unwrap_or("");
        let Some((config_file, config_key, config_text)) =
            mounted_agent_config(rendering, namespace, pod, agent)
        else {
            fail("its agent container mounts no ConfigMap key at the path `serve` reads".into());
            continue;
        };
        let config_label = format!("{}#{config_key}", shown(root, &config_file));
        let config = documents_of(&config_text)
            .with_context(|| format!("parsing {config_label}"))?
            .into_iter()
            .next()
            .unwrap_or(Value::Null);
        let port_of = |name: &str| {
            seq_at(agent, &["ports"])
                .iter()
                .find(|p| str_at(p, &["name"]) == Some(name))
                .and_then(|p| at(p, &["containerPort"]))
                .and_then(Value::as_u64)
        };
        let listen_port = |path: &[&str]| {
            str_at(&config, path)
                .and_then(|l| l.rsplit(':').next())
                .and_then(|p| p.parse::<u64>().ok())
        };
        let mtls = listen_port(&["server", "listen"]);
        if port_of("a2a-mtls").is_none() || port_of("a2a-mtls") != mtls {
            fail(format!(
                "container port a2a-mtls {:?} differs from server.listen's port {mtls:?}",
                port_of("a2a-mtls")
            ));
        }
        let ops = listen_port(&["operations", "listen"]);
        if port_of("ops").is_none() || port_of("ops") != ops {
            fail(format!(
                "container port ops {:?} differs from operations.listen's port {ops:?}",
                port_of("ops")
            ));
        }
        let annotated = str_at(
            deployment,
            &["spec", "template", "metadata", "annotations", "prometheus.io/port"],
        );
        if annotated.and_then(|p| p.parse::<u64>().ok()) != ops {
            fail(format!("prometheus.io/port {annotated:?} is not the operations port {ops:?}"));
        }
        for (probe, path) in [
            ("startupProbe", "/health/live"),
            ("livenessProbe", "/health/live"),
            ("readinessProbe", "/health/ready"),
        ] {
            let get = at(agent, &[probe, "httpGet"]);
            let ok = get.is_some_and(|g| {
                str_at(g, &["path"]) == Some(path) && str_at(g, &["port"]) == Some("ops")
            });
            if !ok {
                fail(format!("{probe} must be GET {path} on port ops"));
            }
        }
        let spiffe_id = str_at(&config, &["agent", "spiffe_id"]).unwrap_or("");
        let account = str_at(pod, &["serviceAccountName"]).unwrap_or("");
        if !spiffe_id.ends_with(&format!("/agent/{account}")) || account.is_empty() {
            fail(format!(
                "service account {account:?} does not match agent.spiffe_id {spiffe_id:?}: SPIRE registration (deploy/spire/) issues spiffe://<td>/agent/<service account>"
            ));
        }
        check_socket(pod, agent, &mut fail);
        if str_at(&config, &["authz", "provider"]) == Some("opa") {
            let address = str_at(&config, &["authz", "url"])
                .and_then(|u| u.strip_prefix("http://"))
                .unwrap_or("");
            let served = seq_at(pod, &["containers"]).iter().any(|c| {
                seq_at(c, &["args"])
                    .iter()
                    .any(|a| a.as_str() == Some(&format!("--addr={address}")))
            });
            if !served || !address.starts_with("127.0.0.1:") {
                fail(format!(
                    "authz.url points at {address:?}, which no sidecar of the pod serves with --addr on the loopback"
                ));
            }
        }
        configs.push(AgentConfigText { label: config_label, text: config_text });
    }
    Ok(configs)
}

/// The agent.yaml the `serve` argument names, from the ConfigMap (plain or projected) volume
/// mounted over it: the manifest file, the key and the text.
fn mounted_agent_config(
    rendering: &Rendering,
    namespace: &str,
    pod: &Value,
    agent: &Value,
) -> Option<(PathBuf, String, String)> {
    let wanted = seq_at(agent, &["args"]).get(1)?.as_str()?;
    for mount in seq_at(agent, &["volumeMounts"]) {
        let Some(relative) = str_at(mount, &["mountPath"])
            .and_then(|m| wanted.strip_prefix(m))
            .and_then(|r| r.strip_prefix('/'))
        else {
            continue;
        };
        let Some(volume) = seq_at(pod, &["volumes"])
            .iter()
            .find(|v| str_at(v, &["name"]) == str_at(mount, &["name"]))
        else {
            continue;
        };
        let mut sources: Vec<&Value> = seq_at(volume, &["projected", "sources"])
            .iter()
            .filter_map(|s| s.get("configMap"))
            .collect();
        sources.extend(volume.get("configMap"));
        for source in sources {
            let items = seq_at(source, &["items"]);
            let key = if items.is_empty() {
                Some(relative)
            } else {
                items
                    .iter()
                    .find(|i| str_at(i, &["path"]) == Some(relative))
                    .and_then(|i| str_at(i, &["key"]))
            };
            let (Some(key), Some(name)) = (key, str_at(source, &["name"])) else { continue };
            if let Some((file, map)) =
                rendering.objects.get(&format!("ConfigMap/{namespace}/{name}"))
                && let Some(text) = str_at(map, &["data", key])
            {
                return Some((file.clone(), key.to_owned(), text.to_owned()));
            }
        }
    }
    None
}

/// SPIFFE_ENDPOINT_SOCKET is set to a unix socket inside a read-only mount of the SPIFFE CSI
/// driver's volume.
fn check_socket(pod: &Value, agent: &Value, fail: &mut impl FnMut(String)) {
    let socket = seq_at(agent, &["env"])
        .iter()
        .find(|e| str_at(e, &["name"]) == Some("SPIFFE_ENDPOINT_SOCKET"))
        .and_then(|e| str_at(e, &["value"]));
    let Some(path) = socket.and_then(|s| s.strip_prefix("unix://")) else {
        fail(format!("SPIFFE_ENDPOINT_SOCKET {socket:?} is not a unix:// socket"));
        return;
    };
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    let mount =
        seq_at(agent, &["volumeMounts"]).iter().find(|m| str_at(m, &["mountPath"]) == Some(dir));
    let volume = mount.and_then(|m| {
        seq_at(pod, &["volumes"]).iter().find(|v| str_at(v, &["name"]) == str_at(m, &["name"]))
    });
    let csi = volume.and_then(|v| str_at(v, &["csi", "driver"]));
    let read_only = mount.and_then(|m| at(m, &["readOnly"])).and_then(Value::as_bool) == Some(true);
    if csi != Some("csi.spiffe.io") || !read_only {
        fail(format!(
            "the folder of SPIFFE_ENDPOINT_SOCKET ({dir}) must be a read-only csi.spiffe.io volume mount"
        ));
    }
}

/// The policy ConfigMap's keys are byte-for-byte copies of their sources.
pub(super) fn policy_copies(
    root: &Path,
    rendering: &Rendering,
    findings: &mut Findings,
) -> anyhow::Result<()> {
    let Some((file, map)) = rendering
        .objects
        .iter()
        .find(|(k, _)| k.starts_with("ConfigMap/") && k.ends_with(&format!("/{POLICY_CONFIGMAP}")))
        .map(|(_, v)| v)
    else {
        findings.fail(format!("{}: no ConfigMap {POLICY_CONFIGMAP}", shown(root, &rendering.dir)));
        return Ok(());
    };
    let data = at(map, &["data"]).and_then(Value::as_mapping);
    let keys: Vec<&str> =
        data.map(|d| d.keys().filter_map(Value::as_str).collect()).unwrap_or_default();
    for key in &keys {
        if !POLICY_SOURCES.iter().any(|(k, _)| k == key) {
            findings.fail(format!("{}: key {key} has no source file (add it to POLICY_SOURCES in xtask/src/deploy_check/kube.rs)", shown(root, file)));
        }
    }
    for (key, source) in POLICY_SOURCES {
        let wanted = std::fs::read_to_string(root.join(source))
            .with_context(|| format!("reading {source}"))?;
        match str_at(map, &["data", key]) {
            None => findings
                .fail(format!("{}: key {key} (a copy of {source}) is missing", shown(root, file))),
            Some(text) if text != wanted => findings.fail(format!(
                "{}: key {key} differs from {source}; copy the source again",
                shown(root, file)
            )),
            Some(_) => {}
        }
    }
    Ok(())
}

/// An overlay's agent.yaml differs from its base's only in `authz` (the OPA sidecar variant).
pub(super) fn only_authz_differs(
    base: &AgentConfigText,
    overlay: &AgentConfigText,
    findings: &mut Findings,
) -> anyhow::Result<()> {
    let strip = |text: &str| -> anyhow::Result<Value> {
        let mut value: Value = serde_yaml_ng::from_str(text)?;
        if let Value::Mapping(map) = &mut value {
            map.remove("authz");
        }
        Ok(value)
    };
    if strip(&base.text)? != strip(&overlay.text)? {
        findings
            .fail(format!("{} differs from {} in more than `authz`", overlay.label, base.label));
    }
    Ok(())
}
