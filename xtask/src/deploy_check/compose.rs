//! `deploy/compose/docker-compose.yml`: what the Compose schema cannot see.
//!
//! * bind-mount sources exist (relative to the compose file) and named volumes are declared;
//! * `depends_on` names services that exist;
//! * every agent's `SPIFFE_ENDPOINT_SOCKET` is a socket the dev identity server serves, for the
//!   SPIFFE ID the agent's config declares (otherwise the agent would get another identity and
//!   refuse to start);
//! * every agent config mounted at `/etc/agentweave/agent.yaml` is returned for validation.

use std::path::{Component, Path, PathBuf};

use serde_yaml_ng::Value;

use super::Findings;
use super::yaml::{at, documents, seq_at, shown, str_at};

/// Where agents read their config in the container (the `serve` argument).
const CONFIG_IN_CONTAINER: &str = "/etc/agentweave/agent.yaml";

/// Checks `compose_file`; returns the agent config files it mounts.
pub(super) fn check(
    root: &Path,
    compose_file: &Path,
    findings: &mut Findings,
) -> anyhow::Result<Vec<PathBuf>> {
    let here = compose_file.parent().unwrap_or(root);
    let label = shown(root, compose_file);
    let Some(compose) = documents(compose_file)?.into_iter().next() else {
        findings.fail(format!("{label}: empty"));
        return Ok(Vec::new());
    };
    let services = at(&compose, &["services"]).and_then(Value::as_mapping);
    let Some(services) = services else {
        findings.fail(format!("{label}: no services"));
        return Ok(Vec::new());
    };
    let declared_volumes = at(&compose, &["volumes"]).and_then(Value::as_mapping);
    let served = served_sockets(services);
    let mut configs = Vec::new();
    for (name, service) in services {
        let name = name.as_str().unwrap_or("?");
        let mut fail =
            |message: String| findings.fail(format!("{label}: service {name}: {message}"));
        let mut config_file = None;
        for volume in seq_at(service, &["volumes"]) {
            let Some(spec) = volume.as_str() else {
                fail("only short volume syntax (source:target[:mode]) is checked".into());
                continue;
            };
            let mut parts = spec.split(':');
            let (source, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            if source.starts_with('.') || source.starts_with('/') {
                // `./config/x.yaml` → `<here>/config/x.yaml` (no `.` component in messages).
                let path: PathBuf = here
                    .components()
                    .chain(Path::new(source).components().filter(|c| *c != Component::CurDir))
                    .collect();
                if !path.exists() {
                    fail(format!("bind-mount source {source} does not exist"));
                } else if target == CONFIG_IN_CONTAINER {
                    config_file = Some(path);
                }
            } else if !declared_volumes.is_some_and(|v| v.contains_key(source)) {
                fail(format!("named volume {source} is not declared under `volumes:`"));
            }
        }
        let dependencies: Vec<&str> = match at(service, &["depends_on"]) {
            Some(Value::Mapping(map)) => map.keys().filter_map(Value::as_str).collect(),
            Some(Value::Sequence(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for dependency in dependencies {
            if !services.contains_key(dependency) {
                fail(format!("depends_on {dependency}, which is not a service"));
            }
        }
        let serves = seq_at(service, &["command"]).first().and_then(Value::as_str) == Some("serve");
        if !serves {
            continue;
        }
        let Some(config_file) = config_file else {
            fail(format!("runs `serve` but mounts no config at {CONFIG_IN_CONTAINER}"));
            continue;
        };
        let config = documents(&config_file)?.into_iter().next().unwrap_or(Value::Null);
        let spiffe_id = str_at(&config, &["agent", "spiffe_id"]).unwrap_or("");
        let socket = str_at(service, &["environment", "SPIFFE_ENDPOINT_SOCKET"])
            .and_then(|s| s.strip_prefix("unix://"));
        match socket {
            None => fail("SPIFFE_ENDPOINT_SOCKET is not a unix:// socket".into()),
            Some(path) if !served.iter().any(|(id, s)| id == spiffe_id && s == path) => {
                fail(format!(
                    "no identity server serves {spiffe_id} (agent.spiffe_id of {}) on {path}",
                    shown(root, &config_file)
                ));
            }
            Some(_) => {}
        }
        configs.push(config_file);
    }
    Ok(configs)
}

/// `(SPIFFE ID, socket path)` of every `--serve=ID=SOCKET` of a `dev identity-server` command.
fn served_sockets(services: &serde_yaml_ng::Mapping) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for service in services.values() {
        let command: Vec<&str> =
            seq_at(service, &["command"]).iter().filter_map(Value::as_str).collect();
        if command.get(..2) != Some(&["dev", "identity-server"][..]) {
            continue;
        }
        for argument in command {
            if let Some((id, socket)) =
                argument.strip_prefix("--serve=").and_then(|rest| rest.split_once('='))
            {
                out.push((id.to_owned(), socket.to_owned()));
            }
        }
    }
    out
}
