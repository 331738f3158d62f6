//! The finance engine: does the claimed total equal the sum of the line items?
//!
//! Exactness: amounts are read from their source text (never through a binary float)
//! into `rust_decimal`. Every operation is checked for rounding; when an input or a
//! product has more digits than 96 bits hold, the engine keeps an upper bound of the
//! accumulated error and accepts the result only if no value within that bound rounds
//! to a different cent. Otherwise, and for any magnitude of 10^26 or more, it reports an
//! engine error: a value beyond range is an explicit failure, never a silent rounding.
//!
//! Tolerance: the computed total is rounded half-up to the cent and the claim must equal
//! it exactly (`100.00` = `100`; `100.01` or `100.011` against `100.00` is a mismatch).
//! The reference rounds both sides and then allows another 0.01, which lets a claim up to
//! about 0.015 off pass.
//!
//! Number syntax: JSON numbers, or strings in ASCII decimal syntax (optional sign, digits
//! with single `_` separators between digits, optional fraction and exponent, surrounding
//! ASCII whitespace). Unicode digits, `$`, `,`, hex and inner spaces are malformed.

use agentweave_attest::json::{Json, NumberKind, Object};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::json;

use crate::engine::{EngineError, EngineOutcome, EngineStatus, GuardEngine};

/// Which signs are accepted in line items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SignPolicy {
    /// Amounts, quantities and adjustments must be zero or positive (default).
    #[default]
    NonNegative,
    /// Negative amounts (credits, refunds) allowed; quantities must not be negative.
    AllowCredits,
    /// Any sign (the reference's behaviour).
    Unrestricted,
}

/// Settings of the finance engine.
#[derive(Debug, Clone, Default)]
pub struct FinanceConfig {
    /// Sign policy.
    pub sign_policy: SignPolicy,
}

/// The finance engine (`finance_guard`).
#[derive(Debug, Clone, Default)]
pub struct FinanceEngine {
    config: FinanceConfig,
}

impl FinanceEngine {
    /// An engine with these settings.
    pub fn new(config: FinanceConfig) -> Self {
        Self { config }
    }
}

/// A parsed amount: the value and an upper bound of how far it may be from the true one.
#[derive(Debug, Clone, Copy)]
struct Approx {
    v: Decimal,
    err: Decimal,
}

#[derive(Debug, PartialEq)]
enum NumProblem {
    Malformed,
    NonFinite,
    OutOfRange(String),
}

/// Largest magnitude accepted anywhere (exclusive): 10^26.
const MAX_INT_DIGITS: i64 = 26;

fn pow10_neg(k: u32) -> Decimal {
    Decimal::new(1, k.min(28))
}

/// ASCII decimal text split into its parts without copying: `mant` is the mantissa as
/// written (digits, single `_` separators, at most one `.`), `exp` the power of ten that
/// applies to its digit string read as an integer.
#[derive(Debug, Clone, Copy)]
struct DecimalText<'a> {
    neg: bool,
    mant: &'a str,
    exp: i64,
}

impl DecimalText<'_> {
    /// The mantissa's digits, most significant first, as values 0–9.
    fn digits(&self) -> impl Iterator<Item = u8> + Clone + '_ {
        self.mant.bytes().filter(u8::is_ascii_digit).map(|c| c - b'0')
    }
}

/// Largest exponent magnitude kept; beyond it every value is out of range (or zero)
/// anyway, so longer exponents saturate here.
const EXP_SATURATION: i64 = i64::MAX / 4;

/// Parses ASCII decimal text (see the module documentation for the syntax).
fn parse_ascii_decimal(s: &str) -> Option<DecimalText<'_>> {
    let b = s.as_bytes();
    let mut i = 0;
    let neg = match b.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    // A run of digits with single `_` separators between digits; calls `f` per digit
    // and returns how many digits it read.
    let run = |i: &mut usize, f: &mut dyn FnMut(u8)| -> usize {
        let mut n = 0;
        while let Some(&c) = b.get(*i) {
            if c.is_ascii_digit() {
                f(c - b'0');
                n += 1;
                *i += 1;
            } else if c == b'_' && n > 0 && b.get(*i + 1).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            } else {
                break;
            }
        }
        n
    };
    let start = i;
    let mut seen_digit = run(&mut i, &mut |_| ()) > 0;
    let mut frac_len: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let n = run(&mut i, &mut |_| ());
        frac_len = n as i64;
        seen_digit |= n > 0;
    }
    if !seen_digit {
        return None;
    }
    let mant = s.get(start..i)?;
    let mut exp: i64 = 0;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let mut v: i64 = 0;
        let push =
            &mut |d: u8| v = v.saturating_mul(10).saturating_add(i64::from(d)).min(EXP_SATURATION);
        if run(&mut i, push) == 0 {
            return None;
        }
        exp = if eneg { -v } else { v };
    }
    if i != b.len() {
        return None;
    }
    Some(DecimalText { neg, mant, exp: exp - frac_len })
}

