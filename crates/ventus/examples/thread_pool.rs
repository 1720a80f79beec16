//! Run with: cargo run --example thread_pool
//!
//! Pyventus's `ExecutorEventEmitter`, in Rust: a `ThreadPoolEventEmitter` with four worker
//! threads. A few CPU-bound sync handlers (counting primes) and an async one (which awaits
//! a timer on the worker's own tokio runtime) are linked to `"Crunch"`. Each `emit`
//! returns at once with a handle; `main` waits on the handles, prints which worker ran
//! what, and shuts the pool down. The order of the lines and the worker names vary from
//! run to run; the totals do not.

#![allow(clippy::print_stdout, reason = "an example prints what it shows")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ventus::{EventLinker, ThreadPoolEventEmitter};

/// Counts the primes below `limit`, slowly on purpose.
fn count_primes(limit: u64) -> usize {
    (2..limit)
        .filter(|n| (2..).take_while(|d| d * d <= *n).all(|d| n % d != 0))
        .count()
}

fn worker_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_owned()
}

fn main() -> anyhow::Result<()> {
    let linker = EventLinker::builder().build()?;
    // Which worker ran how many handlers.
    let per_worker: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();

    let seen = per_worker.clone();
    linker.on("Crunch").subscribe(move |limit: &u64| {
        let primes = count_primes(*limit);
        let worker = worker_name();
        println!("[{worker}] sync: {primes} primes below {limit}");
        *seen.lock().unwrap().entry(worker).or_default() += 1;
        primes
    })?;

    let seen = per_worker.clone();
    linker.on("Crunch").subscribe(move |limit: u64| {
        let seen = seen.clone();
        async move {
            // Async handlers run on the worker's own current-thread tokio runtime.
            tokio::time::sleep(Duration::from_millis(5)).await;
            let worker = worker_name();
            println!("[{worker}] async: done waiting for {limit}");
            *seen.lock().unwrap().entry(worker).or_default() += 1;
        }
    })?;

    let emitter = ThreadPoolEventEmitter::with_linker(&linker, 4);
    let handles = [20_000_u64, 40_000, 60_000, 80_000, 100_000, 120_000]
        .into_iter()
        .map(|limit| emitter.emit_with("Crunch", limit))
        .collect::<Result<Vec<_>, _>>()?;
    println!("emitted {} events; emit returned at once", handles.len());

    let mut succeeded = 0;
    for handle in handles {
        let report = handle
            .wait()
            .map_err(|_| anyhow::anyhow!("main has no runtime, so waiting cannot fail"))?;
        succeeded += report.counts().succeeded;
    }
    println!("{succeeded} handlers succeeded");
    for (worker, count) in per_worker.lock().unwrap().iter() {
        println!("{worker} ran {count} handlers");
    }

    // Python's `shutdown(wait=True)`: refuses new emissions, runs what was queued,
    // joins the workers. Dropping the emitter would do the same.
    emitter.processor().shutdown(true);
    assert!(emitter.emit_with("Crunch", 10_u64).is_err());
    println!("pool shut down; further emits are refused");
    Ok(())
}
