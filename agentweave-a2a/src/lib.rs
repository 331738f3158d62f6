//! agentweave-a2a (being written).
