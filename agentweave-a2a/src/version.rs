//! The `A2A-Version` service parameter.
//!
//! The server serves protocol `1.0`. Per spec section 3.6.2 an absent or empty value means
//! `0.3`; this crate does not serve 0.3, so such requests get VersionNotSupported (-32009)
//! unless the server is configured with [`VersionPolicy::AssumeCurrentWhenAbsent`], a
//! compatibility switch for 1.0 clients that forget the header. Patch numbers are ignored
//! (`1.0.1` is `1.0`).

use crate::error::{A2aError, ErrorKind};

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: &str = "1.0";
/// The header (and query parameter) carrying the version.
pub const VERSION_HEADER: &str = "A2A-Version";
/// The header listing the extensions a client opts into.
pub const EXTENSIONS_HEADER: &str = "A2A-Extensions";

/// What to do when a request carries no version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum VersionPolicy {
    /// Spec behaviour: no version means 0.3, which is not served (refused).
    #[default]
    Strict,
    /// Treat a missing or empty version as 1.0.
    AssumeCurrentWhenAbsent,
}

/// Checks a requested version (header or query value) against what we serve.
pub fn check_version(requested: Option<&str>, policy: VersionPolicy) -> Result<(), A2aError> {
    let requested = requested.map(str::trim).filter(|v| !v.is_empty());
    let Some(requested) = requested else {
        return match policy {
            VersionPolicy::AssumeCurrentWhenAbsent => Ok(()),
            VersionPolicy::Strict => Err(not_supported(
                "0.3",
                "no A2A-Version was sent, which the specification defines as 0.3",
            )),
        };
    };
    let mut parts = requested.split('.');
    let major = parts.next();
    let minor = parts.next();
    let patch_ok = parts.next().is_none_or(|p| p.chars().all(|c| c.is_ascii_digit()));
    let numeric =
        |p: Option<&str>| p.is_some_and(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()));
    if numeric(major) && numeric(minor) && patch_ok && parts.next().is_none() {
        let mm = format!("{}.{}", major.unwrap_or_default(), minor.unwrap_or_default());
        if mm == PROTOCOL_VERSION {
            return Ok(());
        }
        return Err(not_supported(requested, "it is not served by this agent"));
    }
    Err(not_supported(requested, "it is not of the form Major.Minor"))
}

fn not_supported(requested: &str, why: &str) -> A2aError {
    A2aError::new(
        ErrorKind::VersionNotSupported,
        format!(
            "A2A protocol version `{requested}` is not supported ({why}); this agent serves {PROTOCOL_VERSION}"
        ),
    )
    .with_meta("requestedVersion", requested)
    .with_meta("supportedVersions", PROTOCOL_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_table() {
        use VersionPolicy::*;
        let cases = [
            (Some("1.0"), Strict, true),
            (Some(" 1.0 "), Strict, true),
            (Some("1.0.3"), Strict, true),
            (Some("0.3"), Strict, false),
            (Some("99.0"), Strict, false),
            (Some("1"), Strict, false),
            (Some("1.0.x"), Strict, false),
            (Some("1.0.0.0"), Strict, false),
            (Some("v1.0"), Strict, false),
            (None, Strict, false),
            (Some(""), Strict, false),
            (None, AssumeCurrentWhenAbsent, true),
            (Some(""), AssumeCurrentWhenAbsent, true),
            (Some("0.3"), AssumeCurrentWhenAbsent, false),
        ];
        for (v, policy, ok) in cases {
            let got = check_version(v, policy);
            assert_eq!(got.is_ok(), ok, "{v:?} {policy:?}");
            if let Err(e) = got {
                assert_eq!(e.kind, ErrorKind::VersionNotSupported);
            }
        }
    }
}
