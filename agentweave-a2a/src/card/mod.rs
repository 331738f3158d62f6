//! Agent card support: RFC 8785 canonicalization, JWS signing and verification, and the
//! HTTP handler serving `/.well-known/agent-card.json` with ETag and Cache-Control.

pub mod jcs;
mod serve;
mod signing;

pub use serve::{AGENT_CARD_PATH, CardEndpoint, DEFAULT_CARD_MAX_AGE_SECS};
pub use signing::{
    CardSigner, CardVerification, CardVerifier, Es256CardSigner, Es256CardVerifier, SignError,
    canonical_payload, sign_card, verify_card,
};
