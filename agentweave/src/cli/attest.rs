//! `agentweave attest verify`: checks an attestation JWT the way a caller does.
//!
//! An attestation is bound to one message: its signature (ES256, a key of the JWKS), its issuer,
//! lifetime, sender, receiver, payload type and payload hash are all checked, so the payload
//! and both parties must be given. There is no audience claim in these tokens; `--receiver`
//! is the party the message was addressed to (the agent whose guard signed it).

use std::path::PathBuf;
use std::process::ExitCode;

use agentweave_attest::{Expected, Jwks, Verifier, VerifierConfig, json};
use serde_json::Value;

use super::input::{fail, json_arg, text_arg};
use super::{EXIT_FAULT, EXIT_REFUSED, EXIT_USAGE};
use crate::agent::{ATTESTATION_EXTENSION_URI, attestation_keys};

/// `attest` subcommands.
#[derive(clap::Subcommand, Debug)]
pub(super) enum Command {
    /// Verify an ES256 attestation JWT and print its claims. Exit 0 when valid, 1 when not
    /// (the reason on standard error), 2 for bad arguments, 3 when the keys cannot be read.
    Verify {
        /// The signer's keys: a JWKS (`{"keys": [...]}`), the attestation extension's params
        /// (`{"issuer", "jwks"}`), or a whole agent card (as `agentweave card` prints it).
        #[arg(long)]
        jwks: PathBuf,
        /// The issuer the keys belong to. Default: the issuer the keys file names (extension
        /// params, agent card); with a bare JWKS it is required.
        #[arg(long)]
        issuer: Option<String>,
        /// The sender of the attested message (the caller).
        #[arg(long)]
        sender: String,
        /// The receiver of the attested message (the agent whose guard signed).
        #[arg(long)]
        receiver: String,
        /// The payload the attestation must be about: JSON, `@file`, or `@-`.
        #[arg(long)]
        payload: String,
        /// The payload type the attestation must name (e.g. `financial_transaction`).
        #[arg(long)]
        payload_type: Option<String>,
        /// The compact JWT, or `@file` / `@-`.
        token: String,
    },
}

pub(super) fn run(command: Command) -> ExitCode {
    let Command::Verify { jwks, issuer, sender, receiver, payload, payload_type, token } = command;
    let keys_text = match std::fs::read_to_string(&jwks) {
        Ok(text) => text,
        Err(e) => return fail(EXIT_FAULT, format!("--jwks {}: {e}", jwks.display())),
    };
    let (named_issuer, keys) = match keys_of(&keys_text) {
        Ok(found) => found,
        Err(e) => return fail(EXIT_USAGE, format!("--jwks {}: {e}", jwks.display())),
    };
    let Some(issuer) = issuer.or(named_issuer) else {
        return fail(EXIT_USAGE, "--issuer is required with a bare JWKS (it names no issuer)");
    };
    let token = match text_arg(&token, "the token") {
        Ok(token) => token.trim().to_owned(),
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let payload = match json_arg(&payload, "--payload") {
        Ok(payload) => payload.to_string(),
        Err(e) => return fail(EXIT_USAGE, e),
    };
    let payload = match json::parse(&payload, json::ParseOptions::default()) {
        Ok(payload) => payload,
        Err(e) => return fail(EXIT_USAGE, format!("--payload: {e}")),
    };
    let mut verifier = Verifier::new(VerifierConfig::default());
    if let Err(e) = verifier.trust_jwks(&issuer, None, &keys) {
        return fail(EXIT_USAGE, format!("--jwks {}: unusable key: {e}", jwks.display()));
    }
    let expected = Expected {
        sender: &sender,
        receiver: &receiver,
        payload: &payload,
        payload_type: payload_type.as_deref(),
        session_id: None,
    };
    match verifier.verify(&token, &expected) {
        Ok(claims) => match serde_json::to_string(&claims) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(EXIT_FAULT, format!("cannot print the claims: {e}")),
        },
        Err(e) => {
            eprintln!("invalid: {e}");
            ExitCode::from(EXIT_REFUSED)
        }
    }
}

/// The keys (and the issuer, when the document names one) of a JWKS, extension params or agent
/// card document.
fn keys_of(text: &str) -> Result<(Option<String>, Jwks), String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if value.get("keys").is_some() {
        let keys = serde_json::from_value(value).map_err(|e| format!("not a JWKS: {e}"))?;
        return Ok((None, keys));
    }
    if let (Some(issuer), Some(jwks)) = (value.get("issuer"), value.get("jwks")) {
        let issuer = issuer.as_str().ok_or("`issuer` is not a string")?.to_owned();
        let keys = serde_json::from_value(jwks.clone()).map_err(|e| format!("`jwks`: {e}"))?;
        return Ok((Some(issuer), keys));
    }
    if value.get("capabilities").is_some() {
        let card = serde_json::from_value(value).map_err(|e| format!("not an agent card: {e}"))?;
        let (issuer, keys) = attestation_keys(&card).ok_or_else(|| {
            format!("the agent card has no {ATTESTATION_EXTENSION_URI} extension with keys")
        })?;
        return Ok((Some(issuer), keys));
    }
    Err("neither a JWKS, attestation extension params, nor an agent card".into())
}
