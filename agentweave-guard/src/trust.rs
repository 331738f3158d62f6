//! `TrustBoundary`: who may talk to whom, and how often.
//!
//! Rule order is the reference's (first failure wins): sender blocked, receiver blocked,
//! pair blocked, sender scope, allowlist, receiver scope, then rate limits. Two things are
//! stricter:
//! - block lists match on [`block_key`] (NFKC, lower case), so case or width variants of a
//!   blocked id do not get through; allow lists and scopes stay exact;
//! - besides the reference's bucket per (sender, receiver) pair there is a bucket per
//!   sender, so inventing receiver ids buys no extra burst.
//!
//! Rate state is allocated only after every trust check passed (an untrusted flood
//! cannot grow it), idle buckets are evicted, and the number of buckets is capped
//! (beyond the cap new pairs are refused: fail closed).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::ids::{block_key, normalize_id};
use crate::message::PayloadType;

/// One trusted agent and the scope of its trust.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustEntry {
    /// The agent id.
    pub agent_id: String,
    /// On a sender: receivers it may address. On a receiver: senders it accepts.
    /// `None`: any.
    pub allowed_receivers: Option<HashSet<String>>,
    /// Payload types allowed. `None`: any.
    pub allowed_payload_types: Option<HashSet<String>>,
    /// Unix time (seconds) after which the entry is ignored.
    pub valid_until: Option<f64>,
}

impl TrustEntry {
    /// Unscoped, non-expiring trust for `agent_id`.
    pub fn new(agent_id: &str) -> Self {
        Self {
            agent_id: agent_id.into(),
            allowed_receivers: None,
            allowed_payload_types: None,
            valid_until: None,
        }
    }
}

/// Settings of a [`TrustBoundary`].
#[derive(Debug, Clone)]
pub struct TrustConfig {
    /// Allow senders without a trust entry (the reference's default is `false`).
    pub default_allow: bool,
    /// Burst and per-minute refill of each (sender, receiver) bucket. 0 blocks all.
    pub max_requests_per_minute: u32,
    /// Burst and per-minute refill of each sender's bucket across all receivers
    /// (`None`: same as `max_requests_per_minute`).
    pub max_requests_per_minute_per_sender: Option<u32>,
    /// Most buckets kept at once (pairs plus senders).
    pub max_buckets: usize,
    /// Buckets idle this long are dropped.
    pub bucket_idle: Duration,
}

impl Default for TrustConfig {
    fn default() -> Self {
        Self {
            default_allow: false,
            max_requests_per_minute: 60,
            max_requests_per_minute_per_sender: None,
            max_buckets: 100_000,
            bucket_idle: Duration::from_secs(300),
        }
    }
}

/// Which trust rule refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustRule {
    /// Sender on the block list.
    SenderBlocked,
    /// Receiver on the block list.
    ReceiverBlocked,
    /// This (sender, receiver) pair is blocked.
    PairBlocked,
    /// The sender's scope excludes this receiver or payload type.
    SenderScope,
    /// The sender is not trusted and `default_allow` is off.
    NotAllowlisted,
    /// The receiver's scope excludes this sender or payload type.
    ReceiverScope,
    /// A rate limit (pair or sender) is exhausted.
    RateLimited,
}

impl TrustRule {
    /// Reason code (`trust.<rule>`).
    pub fn reason_code(self) -> &'static str {
        match self {
            TrustRule::SenderBlocked => "trust.sender_blocked",
            TrustRule::ReceiverBlocked => "trust.receiver_blocked",
            TrustRule::PairBlocked => "trust.pair_blocked",
            TrustRule::SenderScope => "trust.sender_scope",
            TrustRule::NotAllowlisted => "trust.not_allowlisted",
            TrustRule::ReceiverScope => "trust.receiver_scope",
            TrustRule::RateLimited => "trust.rate_limited",
        }
    }
}

/// A refusal by the trust boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustDenial {
    /// The rule.
    pub rule: TrustRule,
    /// Human-readable reason, ids redacted as the reference does.
    pub reason: String,
}

