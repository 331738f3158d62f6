//! Figures read at scrape time from the layers that keep their own counters: the mTLS
//! listener's `ServerStats`, the outbound transport's `TransportStats`, per-peer pools and
//! circuit breakers, and readiness. Reading them on scrape costs the request path nothing.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `agentweave_server_tls_handshakes_total` | counter | `result` (`accepted`, `refused`) |
//! | `agentweave_client_tls_handshakes_total` | counter | `result` (`completed`, `refused`) |
//! | `agentweave_transport_requests_total` | counter | |
//! | `agentweave_transport_retries_total` | counter | |
//! | `agentweave_transport_circuit_rejections_total` | counter | |
//! | `agentweave_pool_connections_opened_total` | counter | |
//! | `agentweave_pool_idle_connections` | gauge | `peer` |
//! | `agentweave_circuit_breaker_state` | gauge | `peer` (0 closed, 1 half-open, 2 open) |
//! | `agentweave_ready` | gauge | (1 ready, 0 not) |
//!
//! `peer` values are the SPIFFE IDs of the agent's configured peer map (bounded by
//! configuration, never by what a peer sends). Transport figures are absent when the agent uses
//! a custom `Transport`, which keeps its own.

use std::sync::{Arc, Mutex, PoisonError};

use agentweave_transport::{CircuitState, MtlsTransport, Peer, ServerHandle, ServerStats};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::health::HealthState;

/// The mTLS listener's handle while it serves, and its final counters once it stops (the
/// handle is consumed by shutdown, so the counters are kept for the scrapes during the drain).
#[derive(Debug)]
pub(crate) enum Listener {
    Serving(ServerHandle),
    Stopped(ServerStats),
}

/// Shared between the agent (which stops the listener) and the collector (which reads it).
#[derive(Debug)]
pub(crate) struct ListenerSlot(Mutex<Listener>);

impl ListenerSlot {
    pub(crate) fn new(handle: ServerHandle) -> Self {
        Self(Mutex::new(Listener::Serving(handle)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Listener> {
        // Each update is one assignment, so a poisoned lock still holds a valid state.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The listener's counters so far.
    pub(crate) fn stats(&self) -> ServerStats {
        match &*self.lock() {
            Listener::Serving(handle) => handle.stats(),
            Listener::Stopped(stats) => stats.clone(),
        }
    }

    /// Takes the handle to shut it down, keeping its counters readable.
    pub(crate) fn take(&self) -> Option<ServerHandle> {
        let mut listener = self.lock();
        let stats = match &*listener {
            Listener::Serving(handle) => handle.stats(),
            Listener::Stopped(_) => return None,
        };
        match std::mem::replace(&mut *listener, Listener::Stopped(stats)) {
            Listener::Serving(handle) => Some(handle),
            Listener::Stopped(_) => None,
        }
    }
}

/// The scrape-time collector.
#[derive(Debug)]
pub(crate) struct StatsCollector {
    pub(crate) listener: Arc<ListenerSlot>,
    pub(crate) transport: Option<MtlsTransport>,
    /// (label, peer) for each configured peer.
    pub(crate) peers: Vec<(String, Peer)>,
    pub(crate) health: Arc<HealthState>,
}

fn counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: &[(&[(&str, &str)], u64)],
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in series {
        ConstCounter::new(*value).encode(metric.encode_family(labels)?)?;
    }
    Ok(())
}

/// A counter without labels.
fn counter1(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(value).encode(metric)
}

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: &[(&[(&str, &str)], i64)],
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in series {
        ConstGauge::new(*value).encode(metric.encode_family(labels)?)?;
    }
    Ok(())
}

/// The gauge value of a circuit state; a peer never called has a closed circuit.
pub(crate) fn breaker_value(state: Option<CircuitState>) -> i64 {
    match state {
        Some(CircuitState::Open) => 2,
        Some(CircuitState::HalfOpen) => 1,
        _ => 0,
    }
}

impl Collector for StatsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let server = self.listener.stats();
        counter(
            &mut encoder,
            "agentweave_server_tls_handshakes",
            "mTLS handshakes on the A2A listener, by result (refused: bad, missing or untrusted \
             client certificate, wrong protocol)",
            &[
                (&[("result", "accepted")], server.connections_accepted),
                (&[("result", "refused")], server.handshakes_refused),
            ],
        )?;
        if let Some(transport) = &self.transport {
            let stats = transport.stats();
            counter(
                &mut encoder,
                "agentweave_client_tls_handshakes",
                "mTLS handshakes of outbound connections, by result (refused by us or by the peer)",
                &[
                    (&[("result", "completed")], stats.connections_opened),
                    (&[("result", "refused")], stats.handshakes_refused),
                ],
            )?;
            counter1(
                &mut encoder,
                "agentweave_transport_requests",
                "Requests sent through the outbound transport (calls, card fetches)",
                stats.requests,
            )?;
            counter1(
                &mut encoder,
                "agentweave_transport_retries",
                "Retried attempts of safe-to-retry outbound requests",
                stats.retries,
            )?;
            counter1(
                &mut encoder,
                "agentweave_transport_circuit_rejections",
                "Outbound requests refused by an open circuit without network traffic",
                stats.circuit_rejections,
            )?;
            counter1(
                &mut encoder,
                "agentweave_pool_connections_opened",
                "Outbound connections opened by the pool (each one full mTLS handshake)",
                stats.connections_opened,
            )?;
            let idle: Vec<(i64, i64, &str)> = self
                .peers
                .iter()
                .map(|(label, peer)| {
                    let idle = i64::try_from(transport.idle_connections(peer)).unwrap_or(i64::MAX);
                    (idle, breaker_value(transport.circuit_state(peer)), label.as_str())
                })
                .collect();
            let labels: Vec<[(&str, &str); 1]> =
                idle.iter().map(|(_, _, label)| [("peer", *label)]).collect();
            let series = |pick: fn(&(i64, i64, &str)) -> i64| -> Vec<(&[(&str, &str)], i64)> {
                idle.iter().zip(&labels).map(|(row, l)| (&l[..], pick(row))).collect()
            };
            gauge(
                &mut encoder,
                "agentweave_pool_idle_connections",
                "Idle pooled connections per configured peer (a shared HTTP/2 connection counts once)",
                &series(|row| row.0),
            )?;
            gauge(
                &mut encoder,
                "agentweave_circuit_breaker_state",
                "Circuit breaker state per configured peer: 0 closed, 1 half-open, 2 open",
                &series(|row| row.1),
            )?;
        }
        let ready = i64::from(self.health.readiness().ready);
        let metric = encoder.encode_descriptor(
            "agentweave_ready",
            "1 when /health/ready passes, 0 otherwise",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(ready).encode(metric)
    }
}
