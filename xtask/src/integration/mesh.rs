//! The mesh under test: a dev identity server and three agents (orchestrator, search, payments),
//! each a separate `agentweave` process started from a config file written here, plus the
//! client identities that `agentweave call` runs as (frontend, orchestrator, mallory).
//!
//! Agents run with `environment: production`: their identities come from a Workload API socket
//! (the dev server plays the SPIRE agent), policy is a Rego file with hot reload, audit goes to a
//! file, and the production rules apply as they would in a deployment.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

use super::process::{Outcome, Service, run_bounded};

/// SVID lifetime for the whole run: every SVID renews at half of it (every 3 s), so every
/// scenario runs across rotations, and the rotation scenario checks that it happened.
pub(crate) const SVID_TTL_SECS: u64 = 6;
/// Consecutive failures that open an orchestrator breaker, and how long it stays open.
pub(crate) const BREAKER_FAILURES: u32 = 2;
pub(crate) const BREAKER_RECOVERY_MS: u64 = 1_500;

/// The grants of the whole mesh, by direction. Every agent loads its own copy of this file, so
/// that one agent's policy can change on disk while the others keep theirs.
pub(crate) const POLICY: &str = r#"package agentweave.authz

grants := {
  ["outbound", "orchestrator", "search",       "search.query"],
  ["inbound",  "orchestrator", "search",       "search.query"],
  ["outbound", "orchestrator", "payments",     "invoice.pay"],
  ["inbound",  "orchestrator", "payments",     "invoice.pay"],
  ["outbound", "frontend",     "orchestrator", "plan.trip"],
  ["inbound",  "frontend",     "orchestrator", "plan.trip"],
  ["outbound", "mallory",      "search",       "search.query"],
  ["outbound", "mallory",      "payments",     "invoice.pay"],
}

agent_name(id) := parts[4] if parts := split(id, "/")

default decision := {"allow": false, "reason": "default deny"}

decision := {"allow": true, "reason": "granted by the integration mesh policy"} if {
  [input.direction, agent_name(input.caller_spiffe_id), agent_name(input.callee_spiffe_id), input.action] in grants
}
"#;

/// Where each identity is served and each agent listens.
pub(crate) struct Mesh {
    pub(crate) dir: PathBuf,
    pub(crate) bin: PathBuf,
    pub(crate) ports: BTreeMap<&'static str, u16>,
    /// Each serving agent's plain operations port (health and metrics).
    pub(crate) ops_ports: BTreeMap<&'static str, u16>,
    pub(crate) identity_server: Option<Service>,
    pub(crate) agents: BTreeMap<&'static str, Service>,
}

/// Agents that serve; the rest of [`IDENTITIES`] only call.
pub(crate) const AGENTS: [&str; 3] = ["search", "payments", "orchestrator"];
pub(crate) const IDENTITIES: [&str; 5] =
    ["orchestrator", "search", "payments", "frontend", "mallory"];

