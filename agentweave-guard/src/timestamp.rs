//! Message timestamps: parsing and the freshness window.

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use agentweave_attest::json::{Json, NumberKind};

/// Parses a message timestamp: an RFC 3339 string, a naive ISO-8601 date-time (taken as
/// UTC, as the reference does), or Unix seconds as a JSON number.
pub(crate) fn parse_timestamp(v: &Json<'_>) -> Result<OffsetDateTime, String> {
    match v {
        Json::String(s) => {
            let s = s.trim();
            OffsetDateTime::parse(s, &Rfc3339)
                .or_else(|_| OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
                .map(|t| t.to_offset(UtcOffset::UTC))
                .map_err(|_| format!("{s:?} is not an RFC 3339 / ISO-8601 date-time"))
        }
        Json::Number(n) if n.kind() != NumberKind::NonFinite => {
            let secs = n.to_f64();
            if !secs.is_finite() || secs.abs() > 253_402_300_799.0 {
                return Err(format!("{n} is out of the supported date range"));
            }
            let nanos = (secs * 1e9) as i128;
            OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|e| e.to_string())
        }
        other => {
            Err(format!("expected a date-time string or Unix seconds, found {}", other.type_name()))
        }
    }
}

/// RFC 3339 text of a UTC time (the form bound into attestations).
pub(crate) fn format_rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentweave_attest::json::{ParseOptions, parse};

    #[test]
    fn accepted_forms() {
        let p = |t: &str| parse_timestamp(&parse(t, ParseOptions::default()).unwrap());
        assert_eq!(p("0").unwrap().unix_timestamp(), 0);
        assert_eq!(p("1700000000.5").unwrap().unix_timestamp(), 1_700_000_000);
        assert_eq!(p(r#""2026-01-01T00:00:00Z""#).unwrap().unix_timestamp(), 1_767_225_600);
        assert_eq!(p(r#""2026-01-01T01:00:00+01:00""#).unwrap().unix_timestamp(), 1_767_225_600);
        assert_eq!(p(r#""2026-01-01T00:00:00""#).unwrap().unix_timestamp(), 1_767_225_600);
        for bad in [r#""yesterday""#, "true", "null", "[1]", "1e300"] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }
}