fn to_approx(d: DecimalText<'_>, source: &str) -> Result<Approx, NumProblem> {
    let leading_zeros = d.digits().take_while(|&c| c == 0).count();
    let sig = d.digits().count() - leading_zeros;
    if sig == 0 {
        return Ok(Approx { v: Decimal::ZERO, err: Decimal::ZERO });
    }
    let exp = d.exp;
    let int_digits = sig as i64 + exp;
    if int_digits > MAX_INT_DIGITS {
        return Err(NumProblem::OutOfRange(format!("{source} is 10^26 or more")));
    }
    // Keep at most 28 significant digits and 28 fractional digits (fits 96 bits).
    let max_frac = (28 - int_digits.max(0)).clamp(0, 28);
    let frac = (-exp).max(0);
    let significant = d.digits().skip(leading_zeros);
    let (keep_len, zeros, scale, dropped) = if frac > max_frac {
        let drop = (frac - max_frac) as usize;
        let keep_len = sig.saturating_sub(drop);
        let dropped_nonzero = significant.clone().skip(keep_len).any(|c| c != 0);
        (keep_len, 0, max_frac, dropped_nonzero)
    } else {
        // Positive exponent: append zeros (at most 26 integer digits, checked above).
        (sig, exp.max(0), frac, false)
    };
    // At most 28 digits are kept (see above), which an i128 holds with room to spare.
    let mut mantissa: i128 = 0;
    let digits = significant.take(keep_len).chain(std::iter::repeat_n(0, zeros as usize));
    for c in digits {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(c)))
            .ok_or(NumProblem::Malformed)?;
    }
    let mut v = Decimal::try_from_i128_with_scale(mantissa, scale as u32)
        .map_err(|_| NumProblem::OutOfRange(format!("{source} does not fit")))?;
    if d.neg {
        v.set_sign_negative(true);
    }
    let err = if dropped { pow10_neg(scale as u32) } else { Decimal::ZERO };
    Ok(Approx { v, err })
}

/// Text that spells a non-finite value (`inf`, `infinity`, `nan`, `snan` in any case,
/// with at most one sign), which a string amount must not smuggle in.
fn is_non_finite_word(t: &str) -> bool {
    let word = t.trim_start_matches(['+', '-']);
    t.len() - word.len() <= 1
        && ["inf", "infinity", "nan", "snan"].iter().any(|w| word.eq_ignore_ascii_case(w))
}

/// The common spelling of an amount, `[-]digits[.digits]` with at most 18 digits, read
/// in one pass. Returns `None` for anything else, which then takes the general path.
///
/// For these inputs the general path keeps every digit (18 digits are far inside 28) and
/// uses the fraction length as the scale, so the result is the same value with the same
/// scale (the exactness checks of [`mul`] and [`add`] depend on the scale).
fn plain_decimal(t: &str) -> Option<Approx> {
    let (neg, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let mut mantissa: u64 = 0;
    let mut count = 0u32;
    let mut scale: Option<u32> = None;
    for b in digits.bytes() {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                count += 1;
                if count > 18 {
                    return None;
                }
                if let Some(s) = scale.as_mut() {
                    *s += 1;
                }
            }
            b'.' if scale.is_none() => scale = Some(0),
            _ => return None,
        }
    }
    // At least one digit before a point and after one (the general syntax's `.5` and
    // `5.` take the general path).
    let (point, scale) = match scale {
        Some(s) => (1, s),
        None => (0, 0),
    };
    let int_len = digits.len() - scale as usize - point;
    if int_len == 0 || (point == 1 && scale == 0) {
        return None;
    }
    if mantissa == 0 {
        // As the general path: every zero is plain `0` (no sign, scale 0).
        return Some(Approx { v: Decimal::ZERO, err: Decimal::ZERO });
    }
    let mut v = Decimal::try_from_i128_with_scale(i128::from(mantissa), scale).ok()?;
    if neg {
        v.set_sign_negative(true);
    }
    Some(Approx { v, err: Decimal::ZERO })
}

