//! Agent id validation and normalisation.
//!
//! The reference rejects only C0 controls and compares ids byte for byte, so DEL, C1
//! controls, zero-width and bidi characters slip through and `"rogue\u{200b}"` is a
//! different agent from `"rogue"` (a blocklist evasion). Here every invisible or
//! control character is refused, surrounding whitespace is stripped (as the reference
//! does), whitespace-only ids are refused (the reference turns them into `""`), and the
//! result is put in Unicode NFC so that canonically equal spellings compare equal.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

/// Longest accepted id, in code points, measured before stripping (as the reference).
pub const MAX_ID_CHARS: usize = 256;

/// Why an id was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IdProblem {
    Empty,
    TooLong(usize),
    Forbidden(char),
    Blank,
}

impl IdProblem {
    pub(crate) fn message(&self) -> String {
        match self {
            IdProblem::Empty => "must not be empty".into(),
            IdProblem::TooLong(n) => format!("has {n} characters, at most {MAX_ID_CHARS} allowed"),
            IdProblem::Forbidden(c) => {
                format!(
                    "must not contain control, invisible or bidirectional characters (found U+{:04X})",
                    *c as u32
                )
            }
            IdProblem::Blank => "must not be whitespace only".into(),
        }
    }
}

/// Characters that are never allowed in an id: controls (C0, DEL, C1), and format or
/// invisible characters that render as nothing or reorder text.
pub fn is_forbidden_id_char(c: char) -> bool {
    matches!(c as u32,
        0x00..=0x1F | 0x7F..=0x9F
        | 0xAD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5
        | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F
        | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0 | 0xFFF9..=0xFFFB
        | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

/// Validates and normalises one agent id (see the module documentation). An id that is
/// already normal (the common case: ASCII) is returned as a slice of `raw`.
pub(crate) fn normalize_id(raw: &str) -> Result<Cow<'_, str>, IdProblem> {
    if raw.is_empty() {
        return Err(IdProblem::Empty);
    }
    // ASCII (the common case) in one pass over the bytes: one byte per character, and
    // the only forbidden ASCII characters are C0 controls and DEL.
    if raw.is_ascii() {
        if raw.len() > MAX_ID_CHARS {
            return Err(IdProblem::TooLong(raw.len()));
        }
        if let Some(&b) = raw.as_bytes().iter().find(|&&b| b < 0x20 || b == 0x7F) {
            return Err(IdProblem::Forbidden(char::from(b)));
        }
        // ASCII is already in NFC (and NFKC): no normaliser.
        let stripped = raw.trim();
        if stripped.is_empty() {
            return Err(IdProblem::Blank);
        }
        return Ok(Cow::Borrowed(stripped));
    }
    let n = raw.chars().count();
    if n > MAX_ID_CHARS {
        return Err(IdProblem::TooLong(n));
    }
    if let Some(c) = raw.chars().find(|c| is_forbidden_id_char(*c)) {
        return Err(IdProblem::Forbidden(c));
    }
    let stripped = raw.trim();
    if stripped.is_empty() {
        return Err(IdProblem::Blank);
    }
    // Stripping may have left only ASCII, which is already in NFC.
    if stripped.is_ascii() {
        return Ok(Cow::Borrowed(stripped));
    }
    Ok(Cow::Owned(stripped.nfc().collect()))
}

/// A key for matching ids in block lists: NFKC, lower case. Block lists match loosely so
/// that `Rogue-Agent` or a full-width spelling cannot evade a block on `rogue-agent`;
/// allow lists keep exact matching so that loosening never grants trust.
pub fn block_key(id: &str) -> String {
    if id.is_ascii() {
        return id.to_ascii_lowercase();
    }
    id.nfkc().flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_rules() {
        let ok: &[(&str, &str)] = &[
            ("agent", "agent"),
            ("  agent  ", "agent"),
            ("  agent\u{a0}", "agent"),
            ("cafe\u{301}", "caf\u{e9}"),
        ];
        for (raw, want) in ok {
            assert_eq!(normalize_id(raw).as_deref(), Ok(*want), "{raw:?}");
        }
        let bad: &[(&str, IdProblem)] = &[
            ("", IdProblem::Empty),
            ("   ", IdProblem::Blank),
            ("\tagent", IdProblem::Forbidden('\t')),
            ("age\u{85}nt", IdProblem::Forbidden('\u{85}')),
            ("agent\u{7f}", IdProblem::Forbidden('\u{7f}')),
            ("rogue\u{200b}", IdProblem::Forbidden('\u{200b}')),
            ("\u{202e}tnega", IdProblem::Forbidden('\u{202e}')),
            ("a\u{feff}", IdProblem::Forbidden('\u{feff}')),
        ];
        for (raw, want) in bad {
            assert_eq!(normalize_id(raw).as_ref(), Err(want), "{raw:?}");
        }
        let long = format!("{}  ", "b".repeat(255));
        assert_eq!(normalize_id(&long), Err(IdProblem::TooLong(257)));
        let longest = "b".repeat(MAX_ID_CHARS);
        assert_eq!(normalize_id(&longest).as_deref(), Ok(longest.as_str()));
        let long_wide = "é".repeat(MAX_ID_CHARS + 1);
        assert_eq!(normalize_id(&long_wide), Err(IdProblem::TooLong(MAX_ID_CHARS + 1)));
    }

    #[test]
    fn block_keys_fold_case_and_width() {
        assert_eq!(block_key("Rogue-Agent"), block_key("rogue-agent"));
        assert_eq!(block_key("ｒｏｇｕｅ"), block_key("rogue"));
    }
}