pub(crate) fn spiffe_id(name: &str) -> String {
    format!("spiffe://example.org/agent/{name}")
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// How the authz section of an agent's config reads.
pub(crate) enum Authz {
    /// The agent's own copy of [`POLICY`], reloaded when it changes.
    Rego,
    /// OPA's REST API at this URL.
    Opa(String),
}

impl Mesh {
    pub(crate) fn new(dir: &Path, bin: &Path) -> anyhow::Result<Self> {
        let (mut ports, mut ops_ports) = (BTreeMap::new(), BTreeMap::new());
        for name in AGENTS {
            ports.insert(name, free_port()?);
            ops_ports.insert(name, free_port()?);
        }
        for sub in ["sockets", "logs", "audit", "config", "policy"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        for name in IDENTITIES {
            std::fs::write(dir.join(format!("policy/{name}.rego")), POLICY)?;
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            bin: bin.to_path_buf(),
            ports,
            ops_ports,
            identity_server: None,
            agents: BTreeMap::new(),
        })
    }

    pub(crate) fn socket(&self, name: &str) -> PathBuf {
        self.dir.join(format!("sockets/{name}.sock"))
    }

    pub(crate) fn policy_file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("policy/{name}.rego"))
    }

    /// The config file of a serving agent (`name`) or of `agentweave call` runs (`cli-<name>`).
    fn config_file(&self, file: &str) -> PathBuf {
        self.dir.join(format!("config/{file}.yaml"))
    }

    /// The audit file of a serving agent, or of `agentweave call` runs as `name` (`cli-<name>`).
    pub(crate) fn audit_file(&self, file: &str) -> PathBuf {
        self.dir.join(format!("audit/{file}.jsonl"))
    }

    fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// Starts the dev identity server with one socket per identity.
    pub(crate) fn start_identity_server(&mut self) -> anyhow::Result<()> {
        let mut command = Command::new(&self.bin);
        command.args(["dev", "identity-server", "--trust-domain", "example.org"]);
        command.args(["--svid-ttl-secs", &SVID_TTL_SECS.to_string()]);
        let mut sockets = Vec::new();
        for name in IDENTITIES {
            let socket = self.socket(name);
            command.arg("--serve").arg(format!("{}={}", spiffe_id(name), socket.display()));
            sockets.push(socket);
        }
        let mut server = Service::start("identity-server", command, &self.logs())?;
        server.wait_for_paths(&sockets, Duration::from_secs(20))?;
        self.identity_server = Some(server);
        Ok(())
    }

    /// Writes the config of `name`. `serving` agents get a listener, capabilities and peers;
    /// callers (`cli-<name>`) get the same identity with their own audit file.
    pub(crate) fn write_config(
        &self,
        name: &str,
        serving: bool,
        authz: &Authz,
    ) -> anyhow::Result<PathBuf> {
        let file_name = if serving { name.to_owned() } else { format!("cli-{name}") };
        let listen = match self.ports.get(name) {
            Some(port) if serving => format!("127.0.0.1:{port}"),
            _ => "127.0.0.1:0".to_owned(),
        };
        let authz = match authz {
            Authz::Rego => format!(
                "authz:\n  provider: rego\n  policies: [\"{}\"]\n  hot_reload: true\n",
                self.policy_file(name).display()
            ),
            Authz::Opa(url) => {
                format!("authz:\n  provider: opa\n  url: \"{url}\"\n  timeout_ms: 500\n")
            }
        };
        let mut peers = String::new();
        for peer in AGENTS.iter().filter(|p| **p != name) {
            let port = self.ports.get(peer).context("peer port")?;
            peers.push_str(&format!(
                "  - spiffe_id: {}\n    endpoint: https://127.0.0.1:{port}\n",
                spiffe_id(peer)
            ));
        }
        let capabilities = if serving { capabilities(name) } else { String::new() };
        let operations = match self.ops_ports.get(name) {
            Some(port) if serving => format!("operations:\n  listen: \"127.0.0.1:{port}\"\n"),
            _ => String::new(),
        };
        let yaml = format!(
            "environment: production
agent:
  name: {name}
  spiffe_id: {id}
identity:
  provider: workload-api
  endpoint: \"unix:{socket}\"
server:
  listen: \"{listen}\"
{operations}{authz}audit:
  sink: file
  path: \"{audit}\"
transport:
  connect_timeout_ms: 1000
  request_timeout_ms: 10000
  retry_attempts: 1
  breaker_failure_threshold: {BREAKER_FAILURES}
  breaker_recovery_timeout_ms: {BREAKER_RECOVERY_MS}
  breaker_success_threshold: 1
peers:
{peers}{capabilities}",
            id = spiffe_id(name),
            socket = self.socket(name).display(),
            audit = self.audit_file(&file_name).display(),
        );
        let path = self.config_file(&file_name);
        std::fs::write(&path, yaml)?;
        Ok(path)
    }

    /// Starts (or restarts) the serving agent `name` and waits for its ready line.
    pub(crate) fn start_agent(&mut self, name: &'static str, authz: &Authz) -> anyhow::Result<()> {
        let config = self.write_config(name, true, authz)?;
        let mut command = Command::new(&self.bin);
        command.arg("serve").arg(&config);
        let mut agent = Service::start(name, command, &self.logs())?;
        agent.wait_for_line("\"ready\"", Duration::from_secs(30))?;
        self.agents.insert(name, agent);
        let (status, body) = self.ops_get(name, "/health/ready")?;
        if status != 200 {
            bail!("{name} printed its ready line but /health/ready answers {status}: {body}");
        }
        Ok(())
    }

    /// Stops `name` with SIGTERM and checks that it exits 0 (a graceful stop).
    pub(crate) fn stop_agent(&mut self, name: &str) -> anyhow::Result<()> {
        let Some(agent) = self.agents.remove(name) else { bail!("{name} is not running") };
        let status = agent.terminate(Duration::from_secs(15))?;
        if !status.success() {
            bail!("{name} exited with {status} after SIGTERM; a graceful stop exits 0");
        }
        Ok(())
    }

    /// Kills `name` with SIGKILL, like a crash.
    pub(crate) fn kill_agent(&mut self, name: &str) -> anyhow::Result<()> {
        let Some(agent) = self.agents.remove(name) else { bail!("{name} is not running") };
        agent.kill();
        Ok(())
    }

    /// `agentweave call` as `caller` (its client config) to `target`'s `capability`.
    pub(crate) fn call(
        &self,
        caller: &str,
        target: &str,
        capability: &str,
        payload: &serde_json::Value,
        extra: &[&str],
    ) -> anyhow::Result<Outcome> {
        let config = self.config_file(&format!("cli-{caller}"));
        let mut command = Command::new(&self.bin);
        command.arg("call").arg("--config").arg(&config).args(extra);
        command.arg(spiffe_id(target)).arg(capability).arg(payload.to_string());
        run_bounded(command, Duration::from_secs(30))
            .with_context(|| format!("agentweave call as {caller} to {target} {capability}"))
    }

    /// The serial of the SVID currently served to `name`, via `agentweave identity show`.
    pub(crate) fn svid_serial(&self, name: &str) -> anyhow::Result<String> {
        let mut command = Command::new(&self.bin);
        command.args(["identity", "show", "--endpoint"]);
        command.arg(format!("unix:{}", self.socket(name).display()));
        let outcome = run_bounded(command, Duration::from_secs(20))?;
        outcome
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("serial: "))
            .map(str::to_owned)
            .with_context(|| format!("identity show printed no serial: {}", outcome.describe()))
    }
}