fn read_number(v: &Json<'_>) -> Result<Approx, NumProblem> {
    match v {
        Json::Number(n) => match n.kind() {
            NumberKind::NonFinite => Err(NumProblem::NonFinite),
            _ => {
                if let Some(a) = plain_decimal(n.as_str()) {
                    return Ok(a);
                }
                let d = parse_ascii_decimal(n.as_str()).ok_or(NumProblem::Malformed)?;
                to_approx(d, n.as_str())
            }
        },
        Json::String(s) => {
            let t = s.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\u{b}');
            if !t.is_ascii() {
                return Err(NumProblem::Malformed);
            }
            if let Some(a) = plain_decimal(t) {
                return Ok(a);
            }
            if is_non_finite_word(t) {
                return Err(NumProblem::NonFinite);
            }
            let d = parse_ascii_decimal(t).ok_or(NumProblem::Malformed)?;
            to_approx(d, t)
        }
        _ => Err(NumProblem::Malformed),
    }
}

/// Records the currency code `v` (as written, trimmed) unless an equal one is known; two
/// codes are the same currency when they differ only in ASCII case. `Err` if `v` is not
/// a string (absent and `null` are fine).
fn note_currency<'a>(currencies: &mut Vec<&'a str>, v: Option<&'a Json<'_>>) -> Result<(), ()> {
    match v {
        None | Some(Json::Null) => Ok(()),
        Some(Json::String(c)) => {
            let c = c.trim();
            if !currencies.iter().any(|k| k.eq_ignore_ascii_case(c)) {
                currencies.push(c);
            }
            Ok(())
        }
        Some(_) => Err(()),
    }
}

fn unverifiable(code: &'static str, reason: &str) -> Result<EngineOutcome, EngineError> {
    Ok(EngineOutcome::new(EngineStatus::Unverifiable, code, Some(reason.into())))
}

fn abs(d: Decimal) -> Decimal {
    d.abs()
}

fn overflow() -> EngineError {
    EngineError("finance arithmetic beyond the supported range (|value| < 10^26)".into())
}

/// Multiplies with an error bound: |a·q − a'·q'| ≤ |a|·eq + |q|·ea + ea·eq, plus the
/// rounding of the multiplication itself.
fn mul(a: Approx, q: Approx) -> Result<Approx, EngineError> {
    let p = a.v.checked_mul(q.v).ok_or_else(overflow)?;
    let mut err = Decimal::ZERO;
    // A product of a zero is exact; otherwise rust_decimal keeps the scale sum unless it
    // had to round (scale above 28 or a mantissa beyond 96 bits).
    let zero = a.v.is_zero() || q.v.is_zero();
    if !zero && (p.scale() != a.v.scale() + q.v.scale() || a.v.scale() + q.v.scale() > 28) {
        err = pow10_neg(p.scale());
    }
    if !a.err.is_zero() || !q.err.is_zero() {
        let slack = pow10_neg(28);
        let t1 = abs(a.v).checked_mul(q.err).ok_or_else(overflow)?;
        let t2 = abs(q.v).checked_mul(a.err).ok_or_else(overflow)?;
        let t3 = a.err.checked_mul(q.err).ok_or_else(overflow)?;
        err = [t1, t2, t3, slack]
            .iter()
            .try_fold(err, |acc, t| acc.checked_add(*t))
            .ok_or_else(overflow)?;
    }
    Ok(Approx { v: p, err })
}

fn add(a: Approx, b: Approx) -> Result<Approx, EngineError> {
    let s = a.v.checked_add(b.v).ok_or_else(overflow)?;
    let mut err = a.err.checked_add(b.err).ok_or_else(overflow)?;
    // rust_decimal keeps the larger scale unless it had to round; only then is the
    // (more expensive) exactness check needed: subtracting either addend must give back
    // the other one.
    let exact = s.scale() == a.v.scale().max(b.v.scale())
        || (s.checked_sub(a.v).is_some_and(|d| same(d, b.v))
            && s.checked_sub(b.v).is_some_and(|d| same(d, a.v)));
    if !exact {
        err = err.checked_add(pow10_neg(s.scale())).ok_or_else(overflow)?;
    }
    Ok(Approx { v: s, err })
}

