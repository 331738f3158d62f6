//! `Part`: one piece of message or artifact content, exactly one of text, raw bytes, a URL or
//! structured data (the proto `oneof content`).

use base64::Engine as _;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// The content of a [`Part`]. Exactly one kind is present on the wire; a part with none or
/// with two is refused when parsed, because a receiver could not tell which one to honour.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PartContent {
    /// Plain text.
    Text(String),
    /// File bytes (base64 in JSON).
    Raw(Vec<u8>),
    /// A URL pointing at the content.
    Url(String),
    /// Any JSON value (object, array, string, number, boolean or null).
    Data(Value),
}

/// A section of communication content with optional media type, file name and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    /// What the part carries.
    pub content: PartContent,
    /// Free-form metadata for this part.
    pub metadata: Option<Map<String, Value>>,
    /// A file name, e.g. `document.pdf` (empty means unset).
    pub filename: String,
    /// The MIME type of the content, e.g. `text/plain` (empty means unset).
    pub media_type: String,
}

impl Part {
    fn with(content: PartContent) -> Self {
        Self { content, metadata: None, filename: String::new(), media_type: String::new() }
    }

    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Self::with(PartContent::Text(text.into()))
    }

    /// A structured data part.
    pub fn data(value: Value) -> Self {
        Self::with(PartContent::Data(value))
    }

    /// A file part carrying its bytes.
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Self {
        Self::with(PartContent::Raw(bytes.into()))
    }

    /// A file part referenced by URL.
    pub fn url(url: impl Into<String>) -> Self {
        Self::with(PartContent::Url(url.into()))
    }

    /// Sets the media type.
    #[must_use]
    pub fn with_media_type(mut self, media_type: impl Into<String>) -> Self {
        self.media_type = media_type.into();
        self
    }

    /// Sets the file name.
    #[must_use]
    pub fn with_filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = filename.into();
        self
    }

    /// Sets the metadata.
    #[must_use]
    pub fn with_metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// The text if this is a text part.
    pub fn as_text(&self) -> Option<&str> {
        match &self.content {
            PartContent::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The data if this is a data part.
    pub fn as_data(&self) -> Option<&Value> {
        match &self.content {
            PartContent::Data(v) => Some(v),
            _ => None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PartOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    // `data` may legitimately be JSON null, so presence is tracked by the outer Option.
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "str::is_empty")]
    filename: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    media_type: &'a str,
}

impl Serialize for Part {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = PartOut {
            text: None,
            raw: None,
            url: None,
            data: None,
            metadata: self.metadata.as_ref(),
            filename: &self.filename,
            media_type: &self.media_type,
        };
        match &self.content {
            PartContent::Text(t) => out.text = Some(t),
            PartContent::Raw(b) => {
                out.raw = Some(base64::engine::general_purpose::STANDARD.encode(b))
            }
            PartContent::Url(u) => out.url = Some(u),
            PartContent::Data(v) => out.data = Some(v),
        }
        out.serialize(serializer)
    }
}

/// Distinguishes an absent `data` key from `"data": null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartIn {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    raw: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    data: Option<Value>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
    #[serde(default)]
    filename: Option<String>,
    #[serde(default, alias = "media_type")]
    media_type: Option<String>,
}

/// Decodes proto `bytes`: ProtoJSON writers use standard base64, parsers accept URL-safe too.
fn decode_bytes(text: &str) -> Result<Vec<u8>, String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        if let Ok(bytes) = engine.decode(text) {
            return Ok(bytes);
        }
    }
    Err("part `raw` is not valid base64".to_owned())
}

impl<'de> Deserialize<'de> for Part {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let p = PartIn::deserialize(deserializer)?;
        let mut contents = Vec::with_capacity(1);
        if let Some(t) = p.text {
            contents.push(PartContent::Text(t));
        }
        if let Some(r) = p.raw {
            contents.push(PartContent::Raw(decode_bytes(&r).map_err(D::Error::custom)?));
        }
        if let Some(u) = p.url {
            contents.push(PartContent::Url(u));
        }
        if let Some(v) = p.data {
            contents.push(PartContent::Data(v));
        }
        let content = match (contents.pop(), contents.is_empty()) {
            (Some(c), true) => c,
            (None, _) => {
                return Err(D::Error::custom(
                    "part must carry exactly one of `text`, `raw`, `url`, `data`; it has none",
                ));
            }
            (Some(_), false) => {
                return Err(D::Error::custom(
                    "part must carry exactly one of `text`, `raw`, `url`, `data`; it has several",
                ));
            }
        };
        Ok(Part {
            content,
            metadata: p.metadata,
            filename: p.filename.unwrap_or_default(),
            media_type: p.media_type.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_each_kind() {
        let cases = [
            json!({"text": "hi"}),
            json!({"raw": "dGNr", "filename": "output.txt", "mediaType": "text/plain"}),
            json!({"url": "https://example.com/output.txt", "mediaType": "text/plain"}),
            json!({"data": {"key": "value", "count": 42}}),
            json!({"data": null}),
            json!({"text": "x", "metadata": {"a": 1}}),
        ];
        for case in cases {
            let part: Part = serde_json::from_value(case.clone()).unwrap();
            assert_eq!(serde_json::to_value(&part).unwrap(), case);
        }
    }

    #[test]
    fn refuses_zero_or_several_contents() {
        let cases = [
            (json!({}), "none"),
            (json!({"mediaType": "text/plain"}), "none"),
            (json!({"text": "a", "url": "https://x"}), "several"),
            (json!({"text": "a", "data": null}), "several"),
        ];
        for (case, word) in cases {
            let err = serde_json::from_value::<Part>(case.clone()).unwrap_err().to_string();
            assert!(err.contains(word), "{case}: {err}");
        }
    }

    #[test]
    fn raw_accepts_url_safe_and_refuses_garbage() {
        let p: Part = serde_json::from_value(json!({"raw": "_-8"})).unwrap();
        assert_eq!(p.content, PartContent::Raw(vec![0xff, 0xef]));
        assert!(serde_json::from_value::<Part>(json!({"raw": "!!!"})).is_err());
    }
}
