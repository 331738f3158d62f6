//! Identity hot paths, each beside a baseline measured in the same run:
//!
//! * `SpiffeId::parse` beside the `spiffe` crate's own `SpiffeId::new` (same rules, same inputs);
//! * a one-shot SVID fetch from the dev Workload API server (connect, `FetchX509SVID`, parse)
//!   beside parsing the same SVID locally with `X509Svid::from_der` (the floor of any fetch).
//!
//! `cargo bench -p agentweave-identity --bench identity`

use std::hint::black_box;
use std::time::Duration;

use agentweave_identity::dev::{DevIssuer, DevIssuerConfig, DevWorkloadApiServer};
use agentweave_identity::{SpiffeId, TrustDomain, X509Svid};
use criterion::{Criterion, criterion_group, criterion_main};

const IDS: [&str; 4] = [
    "spiffe://example.org/agent/search/prod",
    "spiffe://prod.payments.example.com/agent/payments",
    "spiffe://a/b",
    "spiffe://example.org/ns/default/sa/very-long-service-account-name/agent/x",
];

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("spiffe_id_parse");
    group.bench_function("agentweave", |b| {
        b.iter(|| {
            for id in IDS {
                black_box(SpiffeId::parse(black_box(id)).ok());
            }
        })
    });
    group.bench_function("baseline_spiffe_crate", |b| {
        b.iter(|| {
            for id in IDS {
                black_box(spiffe::SpiffeId::new(black_box(id)).ok());
            }
        })
    });
    group.finish();
}

fn fetch(c: &mut Criterion) {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let id = SpiffeId::parse("spiffe://example.org/agent/bench").unwrap();
    let (issuer, server) = runtime.block_on(async {
        let issuer =
            DevIssuer::start(TrustDomain::new("example.org").unwrap(), DevIssuerConfig::default())
                .unwrap();
        let server = DevWorkloadApiServer::start(
            issuer.clone(),
            std::slice::from_ref(&id),
            dir.path().join("api.sock"),
        )
        .await
        .unwrap();
        (issuer, server)
    });
    let endpoint = server.endpoint();
    let svid = issuer.issue(&id).unwrap();

    let mut group = c.benchmark_group("svid_fetch");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("workload_api_connect_and_fetch", |b| {
        b.to_async(&runtime).iter(|| async {
            let client = spiffe::WorkloadApiClient::connect_to(&endpoint).await.unwrap();
            let fetched = client.fetch_x509_svid().await.unwrap();
            X509Svid::from_der(
                fetched.cert_chain().iter().map(|c| c.as_bytes().to_vec().into()).collect(),
                fetched.private_key().as_bytes(),
            )
            .unwrap()
        })
    });
    let client = runtime.block_on(spiffe::WorkloadApiClient::connect_to(&endpoint)).unwrap();
    group.bench_function("workload_api_fetch_on_open_connection", |b| {
        b.to_async(&runtime).iter(|| async { client.fetch_x509_svid().await.unwrap() })
    });
    group.bench_function("baseline_local_parse", |b| {
        b.iter(|| X509Svid::from_der(svid.chain().to_vec(), svid.private_key_pkcs8_der()).unwrap())
    });
    group.finish();
    drop(server);
}

criterion_group!(benches, parse, fetch);
criterion_main!(benches);
