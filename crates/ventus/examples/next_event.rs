//! Run with: cargo run --example next_event
//!
//! Awaiting the next emission of an event instead of subscribing a handler: a typed
//! payload, a predicate, a timeout, and a blocking wait from sync code. The waiter is a
//! subscriber only while it waits: after each outcome the event has none left. Expected
//! output:
//!
//! ```text
//! order 42 paid
//! first hot reading: 31.2 °C
//! no refund within 20ms: no matching emission within 20ms
//! sync code got: db ready
//! subscribers left: 0
//! ```

#![allow(clippy::print_stdout, reason = "an example prints what it shows")]

use std::time::Duration;

use ventus::{EventLinker, NextError, TokioEventEmitter};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let linker = EventLinker::builder().build()?;
    let emitter = TokioEventEmitter::with_linker(&linker);

    // Subscribed now: the emission of the spawned task cannot be missed.
    let paid = linker.next_with::<u64>("OrderPaid");
    let payments = emitter.clone();
    tokio::spawn(async move { payments.emit_with("OrderPaid", 42_u64).map(drop) });
    println!("order {} paid", paid.await?);

    // Only a payload the predicate accepts resolves it.
    let hot = linker.next_where("Reading", |celsius: &f64| *celsius > 30.0);
    for reading in [21.5, 24.0, 31.2, 35.0] {
        emitter.run_with("Reading", reading).await?;
    }
    println!("first hot reading: {} °C", hot.await?);

    // Nobody emits `Refunded`: the timeout ends the wait, and unsubscribes.
    let refund = linker
        .next_with::<u64>("Refunded")
        .timeout(Duration::from_millis(20));
    match refund.await {
        Err(err @ NextError::TimedOut(limit)) => println!("no refund within {limit:?}: {err}"),
        other => anyhow::bail!("unexpected {other:?}"),
    }

    // Sync code blocks on `wait`, here on a thread of its own, while this task emits.
    let ready = linker.next_with::<String>("Ready");
    let waiting = std::thread::spawn(move || ready.wait());
    emitter.run_with("Ready", "db ready".to_string()).await?;
    println!("sync code got: {}", waiting.join().expect("no panic")?);

    println!("subscribers left: {}", linker.subscriber_count());
    Ok(())
}