fn negate(a: Approx) -> Approx {
    Approx { v: -a.v, err: a.err }
}

/// Numeric equality that treats `-0` and `0` as equal.
fn same(a: Decimal, b: Decimal) -> bool {
    a.checked_sub(b).is_some_and(|d| d.is_zero())
}

fn cents(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

impl FinanceEngine {
    fn sign_ok(&self, amount: Decimal, quantity: Decimal) -> bool {
        let neg = |d: Decimal| d.is_sign_negative() && !d.is_zero();
        match self.config.sign_policy {
            SignPolicy::NonNegative => !neg(amount) && !neg(quantity),
            SignPolicy::AllowCredits => !neg(quantity),
            SignPolicy::Unrestricted => true,
        }
    }
}

impl GuardEngine for FinanceEngine {
    fn name(&self) -> &'static str {
        "finance_guard"
    }

    fn evaluate(&self, payload: &Object<'_>) -> Result<EngineOutcome, EngineError> {
        let empty = Object::new();
        let data = match payload.get("data") {
            None => &empty,
            Some(Json::Object(o)) => o,
            Some(_) => {
                return unverifiable("finance.data_not_mapping", "payload.data must be an object");
            }
        };
        let items: &[Json<'_>] = match data.get("line_items") {
            None => &[],
            Some(Json::Array(a)) => a,
            Some(_) => {
                return unverifiable(
                    "finance.line_items_not_list",
                    "data.line_items must be a list",
                );
            }
        };
        let claimed = match data.get("claimed_total") {
            None | Some(Json::Null) => {
                return unverifiable(
                    "finance.claimed_total_missing",
                    "data.claimed_total is required",
                );
            }
            Some(v) => match read_number(v) {
                Ok(c) => c,
                Err(NumProblem::Malformed) => {
                    return unverifiable(
                        "finance.claimed_total_malformed",
                        "data.claimed_total is not a decimal number",
                    );
                }
                Err(NumProblem::NonFinite) => {
                    return unverifiable(
                        "finance.claimed_total_nonfinite",
                        "data.claimed_total must be finite",
                    );
                }
                Err(NumProblem::OutOfRange(m)) => {
                    return Err(EngineError(format!("claimed_total: {m}")));
                }
            },
        };
        if items.is_empty() {
            return unverifiable("finance.line_items_empty", "data.line_items is empty");
        }
        let one = Approx { v: Decimal::ONE, err: Decimal::ZERO };
        let mut total = Approx { v: Decimal::ZERO, err: Decimal::ZERO };
        let mut negative = false;
        let mut currencies: Vec<&str> = Vec::new();
        let mut note_currency = |v| note_currency(&mut currencies, v);
        if note_currency(data.get("currency")).is_err() {
            return unverifiable("finance.currency_invalid", "data.currency must be a string");
        }
        for (i, item) in items.iter().enumerate() {
            let Json::Object(item) = item else {
                return unverifiable(
                    "finance.line_item_not_mapping",
                    &format!("line_items[{i}] must be an object"),
                );
            };
            let amount = match item.get("amount") {
                None | Some(Json::Null) => {
                    return unverifiable(
                        "finance.amount_missing",
                        &format!("line_items[{i}].amount is required"),
                    );
                }
                Some(a) => read_number(a),
            };
            let quantity = match item.get("quantity") {
                None => Ok(one),
                Some(Json::Null) => {
                    return unverifiable(
                        "finance.quantity_null",
                        &format!("line_items[{i}].quantity is null"),
                    );
                }
                Some(q) => read_number(q),
            };
            let (amount, quantity) = match (amount, quantity) {
                (Ok(a), Ok(q)) => (a, q),
                (Err(NumProblem::Malformed), _) | (_, Err(NumProblem::Malformed)) => {
                    return unverifiable(
                        "finance.line_item_malformed",
                        &format!("line_items[{i}]: amount and quantity must be decimal numbers"),
                    );
                }
                (Err(NumProblem::NonFinite), _) | (_, Err(NumProblem::NonFinite)) => {
                    return unverifiable(
                        "finance.line_item_nonfinite",
                        &format!("line_items[{i}]: amount and quantity must be finite"),
                    );
                }
                (Err(NumProblem::OutOfRange(m)), _) | (_, Err(NumProblem::OutOfRange(m))) => {
                    return Err(EngineError(format!("line_items[{i}]: {m}")));
                }
            };
            if note_currency(item.get("currency")).is_err() {
                return unverifiable(
                    "finance.currency_invalid",
                    &format!("line_items[{i}].currency must be a string"),
                );
            }
            negative |= !self.sign_ok(amount.v, quantity.v);
            total = add(total, mul(amount, quantity)?)?;
        }
        for (key, sign) in [("tax", false), ("shipping", false), ("discount", true)] {
            let Some(v) = data.get(key).filter(|v| !matches!(v, Json::Null)) else { continue };
            let adj = match read_number(v) {
                Ok(a) => a,
                Err(NumProblem::Malformed) => {
                    return unverifiable(
                        "finance.adjustment_malformed",
                        &format!("data.{key} is not a decimal number"),
                    );
                }
                Err(NumProblem::NonFinite) => {
                    return unverifiable(
                        "finance.adjustment_nonfinite",
                        &format!("data.{key} must be finite"),
                    );
                }
                Err(NumProblem::OutOfRange(m)) => {
                    return Err(EngineError(format!("data.{key}: {m}")));
                }
            };
            negative |= !self.sign_ok(adj.v, Decimal::ONE);
            total = add(total, if sign { negate(adj) } else { adj })?;
        }
        if currencies.len() > 1 {
            return unverifiable(
                "finance.mixed_currency",
                &format!(
                    "line items mix currencies ({}); totals across currencies are not defined",
                    currencies
                        .iter()
                        .map(|c| c.to_ascii_uppercase())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        if negative {
            return Ok(EngineOutcome::new(
                EngineStatus::Failed,
                "finance.negative_value",
                Some("Negative amount or quantity refused by the sign policy".into()),
            ));
        }
        if abs(total.v) >= Decimal::from_i128_with_scale(10i128.pow(26), 0) {
            return Err(EngineError("computed total is 10^26 or more".into()));
        }
        let computed = cents(total.v);
        if !total.err.is_zero() {
            let lo = cents(total.v.checked_sub(total.err).ok_or_else(overflow)?);
            let hi = cents(total.v.checked_add(total.err).ok_or_else(overflow)?);
            if !same(lo, hi) {
                return Err(EngineError(
                    "line items carry more digits than can be summed exactly to the cent".into(),
                ));
            }
        }
        let computed_s = format!("{:.2}", computed);
        if claimed.err.is_zero() && same(claimed.v, computed) {
            Ok(EngineOutcome::new(EngineStatus::Verified, "finance.verified", None)
                .with_details(json!({ "computed_total": computed_s })))
        } else {
            let claimed_s = match data.get("claimed_total") {
                Some(Json::String(s)) => s.to_string(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            Ok(EngineOutcome::new(
                EngineStatus::Failed,
                "finance.mismatch",
                Some(format!(
                    "Mathematical hallucination detected: claimed_total={claimed_s}, computed_total={computed_s}"
                )),
            )
            .with_details(json!({ "computed_total": computed_s, "claimed_total": claimed_s })))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentweave_attest::json::{ParseOptions, parse};

    fn run_with(policy: SignPolicy, payload: &str) -> Result<EngineOutcome, EngineError> {
        let v =
            parse(payload, ParseOptions { max_depth: 64, allow_non_finite_tokens: true }).unwrap();
        FinanceEngine::new(FinanceConfig { sign_policy: policy }).evaluate(v.as_object().unwrap())
    }

    fn code(payload: &str) -> String {
        match run_with(SignPolicy::NonNegative, payload) {
            Ok(o) => o.reason_code.to_owned(),
            Err(_) => "engine_error".into(),
        }
    }

    fn tx(claimed: &str, items: &str) -> String {
        format!(r#"{{"data": {{"claimed_total": {claimed}, "line_items": [{items}]}}}}"#)
    }

    #[test]
    fn table() {
        let cases: &[(String, &str)] = &[
            (tx("150", r#"{"amount": 100.0}, {"amount": "50.00"}"#), "finance.verified"),
            (tx("999.99", r#"{"amount": 100.0}, {"amount": "50.00"}"#), "finance.mismatch"),
            (tx(r#""100.01""#, r#"{"amount": "100.00"}"#), "finance.mismatch"),
            (tx(r#""100.011""#, r#"{"amount": "100.00"}"#), "finance.mismatch"),
            (tx(r#""100.005""#, r#"{"amount": "100.00"}"#), "finance.mismatch"),
            (tx(r#""4.00""#, r#"{"amount": "0.004", "quantity": 1000}"#), "finance.verified"),
            (tx(r#""0.01""#, r#"{"amount": "0.005"}"#), "finance.verified"),
            (tx("0", r#"{"amount": "1e-30"}"#), "finance.verified"),
            (tx(r#""-0""#, r#"{"amount": 0}"#), "finance.verified"),
            (tx("1000", r#"{"amount": "1_000.00"}"#), "finance.verified"),
            // A long exponent with leading zeros is still its value (0.5e1 = 5), not its
            // first 18 digits (which would read 0.5 and let a claim of 0.5 pass).
            (tx(r#""0.5""#, r#"{"amount": "0.5e0000000000000000001"}"#), "finance.mismatch"),
            (tx("5", r#"{"amount": "0.5e0000000000000000001"}"#), "finance.verified"),
            // An exponent beyond i64 saturates (no overflow): the value is below a cent.
            (tx("0", r#"{"amount": "5e-99999999999999999999999"}"#), "finance.verified"),
            (tx("0", r#"{"amount": "5e99999999999999999999999"}"#), "engine_error"),
            (tx("50", r#"{"amount": "  50.00  "}"#), "finance.verified"),
            (tx("50", r#"{"amount": "٥٠"}"#), "finance.line_item_malformed"),
            (tx("50", r#"{"amount": "５０"}"#), "finance.line_item_malformed"),
            (tx("50", r#"{"amount": "0x32"}"#), "finance.line_item_malformed"),
            (tx("50", r#"{"amount": "5 0"}"#), "finance.line_item_malformed"),
            (tx("50", r#"{"amount": "$50"}"#), "finance.line_item_malformed"),
            (tx("50", r#"{"amount": "1__0"}"#), "finance.line_item_malformed"),
            (tx("10", r#"{"amount": "10", "quantity": true}"#), "finance.line_item_malformed"),
            (tx("0", r#"{"amount": "Infinity"}"#), "finance.line_item_nonfinite"),
            (tx("0", r#"{"amount": "-inf"}"#), "finance.line_item_nonfinite"),
            (tx("0", r#"{"amount": "sNaN"}"#), "finance.line_item_nonfinite"),
            (tx("1", r#"{"amount": Infinity}"#), "finance.line_item_nonfinite"),
            (tx(r#""NaN""#, r#"{"amount": 1}"#), "finance.claimed_total_nonfinite"),
            (tx(r#""""#, r#"{"amount": 1}"#), "finance.claimed_total_malformed"),
            (tx("true", r#"{"amount": 1}"#), "finance.claimed_total_malformed"),
            (r#"{"data": {"line_items": [{"amount": 1}]}}"#.into(), "finance.claimed_total_missing"),
            (r#"{"data": [1]}"#.into(), "finance.data_not_mapping"),
            (r#"{"data": null}"#.into(), "finance.data_not_mapping"),
            (r#"{"data": {"claimed_total": 1, "line_items": "x"}}"#.into(), "finance.line_items_not_list"),
            (tx("1", ""), "finance.line_items_empty"),
            (tx("1", "null"), "finance.line_item_not_mapping"),
            (tx("1", r#"{"quantity": 1}"#), "finance.amount_missing"),
            (tx("1", r#"{"amount": 1, "quantity": null}"#), "finance.quantity_null"),
            (tx(r#""-100.00""#, r#"{"amount": "50.00", "quantity": -2}"#), "finance.negative_value"),
            (tx("10", r#"{"amount": "1000"}, {"amount": "-990"}"#), "finance.negative_value"),
            (tx("5", r#"{"amount": "10.00", "quantity": 0.5}"#), "finance.verified"),
            (
                tx(r#""200.00""#, r#"{"amount": "100", "currency": "USD"}, {"amount": "100", "currency": "EUR"}"#),
                "finance.mixed_currency",
            ),
            (
                tx(r#""200.00""#, r#"{"amount": "100", "currency": "USD"}, {"amount": "100", "currency": "usd"}"#),
                "finance.verified",
            ),
            (
                r#"{"data": {"claimed_total": "108.00", "tax": "8.00", "line_items": [{"amount": "100"}]}}"#.into(),
                "finance.verified",
            ),
            (
                r#"{"data": {"claimed_total": "90", "discount": "10", "line_items": [{"amount": "100"}]}}"#.into(),
                "finance.verified",
            ),
            // Precision the reference loses (28 significant digits) is kept.
            (tx(r#""12345678901234567890123.45""#, r#"{"amount": "12345678901234567890123.45"}"#), "finance.verified"),
            (tx(r#""12345678901234567890123.46""#, r#"{"amount": "12345678901234567890123.45"}"#), "finance.mismatch"),
            (
                tx(r#""99999999999999999999999.99""#, r#"{"amount": "33333333333333333333333.33", "quantity": 3}"#),
                "finance.verified",
            ),
            // Beyond range: explicit error, never a rounding.
            (tx(r#""1000000000000000000000000000""#, r#"{"amount": "1000000000000000000000000000"}"#), "engine_error"),
            (tx("1", r#"{"amount": "0.01", "quantity": 1000000000000000000000000000000}"#), "engine_error"),
            (tx("1", r#"{"amount": "1e999999", "quantity": 10}"#), "engine_error"),
            (tx("1", r#"{"amount": "10000000000000", "quantity": "10000000000000"}"#), "engine_error"),
        ];
        for (payload, want) in cases {
            assert_eq!(code(payload), *want, "{payload}");
        }
    }

    /// The one-pass reader of common amounts gives the general reader's value and scale
    /// (the scale matters: the exactness checks of `mul` and `add` compare scales), and
    /// declines everything else.
    #[test]
    fn plain_decimal_agrees_with_the_general_reader() {
        let same = [
            "0",
            "-0",
            "1",
            "1.25",
            "-1.25",
            "0.001",
            "100.00",
            "007.50",
            "123456789012345678",
            "12345678901234567.8",
            "0.00000000000000001",
            "-0.0",
        ];
        for t in same {
            let fast = plain_decimal(t).unwrap_or_else(|| panic!("{t} declined"));
            let general = to_approx(parse_ascii_decimal(t).unwrap(), t).unwrap();
            assert_eq!(fast.v, general.v, "{t}");
            assert_eq!(fast.v.scale(), general.v.scale(), "{t}");
            assert_eq!(fast.v.is_sign_negative(), general.v.is_sign_negative(), "{t}");
            assert!(fast.err.is_zero() && general.err.is_zero(), "{t}");
        }
        let declined = [
            "",
            "-",
            ".",
            "5.",
            ".5",
            "0.000000000000000001",
            "1e3",
            "1E-3",
            "+1",
            "1_000",
            "1234567890123456789",
            "1.2.3",
            " 1",
            "1 ",
            "--1",
            "٥",
            "0x1",
            "1,5",
            "Infinity",
            "NaN",
        ];
        for t in declined {
            assert!(plain_decimal(t).is_none(), "{t}");
        }
    }

    #[test]
    fn sign_policies() {
        let refund = tx(r#""-10""#, r#"{"amount": "-10"}"#);
        let neg_qty = tx(r#""-10""#, r#"{"amount": "10", "quantity": -1}"#);
        assert_eq!(
            run_with(SignPolicy::AllowCredits, &refund).unwrap().reason_code,
            "finance.verified"
        );
        assert_eq!(
            run_with(SignPolicy::AllowCredits, &neg_qty).unwrap().reason_code,
            "finance.negative_value"
        );
        assert_eq!(
            run_with(SignPolicy::Unrestricted, &neg_qty).unwrap().reason_code,
            "finance.verified"
        );
    }

    #[test]
    fn tiny_digits_that_could_flip_a_cent_are_an_error() {
        // 0.005 - 1e-40 rounds to 0.00, but the digits beyond 28 places are dropped, so
        // the engine cannot tell it from 0.005 (which rounds to 0.01): refuse.
        let p = tx("0", r#"{"amount": "0.0049999999999999999999999999999999999"}"#);
        assert_eq!(code(&p), "engine_error");
        // Far from a half-cent the same dropped digits are harmless.
        let p = tx("0.01", r#"{"amount": "0.0100000000000000000000000000000001"}"#);
        assert_eq!(code(&p), "finance.verified");
    }
}