/// Ids appear in reasons only redacted: `procurement-agent` → `pr***nt`.
pub fn redact(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    match chars.len() {
        0 => "<empty>".into(),
        1..=4 => "****".into(),
        n => {
            let head: String = chars.iter().take(2).collect();
            let tail: String = chars.iter().skip(n - 2).collect();
            format!("{head}***{tail}")
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn refill(&mut self, capacity: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * capacity / 60.0).min(capacity);
        self.last = now;
    }
}

#[derive(Debug, Default)]
struct State {
    blocked: HashSet<String>,
    trusted: HashMap<String, TrustEntry>,
    blocked_pairs: HashSet<(String, String)>,
    /// sender → receiver → bucket (nested so lookups need no allocation).
    pair_buckets: HashMap<String, HashMap<String, Bucket>>,
    sender_buckets: HashMap<String, Bucket>,
    pair_count: usize,
    last_sweep: Option<Instant>,
}

/// The trust boundary. Shared between threads (`&self` methods, internal lock).
#[derive(Debug)]
pub struct TrustBoundary {
    config: TrustConfig,
    state: Mutex<State>,
}

/// Trust configuration errors.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustError {
    /// An id in the configuration is not a valid agent id.
    #[error("invalid agent id {id:?} in trust configuration: {problem}")]
    InvalidId {
        /// The id as given.
        id: String,
        /// What was wrong.
        problem: String,
    },
    /// `valid_until` is not a finite number.
    #[error("valid_until of {0:?} must be a finite number")]
    ValidUntil(String),
}

fn norm(id: &str) -> Result<String, TrustError> {
    normalize_id(id)
        .map(Cow::into_owned)
        .map_err(|p| TrustError::InvalidId { id: id.into(), problem: p.message() })
}

