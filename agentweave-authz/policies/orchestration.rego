# AgentWeave starter policy: same-trust-domain orchestration.
#
# Agents listed in data.agentweave.orchestration.orchestrators may invoke any action on any agent
# of their own trust domain (both directions: the orchestrator's outbound call and the worker's
# inbound check agree). Workers may answer their orchestrators with the actions listed in
# data.agentweave.orchestration.worker_actions (for example status reports).
package agentweave.authz

grants contains sprintf("orchestration: %s orchestrates agents of %s", [caller_agent, input.caller_trust_domain]) if {
	same_trust_domain
	caller_agent in data.agentweave.orchestration.orchestrators
	callee_agent
}

grants contains sprintf("orchestration: worker %s may %s its orchestrator %s", [caller_agent, input.action, callee_agent]) if {
	same_trust_domain
	callee_agent in data.agentweave.orchestration.orchestrators
	caller_agent
	input.action in data.agentweave.orchestration.worker_actions
}
