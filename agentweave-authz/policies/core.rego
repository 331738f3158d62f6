# AgentWeave starter policy: the decision rule and default deny.
#
# Every other starter module adds reasons to the `grants` set (and may add reasons to `denials`).
# A request is allowed only when at least one grant applies and no denial does; with this module
# alone, every request is denied. Reasons are joined in set order (sorted, in OPA and regorus).
package agentweave.authz

default decision := {"allow": false, "reason": "default deny: no policy rule allows this request"}

decision := {"allow": false, "reason": concat("; ", denials)} if {
	count(denials) > 0
}

decision := {"allow": true, "reason": concat("; ", grants)} if {
	count(denials) == 0
	count(grants) > 0
}

# Declares the `grants` set so this module compiles alone (as pure default deny); this rule never
# adds anything: grants come from the other modules.
grants contains reason if {
	false
	reason := "never granted by core"
}

# Structural checks every request must pass, whatever grants it. Written as `not <helper rule>`:
# OPA does not negate an expression whose reference is undefined inside a call or `in`
# (`not is_string(input.missing)` is undefined there, true in regorus), so helpers keep both
# engines in agreement (the parity task checks this).
direction_ok if input.direction in {"inbound", "outbound"}

action_ok if {
	is_string(input.action)
	input.action != ""
}

# The structural denials, kept apart from `denials` so that the common, well-formed request does
# not evaluate them one by one (see `structural_ok`).
structural_denials contains "direction must be \"inbound\" or \"outbound\"" if not direction_ok

structural_denials contains "action must be a non-empty string" if not action_ok

# The trust domain fields must agree with the IDs (the SDK derives them, so a mismatch means a
# hand-built or tampered input).
structural_denials contains "caller_trust_domain does not match caller_spiffe_id" if {
	input.caller_trust_domain != parts_trust_domain(caller_parts)
}

structural_denials contains "callee_trust_domain does not match callee_spiffe_id" if {
	input.callee_trust_domain != parts_trust_domain(callee_parts)
}

# The fast path, in one rule body: a valid direction, a non-empty string action, and both trust
# domain fields present and equal to those of their SPIFFE IDs (what the SDK always sends). It
# implies that no structural denial applies, so `denials` skips them; when it does not hold they
# are evaluated one by one (an input can also pass them without being well formed: a missing
# trust domain field is no denial). Why: regorus pays for every rule it enters, so one body
# checking everything costs a fraction of the four denial rules (the equivalence tests check
# that `structural_ok` never hides a denial).
structural_ok if {
	input.direction in {"inbound", "outbound"}
	is_string(input.action)
	input.action != ""
	caller_parts[0] == "spiffe:"
	caller_parts[1] == ""
	caller_parts[2] != ""
	input.caller_trust_domain == caller_parts[2]
	callee_parts[0] == "spiffe:"
	callee_parts[1] == ""
	callee_parts[2] != ""
	input.callee_trust_domain == callee_parts[2]
}

# Other modules may add their own denials; core adds the structural ones.
denials contains reason if {
	not structural_ok
	some reason in structural_denials
}

# Helpers shared by the starter modules. Each ID is split once per decision (rules are evaluated
# once and reused), which keeps the decision cheap.

caller_parts := split(input.caller_spiffe_id, "/")

callee_parts := split(input.callee_spiffe_id, "/")

# The trust domain of split SPIFFE ID parts, undefined when they are not a SPIFFE ID.
parts_trust_domain(parts) := parts[2] if {
	parts[0] == "spiffe:"
	parts[1] == ""
	parts[2] != ""
}

# The agent name of split parts of spiffe://<td>/agent/<name>[/<env>], undefined otherwise (also
# when the trust domain is empty, so that a hand-built ID without one never earns a role).
parts_agent_name(parts) := parts[4] if {
	count(parts) in {5, 6}
	parts[0] == "spiffe:"
	parts[1] == ""
	parts[2] != ""
	parts[3] == "agent"
	parts[4] != ""
}

caller_agent := parts_agent_name(caller_parts)

callee_agent := parts_agent_name(callee_parts)

same_trust_domain if {
	is_string(input.caller_trust_domain)
	input.caller_trust_domain != ""
	input.caller_trust_domain == input.callee_trust_domain
}
