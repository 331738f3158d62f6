//! Sustained signed-verdict run: at least 2 million signed finance verdicts (10 line
//! items each), reporting the rate of every 200,000-verdict window so a slowdown over
//! time would show (the Python reference slows about tenfold under sustained load
//! because it rescans its issuance record on every signature).
//!
//! Run: `cargo run --release -p agentweave-guard --example sustained [-- TOTAL [THREADS]]`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use agentweave_attest::{Attestor, AttestorConfig, Es256Attestor, SigningKey};
use agentweave_guard::{Pipeline, PipelineConfig, TrustBoundary, TrustConfig, TrustEntry};

const WINDOW: u64 = 200_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let total: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2_000_000);
    let threads: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u64));

    let config = AttestorConfig::default();
    let key = SigningKey::generate(&config.issuer)?;
    let attestor: Arc<dyn Attestor> = Arc::new(Es256Attestor::new(config, key)?);
    let trust = Arc::new(TrustBoundary::new(TrustConfig {
        max_requests_per_minute: u32::MAX,
        ..TrustConfig::default()
    }));
    trust.trust_agent(TrustEntry::new("procurement-agent"))?;
    let pipeline = Arc::new(Pipeline::new(PipelineConfig::default(), trust, attestor)?);

    let items: Vec<String> = (1..=10)
        .map(|i| format!(r#"{{"description": "item {i}", "amount": "{i}.25", "quantity": {i}}}"#))
        .collect();
    let body = Arc::new(format!(
        r#"{{"sender_agent_id": "procurement-agent", "receiver_agent_id": "treasury-agent", "payload_type": "financial_transaction", "payload": {{"data": {{"claimed_total": "398.75", "line_items": [{}]}}}}}}"#,
        items.join(", ")
    ));

    println!(
        "sustained: {total} signed finance verdicts (10 items), {threads} threads, window {WINDOW}"
    );
    // `claimed` hands out work; `done` counts finished verdicts (what the windows report).
    let claimed = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (p, b) = (pipeline.clone(), body.clone());
            let (claimed, done, failures) = (claimed.clone(), done.clone(), failures.clone());
            std::thread::spawn(move || {
                while claimed.fetch_add(1, Ordering::Relaxed) < total {
                    match p.intercept_json(b.as_bytes()) {
                        Ok(v)
                            if v.attestation_jwt.is_some()
                                && v.reason_code == "finance.verified" => {}
                        _ => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let mut last_count = 0u64;
    let mut last_time = start;
    let mut rates = Vec::new();
    while last_count < total {
        std::thread::sleep(Duration::from_millis(5));
        let n = done.load(Ordering::Relaxed).min(total);
        if n >= last_count + WINDOW || n >= total {
            let now = Instant::now();
            let rate = (n - last_count) as f64 / now.duration_since(last_time).as_secs_f64();
            rates.push(rate);
            println!(
                "window {:>2}: verdicts {:>9}..{:>9}  {:>9.0} verdicts/s",
                rates.len(),
                last_count,
                n,
                rate
            );
            last_count = n;
            last_time = now;
        }
    }
    for w in workers {
        w.join().map_err(|_| "worker panicked")?;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let first = rates.first().copied().unwrap_or(0.0);
    let last = rates.last().copied().unwrap_or(0.0);
    println!(
        "total {total} in {elapsed:.1}s = {:.0} verdicts/s; last/first window rate = {:.2}; failures = {}",
        total as f64 / elapsed,
        last / first,
        failures.load(Ordering::Relaxed)
    );
    if failures.load(Ordering::Relaxed) > 0 {
        return Err("some verdicts were not signed finance.verified".into());
    }
    Ok(())
}