/// The capabilities each serving agent declares.
fn capabilities(name: &str) -> String {
    match name {
        "search" => "capabilities:
  - name: search.query
    description: Answers a query (echo handler)
    handler:
      kind: echo
"
        .to_owned(),
        "payments" => "capabilities:
  - name: invoice.pay
    description: Pays an invoice the finance guard verified (echo handler)
    guard_payload: finance
    handler:
      kind: echo
"
        .to_owned(),
        "orchestrator" => format!(
            "capabilities:
  - name: plan.trip
    description: Plans a trip by asking search (forward handler)
    handler:
      kind: forward
      target: {}
      capability: search.query
",
            spiffe_id("search")
        ),
        _ => String::new(),
    }
}

impl Mesh {
    /// `GET path` on `name`'s operations port: (status, body). Plain HTTP/1.0, no client needed.
    pub(crate) fn ops_get(&self, name: &str, path: &str) -> anyhow::Result<(u16, String)> {
        use std::io::{Read, Write};
        let port = self.ops_ports.get(name).with_context(|| format!("{name} has no ops port"))?;
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", *port))
            .with_context(|| format!("connecting to {name}'s operations port {port}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
        let mut text = String::new();
        stream.read_to_string(&mut text)?;
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("{name} {path}: not an HTTP answer: {text:.200}"))?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        Ok((status, body))
    }

    /// The value of the metric line that starts with `series` (name and labels) on `name`.
    pub(crate) fn metric(&self, name: &str, series: &str) -> anyhow::Result<f64> {
        let (status, body) = self.ops_get(name, "/metrics")?;
        if status != 200 {
            bail!("{name} /metrics answered {status}");
        }
        body.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
            .with_context(|| format!("{name} /metrics has no {series}"))
    }
}
