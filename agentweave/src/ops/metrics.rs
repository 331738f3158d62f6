//! The agent's metrics: one registry per agent (no global state, so two agents in a process
//! never mix their numbers), and pre-resolved handles for every label combination, created once
//! at start. Recording on the request path is an array index and an atomic add (a short lock
//! for a histogram): no label lookup, no allocation.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `agentweave_inbound_requests_total` | counter | `method`, `outcome` |
//! | `agentweave_inbound_request_duration_seconds` | histogram | `method` |
//! | `agentweave_policy_decisions_total` | counter | `direction`, `decision` |
//! | `agentweave_policy_faults_total` | counter | `direction` |
//! | `agentweave_policy_cache_hits_total` | counter | `direction` |
//! | `agentweave_task_ownership_refusals_total` | counter | |
//! | `agentweave_guard_verdicts_total` | counter | `verdict`, `reason_class` |
//! | `agentweave_outbound_calls_total` | counter | `outcome` |
//! | `agentweave_outbound_call_duration_seconds` | histogram | `result` (`ok`, `error`) |
//!
//! Transport, listener and readiness figures are read at scrape time (see `collector.rs`).
//! Label values come from the closed sets of `labels.rs`.

use std::time::Duration;

use agentweave_authz::DecisionSource;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::labels::{
    DECISIONS, DIRECTIONS, INBOUND_OUTCOMES, InboundOutcome, METHODS, OUTBOUND_OUTCOMES,
    REASON_CLASSES, VERDICTS,
};

type Labels1 = [(&'static str, &'static str); 1];
type Labels2 = [(&'static str, &'static str); 2];

/// Latency buckets, in seconds: 100 µs to about 18 s, by factors of 3. A pooled call takes
/// tens of microseconds, a guarded and signed one a fraction of a millisecond, a handshake
/// about a millisecond, a slow handler seconds.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.000_1, 3.0, 12)
}

fn latency_histogram() -> Histogram {
    Histogram::new(latency_buckets())
}

/// Pre-resolved metric handles.
#[derive(Debug)]
pub(crate) struct Metrics {
    inbound: [[Counter; INBOUND_OUTCOMES.len()]; METHODS.len()],
    inbound_latency: [Histogram; METHODS.len()],
    policy: [[Counter; DECISIONS.len()]; DIRECTIONS.len()],
    policy_faults: [Counter; DIRECTIONS.len()],
    policy_cache_hits: [Counter; DIRECTIONS.len()],
    ownership_refusals: Counter,
    guard: [[Counter; REASON_CLASSES.len()]; VERDICTS.len()],
    outbound: [Counter; OUTBOUND_OUTCOMES.len()],
    outbound_latency: [Histogram; 2],
}

/// The policy direction of a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Inbound = 0,
    Outbound = 1,
}

