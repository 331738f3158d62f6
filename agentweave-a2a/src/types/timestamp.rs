//! `google.protobuf.Timestamp` in its ProtoJSON form: an RFC 3339 string in UTC.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time, always rendered in UTC with a `Z` suffix and millisecond precision
/// (spec section 5.6.1). Offsets other than `Z` are accepted on input and normalised, as the
/// ProtoJSON mapping requires of parsers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    /// Wraps a `time` value (normalised to UTC).
    pub fn from_datetime(value: OffsetDateTime) -> Self {
        Self(value.to_offset(time::UtcOffset::UTC))
    }

    /// The wrapped `time` value (UTC).
    pub fn datetime(&self) -> OffsetDateTime {
        self.0
    }

    /// Parses an RFC 3339 timestamp; the error names what was wrong.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        OffsetDateTime::parse(text, &Rfc3339)
            .map(Self::from_datetime)
            .map_err(|e| TimestampError(format!("`{text}` is not an RFC 3339 timestamp: {e}")))
    }

    /// Milliseconds since the Unix epoch (used for ordering and paging cursors).
    pub fn unix_millis(&self) -> i128 {
        self.0.unix_timestamp_nanos() / 1_000_000
    }

    /// Builds a timestamp from milliseconds since the Unix epoch.
    pub fn from_unix_millis(millis: i128) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(millis.checked_mul(1_000_000)?).ok().map(Self)
    }
}

/// A timestamp that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimestampError(String);

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_utc_with_millis_and_normalises_offsets() {
        let cases = [
            ("2025-10-28T10:30:00Z", "2025-10-28T10:30:00.000Z"),
            ("2025-04-17T17:47:09.680794Z", "2025-04-17T17:47:09.680Z"),
            ("2025-10-28T12:30:00+02:00", "2025-10-28T10:30:00.000Z"),
        ];
        for (input, want) in cases {
            assert_eq!(Timestamp::parse(input).unwrap().to_string(), want, "{input}");
        }
    }

    #[test]
    fn rejects_non_rfc3339() {
        for bad in ["2025-10-28", "yesterday", "2025-10-28T10:30:00"] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn millis_round_trip() {
        let t = Timestamp::parse("2025-10-28T10:30:00.123Z").unwrap();
        assert_eq!(Timestamp::from_unix_millis(t.unix_millis()), Some(t));
    }
}
