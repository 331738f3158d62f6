//! agentweave-authz (being written).
