//! The card's SPIFFE ID claim (AgentWeave's extension) against the caller's expectation and
//! the identity the transport verified in the mTLS handshake.

use agentweave_identity::SpiffeId;
use agentweave_transport::ExpectedPeer;

use super::error::{ClientError, excerpt};
use crate::types::AgentCard;

/// The SPIFFE ID the card claims, parsed and checked against what the caller expects of the
/// peer. `None` when the card makes no claim.
pub(crate) fn claimed_id(
    card: &AgentCard,
    expected: &ExpectedPeer,
) -> Result<Option<SpiffeId>, ClientError> {
    let Some(raw) = card.spiffe_id() else { return Ok(None) };
    let id = SpiffeId::parse(raw).map_err(|e| ClientError::InvalidCardSpiffeId {
        value: excerpt(raw, 256),
        reason: e.to_string(),
    })?;
    if !expected.matches(&id) {
        return Err(ClientError::CardIdentityUnexpected {
            claimed: id.to_string(),
            expected: expected.to_string(),
        });
    }
    Ok(Some(id))
}

/// Refuses a card whose claim differs from the identity proven by the peer that served it,
/// or that claims an identity no handshake proved.
pub(crate) fn check_served_card(
    card: &AgentCard,
    expected: &ExpectedPeer,
    verified: Option<&SpiffeId>,
) -> Result<Option<SpiffeId>, ClientError> {
    let Some(claimed) = claimed_id(card, expected)? else { return Ok(None) };
    match verified {
        None => Err(ClientError::CardIdentityUnverified { claimed: claimed.to_string() }),
        Some(v) if *v != claimed => Err(ClientError::CardIdentityMismatch {
            claimed: claimed.to_string(),
            verified: v.to_string(),
        }),
        Some(_) => Ok(Some(claimed)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AgentExtension, SPIFFE_ID_EXTENSION_PARAM, SPIFFE_ID_EXTENSION_URI};
    use agentweave_identity::TrustDomain;
    use serde_json::json;

    fn card(claim: Option<&str>) -> AgentCard {
        let mut c: AgentCard =
            serde_json::from_str(include_str!("../../tests/fixtures/agent_card.json")).unwrap();
        c.capabilities.extensions.retain(|e| e.uri != SPIFFE_ID_EXTENSION_URI);
        if let Some(id) = claim {
            let mut params = serde_json::Map::new();
            params.insert(SPIFFE_ID_EXTENSION_PARAM.into(), json!(id));
            c.capabilities.extensions.push(AgentExtension {
                uri: SPIFFE_ID_EXTENSION_URI.into(),
                description: String::new(),
                required: false,
                params: Some(params),
            });
        }
        c
    }

    #[test]
    fn served_card_claims_table() {
        let a = SpiffeId::parse("spiffe://example.org/agent/a").unwrap();
        let b = SpiffeId::parse("spiffe://example.org/agent/b").unwrap();
        let domain = ExpectedPeer::member_of(TrustDomain::new("example.org").unwrap());
        let only_b = ExpectedPeer::exact(b.clone());
        let cases: Vec<(Option<&str>, &ExpectedPeer, Option<&SpiffeId>, &str)> = vec![
            (None, &domain, Some(&a), "none"),
            (None, &domain, None, "none"),
            (Some("spiffe://example.org/agent/a"), &domain, Some(&a), "pinned"),
            // A card claiming another identity than the peer that served it.
            (Some("spiffe://example.org/agent/b"), &domain, Some(&a), "mismatch"),
            // A claim nobody proved (no mTLS).
            (Some("spiffe://example.org/agent/a"), &domain, None, "unverified"),
            // A claim outside what the caller expects.
            (Some("spiffe://example.org/agent/a"), &only_b, Some(&a), "unexpected"),
            (Some("spiffe://other.org/agent/a"), &domain, Some(&a), "unexpected"),
            (Some("https://example.org/a"), &domain, Some(&a), "invalid"),
            (Some("spiffe://example.org/../a"), &domain, Some(&a), "invalid"),
        ];
        for (claim, expected, verified, want) in cases {
            let got = match check_served_card(&card(claim), expected, verified) {
                Ok(None) => "none",
                Ok(Some(id)) if Some(&id) == verified => "pinned",
                Ok(Some(_)) => "wrong pin",
                Err(ClientError::CardIdentityMismatch { .. }) => "mismatch",
                Err(ClientError::CardIdentityUnverified { .. }) => "unverified",
                Err(ClientError::CardIdentityUnexpected { .. }) => "unexpected",
                Err(ClientError::InvalidCardSpiffeId { .. }) => "invalid",
                Err(_) => "other",
            };
            assert_eq!(got, want, "{claim:?} {expected} {verified:?}");
        }
    }
}
