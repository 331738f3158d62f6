//! `AgentMessage` and the strict schema stage.

use std::borrow::Cow;

use agentweave_attest::JsonError;
use agentweave_attest::json::{Json, Object, ParseOptions, parse, write_compact};
use time::OffsetDateTime;

use crate::ids::normalize_id;
use crate::timestamp::{format_rfc3339, parse_timestamp};

/// What a message carries; it selects the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PayloadType {
    /// Checked by the finance engine.
    FinancialTransaction,
    /// Checked by the logic engine.
    LogicAssertion,
    /// Checked by the code engine.
    CodeExecution,
    /// Not verifiable (passthrough).
    DataQuery,
    /// Not verifiable (passthrough); the default.
    General,
}

impl PayloadType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadType::FinancialTransaction => "financial_transaction",
            PayloadType::LogicAssertion => "logic_assertion",
            PayloadType::CodeExecution => "code_execution",
            PayloadType::DataQuery => "data_query",
            PayloadType::General => "general",
        }
    }

    /// Parses the wire value (exact, case-sensitive, like the reference's enum).
    pub fn from_wire(s: &str) -> Option<Self> {
        Some(match s {
            "financial_transaction" => PayloadType::FinancialTransaction,
            "logic_assertion" => PayloadType::LogicAssertion,
            "code_execution" => PayloadType::CodeExecution,
            "data_query" => PayloadType::DataQuery,
            "general" => PayloadType::General,
            _ => return None,
        })
    }
}

/// A message between agents, after the schema stage (ids validated and normalised).
///
/// It borrows from the body it was parsed from (ids and payload text are slices of it
/// where no escape or normalisation changed them), so the schema stage copies nothing on
/// the common path; [`AgentMessage::into_owned`] detaches it.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentMessage<'a> {
    /// Sender id (stripped, NFC).
    pub sender_agent_id: Cow<'a, str>,
    /// Receiver id (stripped, NFC).
    pub receiver_agent_id: Cow<'a, str>,
    /// Payload type.
    pub payload_type: PayloadType,
    /// The payload object.
    pub payload: Json<'a>,
    /// The message timestamp, if the sender gave one.
    pub timestamp: Option<OffsetDateTime>,
    /// Free-form metadata (not used by the guard).
    pub metadata: Option<Json<'a>>,
}

impl<'a> AgentMessage<'a> {
    /// The payload as an object (the schema guarantees it is one).
    pub fn payload_object(&self) -> Option<&Object<'a>> {
        self.payload.as_object()
    }

    /// The same message, owning all its text (to keep it after the body is gone).
    pub fn into_owned(self) -> AgentMessage<'static> {
        AgentMessage {
            sender_agent_id: Cow::Owned(self.sender_agent_id.into_owned()),
            receiver_agent_id: Cow::Owned(self.receiver_agent_id.into_owned()),
            payload_type: self.payload_type,
            payload: self.payload.into_owned(),
            timestamp: self.timestamp,
            metadata: self.metadata.map(Json::into_owned),
        }
    }

    /// The timestamp as RFC 3339 text.
    pub fn timestamp_rfc3339(&self) -> Option<String> {
        self.timestamp.map(format_rfc3339)
    }

    /// The message as JSON with the reference's field names.
    pub fn to_json_string(&self) -> String {
        let mut out = String::from("{\"sender_agent_id\":");
        write_compact(&Json::String(Cow::Borrowed(&self.sender_agent_id)), &mut out);
        out.push_str(",\"receiver_agent_id\":");
        write_compact(&Json::String(Cow::Borrowed(&self.receiver_agent_id)), &mut out);
        out.push_str(",\"payload_type\":\"");
        out.push_str(self.payload_type.as_str());
        out.push_str("\",\"payload\":");
        write_compact(&self.payload, &mut out);
        if let Some(ts) = self.timestamp_rfc3339() {
            out.push_str(",\"timestamp\":\"");
            out.push_str(&ts);
            out.push('"');
        }
        if let Some(m) = &self.metadata {
            out.push_str(",\"metadata\":");
            write_compact(m, &mut out);
        }
        out.push('}');
        out
    }
}

/// Limits of the schema stage.
#[derive(Debug, Clone)]
pub struct SchemaConfig {
    /// Largest accepted message body in bytes (the reference declares 1 MiB but never
    /// enforces it).
    pub max_message_bytes: usize,
    /// Deepest accepted nesting of the whole message (root object = 1).
    pub max_depth: usize,
    /// Accept Python's `NaN`/`Infinity` tokens (which `json.dumps` writes by default) as
    /// non-finite numbers. They are never treated as values: the finance engine refuses
    /// them as non-finite, other engines as the wrong type, and RFC 8785 hashing refuses
    /// to sign them. With `false` they are a schema rejection.
    pub accept_non_finite_tokens: bool,
    /// Oldest accepted message timestamp, seconds before now (`None`: no limit).
    pub max_age_secs: Option<u64>,
    /// Furthest accepted message timestamp, seconds after now (`None`: no limit).
    pub max_future_secs: Option<u64>,
}

impl Default for SchemaConfig {
    fn default() -> Self {
        Self {
            max_message_bytes: 1 << 20,
            max_depth: 1024,
            accept_non_finite_tokens: true,
            max_age_secs: Some(300),
            max_future_secs: Some(60),
        }
    }
}

