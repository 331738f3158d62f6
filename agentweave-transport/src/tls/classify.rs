//! Turns what a failed handshake surfaces (an `io::Error` from tokio-rustls, wrapping a
//! `rustls::Error`) into the [`HandshakeRefusal`] that names the cause.

use rustls::{CertificateError, Error as TlsError, PeerIncompatible};

use crate::error::HandshakeRefusal;

/// Classifies a handshake failure.
pub(crate) fn classify_io(error: &std::io::Error) -> HandshakeRefusal {
    match error.get_ref().and_then(|inner| inner.downcast_ref::<TlsError>()) {
        Some(tls) => classify_tls(tls),
        None => HandshakeRefusal::Tls { detail: error.to_string() },
    }
}

/// Classifies a rustls error.
pub(crate) fn classify_tls(error: &TlsError) -> HandshakeRefusal {
    match error {
        TlsError::InvalidCertificate(CertificateError::Other(other)) => {
            match other.0.downcast_ref::<HandshakeRefusal>() {
                Some(refusal) => refusal.clone(),
                None => HandshakeRefusal::Tls { detail: error.to_string() },
            }
        }
        TlsError::NoCertificatesPresented => HandshakeRefusal::NoPeerCertificate,
        TlsError::PeerIncompatible(incompatible) if is_version(incompatible) => {
            HandshakeRefusal::ProtocolVersion { detail: format!("{incompatible:?}") }
        }
        TlsError::AlertReceived(alert) => {
            let alert = format!("{alert:?}");
            if alert == "ProtocolVersion" {
                HandshakeRefusal::ProtocolVersion {
                    detail: "the peer sent a protocol_version alert".into(),
                }
            } else {
                HandshakeRefusal::PeerAlert { alert }
            }
        }
        // Plain HTTP on the TLS port parses as a record of an unknown content type or version.
        TlsError::InvalidMessage(_) => HandshakeRefusal::NotTls { detail: error.to_string() },
        other => HandshakeRefusal::Tls { detail: other.to_string() },
    }
}

fn is_version(incompatible: &PeerIncompatible) -> bool {
    matches!(
        incompatible,
        PeerIncompatible::SupportedVersionsExtensionRequired
            | PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::Tls12NotOfferedOrEnabled
            | PeerIncompatible::ServerDoesNotSupportTls12Or13
            | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::InvalidMessage;

    use super::*;

    #[test]
    fn refusals_survive_the_trip_through_rustls_and_io() {
        let refusal = HandshakeRefusal::TrustDomainNotTrusted { trust_domain: "evil.org".into() };
        let tls = super::super::verifier::refuse(refusal.clone());
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        assert_eq!(classify_io(&io), refusal);
    }

    #[test]
    fn rustls_errors_map_to_named_causes() {
        type Check = fn(&HandshakeRefusal) -> bool;
        let cases: Vec<(TlsError, Check)> = vec![
            (TlsError::NoCertificatesPresented, |r| {
                matches!(r, HandshakeRefusal::NoPeerCertificate)
            }),
            (PeerIncompatible::SupportedVersionsExtensionRequired.into(), |r| {
                matches!(r, HandshakeRefusal::ProtocolVersion { .. })
            }),
            (TlsError::AlertReceived(rustls::AlertDescription::ProtocolVersion), |r| {
                matches!(r, HandshakeRefusal::ProtocolVersion { .. })
            }),
            (
                TlsError::AlertReceived(rustls::AlertDescription::BadCertificate),
                |r| matches!(r, HandshakeRefusal::PeerAlert { alert } if alert == "BadCertificate"),
            ),
            (TlsError::InvalidMessage(InvalidMessage::InvalidContentType), |r| {
                matches!(r, HandshakeRefusal::NotTls { .. })
            }),
            (
                TlsError::InvalidCertificate(CertificateError::Other(rustls::OtherError(
                    Arc::new(std::io::Error::other("foreign")),
                ))),
                |r| matches!(r, HandshakeRefusal::Tls { .. }),
            ),
        ];
        for (error, check) in cases {
            let got = classify_tls(&error);
            assert!(check(&got), "{error:?} classified as {got:?}");
        }
    }
}