fn wall_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl TrustBoundary {
    /// An empty boundary.
    pub fn new(config: TrustConfig) -> Self {
        Self { config, state: Mutex::new(State::default()) }
    }

    /// The settings.
    pub fn config(&self) -> &TrustConfig {
        &self.config
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut g = match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut g)
    }

    /// Trusts an agent (replacing its entry and lifting a block on it: last call wins).
    pub fn trust_agent(&self, mut entry: TrustEntry) -> Result<(), TrustError> {
        entry.agent_id = norm(&entry.agent_id)?;
        if let Some(v) = entry.valid_until
            && !v.is_finite()
        {
            return Err(TrustError::ValidUntil(entry.agent_id));
        }
        let normalize_set =
            |s: Option<HashSet<String>>| -> Result<Option<HashSet<String>>, TrustError> {
                s.map(|set| set.iter().map(|r| norm(r)).collect()).transpose()
            };
        entry.allowed_receivers = normalize_set(entry.allowed_receivers)?;
        let key = block_key(&entry.agent_id);
        self.with(|s| {
            s.blocked.remove(&key);
            s.trusted.insert(entry.agent_id.clone(), entry);
        });
        Ok(())
    }

    /// Blocks an agent everywhere (and drops its trust entry: last call wins).
    pub fn block_agent(&self, id: &str) -> Result<(), TrustError> {
        let id = norm(id)?;
        self.with(|s| {
            s.trusted.remove(&id);
            s.blocked.insert(block_key(&id));
        });
        Ok(())
    }

    /// Removes an agent's trust entry.
    pub fn revoke_agent(&self, id: &str) -> Result<(), TrustError> {
        let id = norm(id)?;
        self.with(|s| s.trusted.remove(&id));
        Ok(())
    }

    /// Blocks messages from `sender` to `receiver` (directional).
    pub fn block_pair(&self, sender: &str, receiver: &str) -> Result<(), TrustError> {
        let pair = (block_key(&norm(sender)?), block_key(&norm(receiver)?));
        self.with(|s| s.blocked_pairs.insert(pair));
        Ok(())
    }

    /// Lifts a pair block.
    pub fn unblock_pair(&self, sender: &str, receiver: &str) -> Result<(), TrustError> {
        let pair = (block_key(&norm(sender)?), block_key(&norm(receiver)?));
        self.with(|s| s.blocked_pairs.remove(&pair));
        Ok(())
    }

    /// Whether `id` has an unexpired trust entry now.
    pub fn is_trusted(&self, id: &str) -> bool {
        let now = wall_now();
        self.with(|s| s.trusted.get(id).is_some_and(|e| e.valid_until.is_none_or(|v| now <= v)))
    }

    /// Number of trust entries.
    pub fn trusted_agent_count(&self) -> usize {
        self.with(|s| s.trusted.len())
    }

    /// Number of rate buckets currently allocated (pairs plus senders).
    pub fn bucket_count(&self) -> usize {
        self.with(|s| {
            s.pair_buckets.values().map(HashMap::len).sum::<usize>() + s.sender_buckets.len()
        })
    }

    /// Decides on one message (ids already normalised by the schema stage).
    pub fn evaluate(
        &self,
        sender: &str,
        receiver: &str,
        payload_type: PayloadType,
    ) -> Result<(), TrustDenial> {
        self.evaluate_at(sender, receiver, payload_type, wall_now(), Instant::now())
    }

    /// [`TrustBoundary::evaluate`] with explicit clocks (wall clock for `valid_until`,
    /// monotonic for rate limits), for tests and replays.
    pub fn evaluate_at(
        &self,
        sender: &str,
        receiver: &str,
        payload_type: PayloadType,
        wall: f64,
        mono: Instant,
    ) -> Result<(), TrustDenial> {
        let deny = |rule, reason: String| Err(TrustDenial { rule, reason });
        let pt = payload_type.as_str();
        self.with(|s| {
            // The folded keys are only needed (and only computed) when something is blocked.
            if !(s.blocked.is_empty() && s.blocked_pairs.is_empty()) {
                let (sk, rk) = (block_key(sender), block_key(receiver));
                if s.blocked.contains(&sk) {
                    return deny(
                        TrustRule::SenderBlocked,
                        format!("Sender '{}' is globally blocked", redact(sender)),
                    );
                }
                if s.blocked.contains(&rk) {
                    return deny(
                        TrustRule::ReceiverBlocked,
                        format!("Receiver '{}' is globally blocked", redact(receiver)),
                    );
                }
                if s.blocked_pairs.contains(&(sk, rk)) {
                    return deny(
                        TrustRule::PairBlocked,
                        format!(
                            "Communication pair {}->{} is blocked",
                            redact(sender),
                            redact(receiver)
                        ),
                    );
                }
            }
            let live = |e: &&TrustEntry| e.valid_until.is_none_or(|v| wall <= v);
            let se = s.trusted.get(sender).filter(live);
            let re = s.trusted.get(receiver).filter(live);
            if let Some(e) = se {
                let recv_ok = e.allowed_receivers.as_ref().is_none_or(|r| r.contains(receiver));
                let type_ok = e.allowed_payload_types.as_ref().is_none_or(|t| t.contains(pt));
                if !(recv_ok && type_ok) {
                    return deny(
                        TrustRule::SenderScope,
                        format!(
                            "Sender '{}' trust scope does not allow this communication",
                            redact(sender)
                        ),
                    );
                }
            }
            if !self.config.default_allow && se.is_none() {
                return deny(
                    TrustRule::NotAllowlisted,
                    format!("Sender '{}' is not in the trust allowlist", redact(sender)),
                );
            }
            if let Some(e) = re {
                let send_ok = e.allowed_receivers.as_ref().is_none_or(|r| r.contains(sender));
                let type_ok = e.allowed_payload_types.as_ref().is_none_or(|t| t.contains(pt));
                if !(send_ok && type_ok) {
                    return deny(
                        TrustRule::ReceiverScope,
                        format!(
                            "Receiver '{}' trust scope rejects this communication",
                            redact(receiver)
                        ),
                    );
                }
            }
            self.rate_limit(s, sender, receiver, wall, mono)
        })
    }

    fn rate_limit(
        &self,
        s: &mut State,
        sender: &str,
        receiver: &str,
        wall: f64,
        mono: Instant,
    ) -> Result<(), TrustDenial> {
        let per_pair = self.config.max_requests_per_minute;
        let per_sender = self.config.max_requests_per_minute_per_sender.unwrap_or(per_pair);
        let limited = |n: u32| {
            Err(TrustDenial {
                rule: TrustRule::RateLimited,
                reason: format!(
                    "Rate limit exceeded for {}->{}: {n}/minute",
                    redact(sender),
                    redact(receiver)
                ),
            })
        };
        // Sweep expired trust entries and idle buckets at most once a minute.
        if s.last_sweep.is_none_or(|t| mono.saturating_duration_since(t) >= Duration::from_secs(60))
        {
            s.last_sweep = Some(mono);
            s.trusted.retain(|_, e| e.valid_until.is_none_or(|v| wall <= v));
            let idle = self.config.bucket_idle;
            for inner in s.pair_buckets.values_mut() {
                inner.retain(|_, b| mono.saturating_duration_since(b.last) <= idle);
            }
            s.pair_buckets.retain(|_, inner| !inner.is_empty());
            s.pair_count = s.pair_buckets.values().map(HashMap::len).sum();
            s.sender_buckets.retain(|_, b| mono.saturating_duration_since(b.last) <= idle);
        }
        let existing_pair = s.pair_buckets.get(sender).and_then(|m| m.get(receiver)).copied();
        let existing_sender = s.sender_buckets.get(sender).copied();
        let new_buckets =
            usize::from(existing_pair.is_none()) + usize::from(existing_sender.is_none());
        if new_buckets > 0
            && s.pair_count + s.sender_buckets.len() + new_buckets > self.config.max_buckets
        {
            return limited(per_pair);
        }
        let fresh = |cap: u32| Bucket { tokens: f64::from(cap), last: mono };
        let mut pair = existing_pair.unwrap_or_else(|| fresh(per_pair));
        let mut snd = existing_sender.unwrap_or_else(|| fresh(per_sender));
        pair.refill(f64::from(per_pair), mono);
        snd.refill(f64::from(per_sender), mono);
        // Both must have a token; only then are both charged (a refusal costs nothing).
        let verdict = if pair.tokens < 1.0 {
            limited(per_pair)
        } else if snd.tokens < 1.0 {
            limited(per_sender)
        } else {
            pair.tokens -= 1.0;
            snd.tokens -= 1.0;
            Ok(())
        };
        match s.pair_buckets.get_mut(sender).and_then(|m| m.get_mut(receiver)) {
            Some(b) => *b = pair,
            None => {
                s.pair_buckets
                    .entry(sender.to_owned())
                    .or_default()
                    .insert(receiver.to_owned(), pair);
                s.pair_count += 1;
            }
        }
        match s.sender_buckets.get_mut(sender) {
            Some(b) => *b = snd,
            None => {
                s.sender_buckets.insert(sender.to_owned(), snd);
            }
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: PayloadType = PayloadType::General;

    fn rule(r: Result<(), TrustDenial>) -> Option<TrustRule> {
        r.err().map(|d| d.rule)
    }

    #[test]
    fn rule_order_table() {
        let now = wall_now();
        type Setup = fn(&TrustBoundary);
        let cases: &[(&str, Setup, Option<TrustRule>)] = &[
            ("untrusted", |_| {}, Some(TrustRule::NotAllowlisted)),
            ("trusted", |b| b.trust_agent(TrustEntry::new("s")).unwrap(), None),
            (
                "blocked after trust",
                |b| {
                    b.trust_agent(TrustEntry::new("s")).unwrap();
                    b.block_agent("s").unwrap();
                },
                Some(TrustRule::SenderBlocked),
            ),
            (
                "trust after block",
                |b| {
                    b.block_agent("s").unwrap();
                    b.trust_agent(TrustEntry::new("s")).unwrap();
                },
                None,
            ),
            (
                "receiver blocked",
                |b| {
                    b.trust_agent(TrustEntry::new("s")).unwrap();
                    b.block_agent("R").unwrap();
                },
                Some(TrustRule::ReceiverBlocked),
            ),
            (
                "pair blocked",
                |b| {
                    b.trust_agent(TrustEntry::new("s")).unwrap();
                    b.block_pair("s", "r").unwrap();
                },
                Some(TrustRule::PairBlocked),
            ),
            (
                "reverse pair not blocked",
                |b| {
                    b.trust_agent(TrustEntry::new("s")).unwrap();
                    b.block_pair("r", "s").unwrap();
                },
                None,
            ),
            (
                "sender scope receiver",
                |b| {
                    let mut e = TrustEntry::new("s");
                    e.allowed_receivers = Some(["x".to_owned()].into());
                    b.trust_agent(e).unwrap();
                },
                Some(TrustRule::SenderScope),
            ),
            (
                "sender scope type",
                |b| {
                    let mut e = TrustEntry::new("s");
                    e.allowed_payload_types = Some(["financial_transaction".to_owned()].into());
                    b.trust_agent(e).unwrap();
                },
                Some(TrustRule::SenderScope),
            ),
            (
                "expired scoped sender reports allowlist",
                |b| {
                    let mut e = TrustEntry::new("s");
                    e.allowed_receivers = Some(["x".to_owned()].into());
                    e.valid_until = Some(1.0);
                    b.trust_agent(e).unwrap();
                },
                Some(TrustRule::NotAllowlisted),
            ),
            (
                "receiver scope",
                |b| {
                    b.trust_agent(TrustEntry::new("s")).unwrap();
                    let mut e = TrustEntry::new("r");
                    e.allowed_receivers = Some(["other".to_owned()].into());
                    b.trust_agent(e).unwrap();
                },
                Some(TrustRule::ReceiverScope),
            ),
        ];
        for (name, setup, want) in cases {
            let b = TrustBoundary::new(TrustConfig::default());
            setup(&b);
            assert_eq!(rule(b.evaluate_at("s", "r", G, now, Instant::now())), *want, "{name}");
        }
    }

    #[test]
    fn case_variant_of_blocked_sender_is_blocked() {
        let b = TrustBoundary::new(TrustConfig { default_allow: true, ..TrustConfig::default() });
        b.block_agent("rogue-agent").unwrap();
        for v in ["Rogue-Agent", "ROGUE-AGENT", "ｒｏｇｕｅ-agent"] {
            assert_eq!(rule(b.evaluate(v, "t", G)), Some(TrustRule::SenderBlocked), "{v}");
        }
        // Allowlists stay exact: a case variant of a trusted id is not trusted.
        let b = TrustBoundary::new(TrustConfig::default());
        b.trust_agent(TrustEntry::new("procurement-agent")).unwrap();
        assert_eq!(rule(b.evaluate("Procurement-Agent", "t", G)), Some(TrustRule::NotAllowlisted));
    }

    #[test]
    fn rate_limits_per_pair_and_per_sender() {
        let cfg = TrustConfig { max_requests_per_minute: 3, ..TrustConfig::default() };
        let b = TrustBoundary::new(cfg);
        b.trust_agent(TrustEntry::new("s")).unwrap();
        let t0 = Instant::now();
        let w = wall_now();
        for _ in 0..3 {
            assert_eq!(rule(b.evaluate_at("s", "r", G, w, t0)), None);
        }
        assert_eq!(rule(b.evaluate_at("s", "r", G, w, t0)), Some(TrustRule::RateLimited));
        // A fresh receiver id buys no extra burst: the sender bucket is empty.
        assert_eq!(rule(b.evaluate_at("s", "invented-1", G, w, t0)), Some(TrustRule::RateLimited));
        // Refill: 3/minute = one token every 20 s.
        let later = t0 + Duration::from_secs(21);
        assert_eq!(rule(b.evaluate_at("s", "r", G, w, later)), None);
        assert_eq!(rule(b.evaluate_at("s", "r", G, w, later)), Some(TrustRule::RateLimited));
    }

    #[test]
    fn zero_rate_blocks_everything_and_untrusted_allocate_nothing() {
        let b = TrustBoundary::new(TrustConfig {
            max_requests_per_minute: 0,
            ..TrustConfig::default()
        });
        b.trust_agent(TrustEntry::new("s")).unwrap();
        assert_eq!(rule(b.evaluate("s", "r", G)), Some(TrustRule::RateLimited));
        let b = TrustBoundary::new(TrustConfig::default());
        for i in 0..1000 {
            let _ = b.evaluate(&format!("spray-{i}"), "r", G);
        }
        assert_eq!(b.bucket_count(), 0);
    }

    #[test]
    fn bucket_cap_fails_closed() {
        let b = TrustBoundary::new(TrustConfig {
            default_allow: true,
            max_buckets: 4,
            ..TrustConfig::default()
        });
        assert_eq!(rule(b.evaluate("a", "r", G)), None);
        assert_eq!(rule(b.evaluate("b", "r", G)), None);
        assert_eq!(rule(b.evaluate("c", "r", G)), Some(TrustRule::RateLimited));
        assert_eq!(b.bucket_count(), 4);
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("procurement-agent"), "pr***nt");
        assert_eq!(redact("abcd"), "****");
        assert_eq!(redact(""), "<empty>");
    }

    #[test]
    fn config_ids_are_validated() {
        let b = TrustBoundary::new(TrustConfig::default());
        assert!(b.trust_agent(TrustEntry::new("bad\u{200b}")).is_err());
        assert!(b.block_agent("   ").is_err());
        let mut e = TrustEntry::new("ok");
        e.valid_until = Some(f64::NAN);
        assert!(b.trust_agent(e).is_err());
    }
}
