# AgentWeave starter policy: cross-trust-domain federation with per-partner actions.
#
# data.agentweave.federation.partners maps a partner trust domain to
#   {"inbound_actions": [...], "outbound_actions": [...], "agents": [...]?}
# Inbound: a caller from the partner domain may perform inbound_actions on us. Outbound: we may
# perform outbound_actions on agents of the partner domain. "agents", when present, limits the
# partner agents concerned (callers inbound, callees outbound). Unknown domains get nothing.
package agentweave.authz

grants contains sprintf("federation: partner %s may %s", [input.caller_trust_domain, input.action]) if {
	input.direction == "inbound"
	not same_trust_domain
	partner := data.agentweave.federation.partners[input.caller_trust_domain]
	input.action in object.get(partner, "inbound_actions", [])
	partner_agent_allowed(partner, caller_agent)
}

grants contains sprintf("federation: may %s partner %s", [input.action, input.callee_trust_domain]) if {
	input.direction == "outbound"
	not same_trust_domain
	partner := data.agentweave.federation.partners[input.callee_trust_domain]
	input.action in object.get(partner, "outbound_actions", [])
	partner_agent_allowed(partner, callee_agent)
}

partner_agent_allowed(partner, _) if {
	not "agents" in object.keys(partner)
}

partner_agent_allowed(partner, agent) if {
	agent in partner.agents
}
