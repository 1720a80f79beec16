//! Run with: cargo run --example patterns
//!
//! Subscribing to families of events with `.`-separated patterns: `*` matches one
//! segment, `**` one or more. One emission reaches the event's own subscribers, the
//! matching patterns' and "any event"'s, each once, by priority then subscription order.
//! Expected output:
//!
//! ```text
//! order.created: audit log
//! order.created: mail the customer
//! order.created: count order events (1)
//! order.shipped.eu: count order events (2)
//! user.created: audit log
//! `order*` refused: `order*` is not a valid event pattern: `*` and `**` stand for whole segments: write `order.*` (one segment) or `order.**` (one or more), not `order*`
//! ```

#![allow(clippy::print_stdout, reason = "an example prints what it shows")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ventus::{AnyEvent, EventLinker, TokioEventEmitter};

fn main() -> anyhow::Result<()> {
    let linker = EventLinker::builder().build()?;

    // `*.created`: any one-segment family's creation; runs first (priority 10).
    linker
        .on("*.created")
        .priority(10)
        .subscribe(|e: &AnyEvent| println!("{}: audit log", e.name()))?;
    // The exact name.
    linker
        .on("order.created")
        .subscribe(|e: &AnyEvent| println!("{}: mail the customer", e.name()))?;
    // Everything under `order.`, at any depth.
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    linker.on("order.**").subscribe(move |e: &AnyEvent| {
        let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
        println!("{}: count order events ({n})", e.name());
    })?;

    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("order.created")?;
    emitter.emit("order.shipped.eu")?;
    emitter.emit("user.created")?;
    emitter.emit("invoice.sent.late")?; // matches nothing: no handler runs

    // A `*` must be a whole segment: refused at subscribe, nothing linked.
    match linker.on("order*").subscribe(|| ()) {
        Err(err) => println!("`order*` refused: {err}"),
        Ok(_) => anyhow::bail!("a malformed pattern was accepted"),
    }
    assert_eq!(count.load(Ordering::Relaxed), 2);
    Ok(())
}
