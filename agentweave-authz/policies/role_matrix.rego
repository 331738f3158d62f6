# AgentWeave starter policy: a role matrix keyed on the /agent/<name> segment.
#
# data.agentweave.roles.agents maps an agent name to its roles; data.agentweave.roles.actions maps
# a role to the actions it may perform. Optional data.agentweave.roles.callees maps a role to the
# agent names it may call (absent: any agent of the same trust domain). Only within one trust
# domain: callers from other trust domains go through the federation module.
package agentweave.authz

# Data is read by exact path (never through `data` as a whole, which would include this package
# and make the rules recursive for OPA); a missing entry is undefined, so it grants nothing.
caller_roles contains role if {
	some role in data.agentweave.roles.agents[caller_agent]
}

grants contains sprintf("role %s of %s allows %s", [role, caller_agent, input.action]) if {
	same_trust_domain
	callee_agent
	some role in caller_roles
	input.action in data.agentweave.roles.actions[role]
	role_may_call(role, callee_agent)
}

role_may_call(role, _) if {
	not data.agentweave.roles.callees[role]
}

role_may_call(role, callee) if {
	callee in data.agentweave.roles.callees[role]
}
