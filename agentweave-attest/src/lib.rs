//! agentweave-attest (being written).
