//! Which fields of a [`PolicyInput`](crate::PolicyInput) a policy version can read.
//!
//! The in-process enforcer builds the regorus input and its cache key from these fields only
//! (see `rego::reads` for how they are found). A field outside the mask is one no rule of that
//! version can observe, so leaving it out changes no decision.

/// A set of input fields: named fields as bits, `context` keys beyond the named ones apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InputMask {
    fields: u16,
    extra: ExtraKeys,
}

/// Which application-defined `context` keys (`AuthzContext::extra`) are in a mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExtraKeys {
    None,
    All,
    Only(Box<[String]>),
}

/// One named field of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub(crate) enum Field {
    Direction = 1,
    CallerSpiffeId = 1 << 1,
    CalleeSpiffeId = 1 << 2,
    CallerTrustDomain = 1 << 3,
    CalleeTrustDomain = 1 << 4,
    Action = 1 << 5,
    A2aMethod = 1 << 6,
    Capability = 1 << 7,
    TaskId = 1 << 8,
    MessageId = 1 << 9,
}

const TOP_LEVEL: [(&str, Field); 6] = [
    ("direction", Field::Direction),
    ("caller_spiffe_id", Field::CallerSpiffeId),
    ("callee_spiffe_id", Field::CalleeSpiffeId),
    ("caller_trust_domain", Field::CallerTrustDomain),
    ("callee_trust_domain", Field::CalleeTrustDomain),
    ("action", Field::Action),
];

/// The named `context` keys; any other key is an `extra` one.
pub(crate) const CONTEXT_NAMED: [(&str, Field); 4] = [
    ("a2a_method", Field::A2aMethod),
    ("capability", Field::Capability),
    ("task_id", Field::TaskId),
    ("message_id", Field::MessageId),
];

const CONTEXT_FIELDS: u16 = Field::A2aMethod as u16
    | Field::Capability as u16
    | Field::TaskId as u16
    | Field::MessageId as u16;

impl InputMask {
    /// Every field: what a policy that may read anything needs.
    pub(crate) const ALL: InputMask = InputMask { fields: u16::MAX, extra: ExtraKeys::All };

    /// The fields covering `paths` (each the steps after `input`; the empty path is everything).
    /// A path into a string field (`action.x`) covers that field; a path naming no field of the
    /// contract (`input.foo`) covers nothing, as the SDK never sends such a field.
    pub(crate) fn from_paths<'a>(paths: impl IntoIterator<Item = &'a [String]>) -> InputMask {
        let mut mask = InputMask { fields: 0, extra: ExtraKeys::None };
        let mut extra_keys: Vec<String> = Vec::new();
        for path in paths {
            let Some((first, rest)) = path.split_first() else { return InputMask::ALL };
            if first == "context" {
                match rest.first() {
                    None => {
                        mask.fields |= CONTEXT_FIELDS;
                        mask.extra = ExtraKeys::All;
                    }
                    Some(key) => match CONTEXT_NAMED.iter().find(|(name, _)| name == key) {
                        Some((_, field)) => mask.fields |= *field as u16,
                        None => extra_keys.push(key.clone()),
                    },
                }
            } else if let Some((_, field)) = TOP_LEVEL.iter().find(|(name, _)| name == first) {
                mask.fields |= *field as u16;
            }
        }
        if mask.extra != ExtraKeys::All && !extra_keys.is_empty() {
            extra_keys.sort();
            extra_keys.dedup();
            mask.extra = ExtraKeys::Only(extra_keys.into_boxed_slice());
        }
        mask
    }

    /// Whether `field` is in the mask.
    pub(crate) fn has(&self, field: Field) -> bool {
        self.fields & field as u16 != 0
    }

    /// Whether the `context` object is read at all (else the input has no `context`).
    pub(crate) fn reads_context(&self) -> bool {
        self.fields & CONTEXT_FIELDS != 0 || self.extra != ExtraKeys::None
    }

    /// Which extra `context` keys are in the mask.
    pub(crate) fn extra(&self) -> &ExtraKeys {
        &self.extra
    }
}

impl ExtraKeys {
    /// Whether the extra key `key` is in the mask.
    pub(crate) fn has(&self, key: &str) -> bool {
        match self {
            ExtraKeys::None => false,
            ExtraKeys::All => true,
            ExtraKeys::Only(keys) => keys.binary_search_by(|k| k.as_str().cmp(key)).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(paths: &[&str]) -> InputMask {
        let paths: Vec<Vec<String>> = paths
            .iter()
            .map(|p| if p.is_empty() { vec![] } else { p.split('.').map(str::to_owned).collect() })
            .collect();
        InputMask::from_paths(paths.iter().map(Vec::as_slice))
    }

    #[test]
    fn paths_map_to_fields() {
        let m = mask(&["action", "caller_spiffe_id", "context.capability", "context.tenant"]);
        assert!(m.has(Field::Action) && m.has(Field::CallerSpiffeId) && m.has(Field::Capability));
        assert!(!m.has(Field::Direction) && !m.has(Field::MessageId) && !m.has(Field::TaskId));
        assert!(m.reads_context());
        assert!(m.extra().has("tenant") && !m.extra().has("region"));

        let whole_context = mask(&["context"]);
        assert!(whole_context.has(Field::MessageId) && whole_context.extra().has("anything"));
        assert!(!whole_context.has(Field::Action));

        assert_eq!(mask(&[""]), InputMask::ALL, "the empty path is the whole input");
        assert_eq!(mask(&["action", ""]), InputMask::ALL);

        let none = mask(&["foo", "action.length"]);
        assert!(none.has(Field::Action), "a path into a field covers the field");
        assert!(!none.reads_context(), "an unknown field covers nothing");
        assert!(!mask(&[]).reads_context());
    }
}