impl Metrics {
    /// Registers every metric in `registry` and returns the handles.
    pub(crate) fn register(registry: &mut Registry) -> Self {
        let inbound = Family::<Labels2, Counter>::default();
        registry.register(
            "agentweave_inbound_requests",
            "Inbound A2A requests on the mTLS listener, by A2A method (agent_card, or other when \
             no A2A method was reached) and outcome",
            inbound.clone(),
        );
        let inbound_latency = Family::<Labels1, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "agentweave_inbound_request_duration_seconds",
            "Time from an inbound request's arrival to its response head (the whole pipeline for \
             a blocking send), by A2A method",
            inbound_latency.clone(),
        );
        let policy = Family::<Labels2, Counter>::default();
        registry.register(
            "agentweave_policy_decisions",
            "Policy decisions, by direction (inbound, outbound) and decision (allow, deny); \
             faults count as deny",
            policy.clone(),
        );
        let policy_faults = Family::<Labels1, Counter>::default();
        registry.register(
            "agentweave_policy_faults",
            "Policy checks that failed (engine, sidecar or audit fault) and were denied, by direction",
            policy_faults.clone(),
        );
        let policy_cache_hits = Family::<Labels1, Counter>::default();
        registry.register(
            "agentweave_policy_cache_hits",
            "Policy decisions served from the decision cache (also counted in \
             agentweave_policy_decisions), by direction",
            policy_cache_hits.clone(),
        );
        let ownership_refusals = Counter::default();
        registry.register(
            "agentweave_task_ownership_refusals",
            "Task requests refused because the task belongs to another caller",
            ownership_refusals.clone(),
        );
        let guard = Family::<Labels2, Counter>::default();
        registry.register(
            "agentweave_guard_verdicts",
            "Guard verdicts on declared payloads, by verdict and reason class (the engine or \
             stage that decided)",
            guard.clone(),
        );
        let outbound = Family::<Labels1, Counter>::default();
        registry.register(
            "agentweave_outbound_calls",
            "Outbound capability calls (SecureAgent::call), by outcome",
            outbound.clone(),
        );
        let outbound_latency =
            Family::<Labels1, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        registry.register(
            "agentweave_outbound_call_duration_seconds",
            "Duration of outbound capability calls, policy check included, by result (ok, error)",
            outbound_latency.clone(),
        );
        Self {
            inbound: METHODS.map(|m| {
                INBOUND_OUTCOMES
                    .map(|o| inbound.get_or_create_owned(&[("method", m), ("outcome", o)]))
            }),
            inbound_latency: METHODS.map(|m| inbound_latency.get_or_create_owned(&[("method", m)])),
            policy: DIRECTIONS.map(|d| {
                DECISIONS.map(|c| policy.get_or_create_owned(&[("direction", d), ("decision", c)]))
            }),
            policy_faults: DIRECTIONS
                .map(|d| policy_faults.get_or_create_owned(&[("direction", d)])),
            policy_cache_hits: DIRECTIONS
                .map(|d| policy_cache_hits.get_or_create_owned(&[("direction", d)])),
            ownership_refusals,
            guard: VERDICTS.map(|v| {
                REASON_CLASSES
                    .map(|c| guard.get_or_create_owned(&[("verdict", v), ("reason_class", c)]))
            }),
            outbound: OUTBOUND_OUTCOMES.map(|o| outbound.get_or_create_owned(&[("outcome", o)])),
            outbound_latency: ["ok", "error"]
                .map(|r| outbound_latency.get_or_create_owned(&[("result", r)])),
        }
    }

    /// One inbound request ended (`method` indexes `labels::METHODS`).
    pub(crate) fn inbound(&self, method: u8, outcome: InboundOutcome, elapsed: Duration) {
        let method = usize::from(method);
        if let Some(row) = self.inbound.get(method)
            && let Some(counter) = row.get(outcome as usize)
        {
            counter.inc();
        }
        if let Some(histogram) = self.inbound_latency.get(method) {
            histogram.observe(elapsed.as_secs_f64());
        }
    }

    /// One policy decision.
    pub(crate) fn policy(&self, direction: Direction, allowed: bool, source: DecisionSource) {
        let d = direction as usize;
        if let Some(counter) = self.policy.get(d).and_then(|row| row.get(usize::from(!allowed))) {
            counter.inc();
        }
        let by_source = match source {
            DecisionSource::Fault => self.policy_faults.get(d),
            DecisionSource::Cache => self.policy_cache_hits.get(d),
            _ => None,
        };
        if let Some(counter) = by_source {
            counter.inc();
        }
    }

    /// One task request refused for ownership.
    pub(crate) fn ownership_refusal(&self) {
        self.ownership_refusals.inc();
    }

    /// One guard verdict (indexes from `labels::verdict_index` and `labels::reason_class_index`).
    pub(crate) fn guard(&self, verdict: usize, reason_class: usize) {
        if let Some(counter) = self.guard.get(verdict).and_then(|row| row.get(reason_class)) {
            counter.inc();
        }
    }

    /// One outbound call ended (`outcome` from `labels::outbound_index`).
    pub(crate) fn outbound(&self, outcome: usize, elapsed: Duration) {
        if let Some(counter) = self.outbound.get(outcome) {
            counter.inc();
        }
        let result = usize::from(outcome != 0);
        if let Some(histogram) = self.outbound_latency.get(result) {
            histogram.observe(elapsed.as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(registry: &Registry) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, registry).unwrap();
        out
    }

    #[test]
    fn every_series_exists_from_the_start_and_moves_by_one() {
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry);
        let before = text(&registry);
        assert!(before.contains(
            "agentweave_inbound_requests_total{method=\"GetTask\",outcome=\"denied\"} 0"
        ));
        assert!(before.contains("agentweave_outbound_calls_total{outcome=\"circuit_open\"} 0"));
        metrics.inbound(2, InboundOutcome::Denied, Duration::from_millis(1));
        metrics.policy(Direction::Outbound, false, DecisionSource::Fault);
        metrics.policy(Direction::Inbound, true, DecisionSource::Cache);
        metrics.policy(Direction::Inbound, true, DecisionSource::Policy);
        metrics.guard(2, 0);
        metrics.outbound(7, Duration::from_micros(5));
        let after = text(&registry);
        for line in [
            "agentweave_inbound_requests_total{method=\"GetTask\",outcome=\"denied\"} 1",
            "agentweave_inbound_request_duration_seconds_count{method=\"GetTask\"} 1",
            "agentweave_policy_decisions_total{direction=\"outbound\",decision=\"deny\"} 1",
            "agentweave_policy_faults_total{direction=\"outbound\"} 1",
            "agentweave_policy_faults_total{direction=\"inbound\"} 0",
            "agentweave_policy_cache_hits_total{direction=\"inbound\"} 1",
            "agentweave_policy_cache_hits_total{direction=\"outbound\"} 0",
            "agentweave_policy_decisions_total{direction=\"inbound\",decision=\"allow\"} 2",
            "agentweave_guard_verdicts_total{verdict=\"blocked\",reason_class=\"finance\"} 1",
            "agentweave_outbound_calls_total{outcome=\"circuit_open\"} 1",
            "agentweave_outbound_call_duration_seconds_count{result=\"error\"} 1",
        ] {
            assert!(after.contains(line), "missing {line}\n{after}");
        }
        // Out-of-range indexes are ignored, never a panic.
        metrics.inbound(200, InboundOutcome::Answered, Duration::ZERO);
        metrics.guard(99, 99);
        metrics.outbound(99, Duration::ZERO);
    }
}
