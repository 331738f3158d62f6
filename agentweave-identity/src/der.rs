//! Splitting concatenated DER and reading PEM: the two encodings SVIDs and bundles arrive in.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::svid::SvidError;

/// Splits a buffer of concatenated DER certificates (the Workload API's encoding) into certificates.
///
/// Each certificate is an ASN.1 SEQUENCE; we read its length header rather than parsing the whole
/// certificate, so a bad certificate is reported by the caller's parser with a precise reason.
pub(crate) fn split_concatenated_der(
    mut bytes: &[u8],
) -> Result<Vec<CertificateDer<'static>>, SvidError> {
    let mut certs = Vec::new();
    while !bytes.is_empty() {
        let len = der_sequence_len(bytes).ok_or(SvidError::MalformedDer { index: certs.len() })?;
        let (cert, rest) =
            bytes.split_at_checked(len).ok_or(SvidError::MalformedDer { index: certs.len() })?;
        certs.push(CertificateDer::from(cert.to_vec()));
        bytes = rest;
    }
    Ok(certs)
}

/// Total length (header + content) of the DER SEQUENCE at the start of `bytes`.
fn der_sequence_len(bytes: &[u8]) -> Option<usize> {
    let (&tag, rest) = bytes.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    if first < 0x80 {
        return Some(2 + usize::from(first));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 || count > 4 {
        return None; // indefinite lengths are not DER; > 4 GiB certificates are not certificates
    }
    let len_bytes = rest.get(..count)?;
    let content = len_bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    content.checked_add(2 + count)
}

/// Reads every `CERTIFICATE` block of a PEM document.
pub(crate) fn certs_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, SvidError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SvidError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(SvidError::Pem("no CERTIFICATE block found".into()));
    }
    Ok(certs)
}

/// Reads the first private key block of a PEM document and returns it as PKCS#8 DER.
pub(crate) fn pkcs8_key_from_pem(pem: &[u8]) -> Result<Vec<u8>, SvidError> {
    use rustls_pki_types::PrivateKeyDer;
    match PrivateKeyDer::from_pem_slice(pem) {
        Ok(PrivateKeyDer::Pkcs8(key)) => Ok(key.secret_pkcs8_der().to_vec()),
        Ok(_) => Err(SvidError::Pem(
            "the private key is not PKCS#8 ('BEGIN PRIVATE KEY'); convert it with `openssl pkcs8 -topk8 -nocrypt`".into(),
        )),
        Err(e) => Err(SvidError::Pem(format!("no usable private key: {e}"))),
    }
}

/// Encodes DER bytes as one PEM block with the given label, 64 characters a line.
pub(crate) fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_refuses_garbage_and_truncation() {
        assert!(split_concatenated_der(&[]).unwrap().is_empty());
        for bad in [
            &[0x31u8, 0x00][..],
            &[0x30, 0x05, 0x00],
            &[0x30, 0x80, 0x00],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
        ] {
            assert!(split_concatenated_der(bad).is_err(), "{bad:?}");
        }
        let two = [0x30u8, 0x01, 0xAA, 0x30, 0x81, 0x01, 0xBB];
        let parts = split_concatenated_der(&two).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1].as_ref(), &[0x30, 0x81, 0x01, 0xBB]);
    }
}
