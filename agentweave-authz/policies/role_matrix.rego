# AgentWeave starter policy: a role matrix keyed on the /agent/<name> segment.
#
# data.agentweave.roles.agents maps an agent name to its roles; data.agentweave.roles.actions maps
# a role to the actions it may perform. Optional data.agentweave.roles.callees maps a role to the
# agent names it may call (absent: any agent of the same trust domain). Only within one trust
# domain: callers from other trust domains go through the federation module.
#
# Data is read by exact path (never through `data` as a whole, which would include this package
# and make the rules recursive for OPA); a missing entry is undefined, so it grants nothing.
package agentweave.authz

# The caller's roles (a helper for other modules; the grants below read the data directly).
caller_roles contains role if {
	some role in data.agentweave.roles.agents[caller_agent]
}

# The grant, written twice with the same meaning: both bodies ask "same trust domain, callee an
# agent, a role of the caller's agent name allows the action, and the role may call the callee".
#
# The first is the fast path for well-formed input (`structural_ok`, see core.rego): both trust
# domains are then non-empty strings equal to those of the IDs and the IDs' first three segments
# are checked, so only the agent shape is left to test: segment 3 is "agent", segment 4 (the
# name) is not empty, and there are 5 or 6 segments (`not parts[6]`, as split parts are strings).
# One rule body instead of the helper rules it replaces, because regorus pays for every rule and
# function it enters (the equivalence tests compare both bodies on every kind of input).
grants contains sprintf("role %s of %s allows %s", [role, caller_parts[4], input.action]) if {
	structural_ok
	input.caller_trust_domain == input.callee_trust_domain
	caller_parts[3] == "agent"
	caller_parts[4] != ""
	not caller_parts[6]
	callee_parts[3] == "agent"
	callee_parts[4] != ""
	not callee_parts[6]
	some role in data.agentweave.roles.agents[caller_parts[4]]
	input.action in data.agentweave.roles.actions[role]
	role_may_call(role, callee_parts[4])
}

# The same grant through the shared helpers, for any other input (which may still be allowed when
# no denial applies, e.g. without trust domain fields: `same_trust_domain` then refuses it).
grants contains sprintf("role %s of %s allows %s", [role, caller_agent, input.action]) if {
	not structural_ok
	same_trust_domain
	callee_agent
	some role in data.agentweave.roles.agents[caller_agent]
	input.action in data.agentweave.roles.actions[role]
	role_may_call(role, callee_agent)
}

role_may_call(role, _) if {
	not data.agentweave.roles.callees[role]
}

role_may_call(role, callee) if {
	callee in data.agentweave.roles.callees[role]
}
