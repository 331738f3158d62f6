//! Serving the public agent card.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};

use crate::types::AgentCard;

/// The well-known path of the public card (spec section 8.2).
pub const AGENT_CARD_PATH: &str = "/.well-known/agent-card.json";
/// Default `Cache-Control: max-age` for the card: 5 minutes.
pub const DEFAULT_CARD_MAX_AGE_SECS: u32 = 300;

/// The serialized card with its validators, computed once: the card is static for the life
/// of a server, so every request costs a header comparison and a buffer clone.
#[derive(Debug, Clone)]
pub struct CardEndpoint {
    body: Bytes,
    etag: HeaderValue,
    cache_control: HeaderValue,
    last_modified: Option<HeaderValue>,
}

impl CardEndpoint {
    /// Serializes `card`; the ETag is a strong validator over the exact bytes served.
    pub fn new(card: &AgentCard, max_age_secs: u32) -> Result<Self, serde_json::Error> {
        let body = Bytes::from(serde_json::to_vec(card)?);
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", hex::encode(digest.get(..16).unwrap_or_default()));
        let etag = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\""));
        let cache_control = HeaderValue::from_str(&format!("public, max-age={max_age_secs}"))
            .unwrap_or(HeaderValue::from_static("no-cache"));
        Ok(Self {
            body,
            etag,
            cache_control,
            last_modified: http_date(time::OffsetDateTime::now_utc()),
        })
    }

    /// The ETag value (quoted).
    pub fn etag(&self) -> &HeaderValue {
        &self.etag
    }

    /// The serialized card.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Answers a GET: 304 when `If-None-Match` names our ETag (or `*`), else 200 with the card.
    pub fn respond(&self, request_headers: &HeaderMap) -> http::Response<Bytes> {
        let not_modified = request_headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .any(|tag| {
                tag == "*" || tag.trim_start_matches("W/") == self.etag.to_str().unwrap_or("")
            });
        let mut resp =
            http::Response::new(if not_modified { Bytes::new() } else { self.body.clone() });
        if not_modified {
            *resp.status_mut() = StatusCode::NOT_MODIFIED;
        } else {
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        resp.headers_mut().insert(header::ETAG, self.etag.clone());
        resp.headers_mut().insert(header::CACHE_CONTROL, self.cache_control.clone());
        if let Some(lm) = &self.last_modified {
            resp.headers_mut().insert(header::LAST_MODIFIED, lm.clone());
        }
        resp
    }
}

/// An IMF-fixdate (RFC 9110) for `Last-Modified`: the time the card was loaded.
fn http_date(t: time::OffsetDateTime) -> Option<HeaderValue> {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.to_offset(time::UtcOffset::UTC).format(&fmt).ok().and_then(|s| HeaderValue::from_str(&s).ok())
}
