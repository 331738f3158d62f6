//! Built-in handlers for the capabilities a config file declares (`capabilities:`), so that
//! `agentweave serve` runs a real agent from a file alone. One file per `handler.kind`:
//!
//! | kind | does |
//! | --- | --- |
//! | `echo` | answers `{"capability", "caller", "input"}` ([`echo`]) |
//! | `http` | POSTs the payload to a local business service ([`http`]) |
//! | `forward` | calls another agent through this agent's `call` ([`forward`]) |
//!
//! Every handler runs after the agent's pipeline: the caller was proven by mTLS and allowed by
//! policy, and a guarded payload was verified. `forward` needs the running agent to call out;
//! since capabilities are built before the agent exists, it reaches the agent through an
//! [`AgentSlot`] that is filled once the agent has started:
//!
//! ```no_run
//! # async fn run(config: agentweave::AgentConfig) -> Result<(), Box<dyn std::error::Error>> {
//! use agentweave::handlers::{AgentSlot, capabilities};
//! use agentweave::SecureAgent;
//!
//! let slot = AgentSlot::default();
//! let agent = SecureAgent::from_config(&config, capabilities(&config, &slot)?).await?;
//! slot.attach(&agent);
//! # Ok(()) }
//! ```

pub mod echo;
pub mod forward;
pub mod http;

use std::sync::{Arc, OnceLock};

use agentweave_identity::SpiffeId;

use crate::agent::{AgentHandle, Capability, SecureAgent};
use crate::config::{AgentConfig, CapabilitySection, ConfigError, HandlerSection};

/// Where `forward` handlers find the agent that runs them: empty until
/// [`AgentSlot::attach`], and weak afterwards (a stopped agent is not kept alive by its own
/// handlers). Clones share the slot.
#[derive(Clone, Debug, Default)]
pub struct AgentSlot(Arc<OnceLock<AgentHandle>>);

impl AgentSlot {
    /// Makes `agent` the one `forward` handlers call through. Only the first call has an effect
    /// (returns false afterwards): a handler never switches agents.
    pub fn attach(&self, agent: &SecureAgent) -> bool {
        self.0.set(agent.handle()).is_ok()
    }

    /// The attached agent, if any.
    pub fn handle(&self) -> Option<&AgentHandle> {
        self.0.get()
    }
}

/// The capabilities `config.capabilities` declares, with their handlers. The config must have
/// been validated (loading does it); a value that still cannot be used names its key path.
pub fn capabilities(
    config: &AgentConfig,
    slot: &AgentSlot,
) -> Result<Vec<Capability>, ConfigError> {
    config
        .capabilities
        .iter()
        .enumerate()
        .map(|(i, section)| capability(section, slot, &format!("capabilities[{i}]")))
        .collect()
}

/// One configured capability; `path` is its key path for errors.
pub fn capability(
    section: &CapabilitySection,
    slot: &AgentSlot,
    path: &str,
) -> Result<Capability, ConfigError> {
    let name = section.name.clone();
    let capability = match &section.handler {
        HandlerSection::Echo {} => echo::capability(&name),
        HandlerSection::Http { url, timeout_ms } => {
            let handler = http::HttpHandler::new(url, *timeout_ms)
                .map_err(|message| ConfigError::invalid(format!("{path}.handler.url"), message))?;
            http::capability(&name, handler)
        }
        HandlerSection::Forward { target, capability } => {
            let target = SpiffeId::parse(target).map_err(|e| {
                ConfigError::invalid(format!("{path}.handler.target"), format!("{target:?}: {e}"))
            })?;
            forward::capability(&name, slot.clone(), target, capability.clone())
        }
    };
    let capability = capability.description(section.description.clone());
    Ok(match section.guard_payload {
        Some(payload) => capability.guard_payload(payload.payload_type()),
        None => capability,
    })
}