/// Why the schema stage refused a message (verdict `rejected`, reason code
/// `schema.<field>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaRejection {
    /// The field at fault, or `<root>` for the message as a whole.
    pub field: String,
    /// What was wrong.
    pub message: String,
}

impl SchemaRejection {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }

    /// `schema.<field>`.
    pub fn reason_code(&self) -> String {
        format!("schema.{}", self.field)
    }
}

/// Parses and validates a message body.
///
/// The message borrows from `body` (see [`AgentMessage`]).
pub fn parse_message<'a>(
    body: &'a [u8],
    cfg: &SchemaConfig,
    now: OffsetDateTime,
) -> Result<AgentMessage<'a>, SchemaRejection> {
    if body.len() > cfg.max_message_bytes {
        return Err(SchemaRejection::new(
            "<root>",
            format!("message is {} bytes, at most {} allowed", body.len(), cfg.max_message_bytes),
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|e| SchemaRejection::new("<root>", format!("not UTF-8: {e}")))?;
    let opts = ParseOptions {
        max_depth: cfg.max_depth,
        allow_non_finite_tokens: cfg.accept_non_finite_tokens,
    };
    let value = parse(text, opts).map_err(|e| match &e {
        JsonError::DuplicateKey { top_level_field: Some(f), .. } => {
            SchemaRejection::new(field_name(f), e.to_string())
        }
        _ => SchemaRejection::new("<root>", e.to_string()),
    })?;
    validate_message(value, cfg, now)
}

/// Names a top-level field in a reason code only if it is one of ours (a peer must not
/// choose reason-code text).
fn field_name(f: &str) -> &str {
    match f {
        "sender_agent_id" | "receiver_agent_id" | "payload_type" | "payload" | "timestamp"
        | "metadata" => f,
        _ => "<root>",
    }
}

/// Validates an already-parsed message value.
pub fn validate_message<'a>(
    value: Json<'a>,
    cfg: &SchemaConfig,
    now: OffsetDateTime,
) -> Result<AgentMessage<'a>, SchemaRejection> {
    let Json::Object(mut root) = value else {
        return Err(SchemaRejection::new(
            "<root>",
            format!("message must be a JSON object, found {}", value.type_name()),
        ));
    };
    let id = |root: &mut Object<'a>, field: &str| -> Result<Cow<'a, str>, SchemaRejection> {
        match root.remove(field) {
            None => Err(SchemaRejection::new(field, "field required")),
            // A borrowed id stays borrowed (normalising an ASCII slice returns a slice of
            // it); an owned one (it had escapes) is normalised into a new string.
            Some(Json::String(Cow::Borrowed(s))) => {
                normalize_id(s).map_err(|p| SchemaRejection::new(field, p.message()))
            }
            Some(Json::String(Cow::Owned(s))) => normalize_id(&s)
                .map(|n| Cow::Owned(n.into_owned()))
                .map_err(|p| SchemaRejection::new(field, p.message())),
            Some(other) => Err(SchemaRejection::new(
                field,
                format!("must be a string, found {}", other.type_name()),
            )),
        }
    };
    let sender = id(&mut root, "sender_agent_id")?;
    let receiver = id(&mut root, "receiver_agent_id")?;
    let payload_type = match root.get("payload_type") {
        None => PayloadType::General,
        Some(Json::String(s)) => PayloadType::from_wire(s).ok_or_else(|| {
            SchemaRejection::new(
                "payload_type",
                "must be one of 'financial_transaction', 'logic_assertion', 'code_execution', 'data_query', 'general'",
            )
        })?,
        Some(other) => {
            return Err(SchemaRejection::new("payload_type", format!("must be a string, found {}", other.type_name())));
        }
    };
    let payload = match root.remove("payload") {
        None => return Err(SchemaRejection::new("payload", "field required")),
        Some(p @ Json::Object(_)) => p,
        Some(other) => {
            return Err(SchemaRejection::new(
                "payload",
                format!("must be an object, found {}", other.type_name()),
            ));
        }
    };
    let timestamp = match root.get("timestamp") {
        None | Some(Json::Null) => None,
        Some(v) => {
            let t = parse_timestamp(v).map_err(|m| SchemaRejection::new("timestamp", m))?;
            let age = (now - t).whole_seconds();
            if let Some(max) = cfg.max_age_secs
                && age > max as i64
            {
                return Err(SchemaRejection::new(
                    "timestamp",
                    format!("message is {age}s old, at most {max}s allowed"),
                ));
            }
            if let Some(max) = cfg.max_future_secs
                && -age > max as i64
            {
                return Err(SchemaRejection::new(
                    "timestamp",
                    format!("message is {}s in the future, at most {max}s allowed", -age),
                ));
            }
            Some(t)
        }
    };
    let metadata = match root.remove("metadata") {
        None | Some(Json::Null) => None,
        Some(m @ Json::Object(_)) => Some(m),
        Some(other) => {
            return Err(SchemaRejection::new(
                "metadata",
                format!("must be an object or null, found {}", other.type_name()),
            ));
        }
    };
    Ok(AgentMessage {
        sender_agent_id: sender,
        receiver_agent_id: receiver,
        payload_type,
        payload,
        timestamp,
        metadata,
    })
}
