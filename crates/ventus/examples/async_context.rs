//! Run with: cargo run --example async_context
//!
//! The seed's second example: a sync and an async handler linked to `"StringEvent"` on the
//! global linker, emitted from inside a current-thread tokio runtime. In an async context
//! `emit` only schedules the emission on the running runtime and returns at once, so the
//! line printed right after `emit` comes first. `emitter.wait_for_tasks().await` stands in
//! for the seed's `asyncio.sleep(0.5)`: it waits until every scheduled emission finished,
//! so both callbacks print before the closing line. Expected output:
//!
//! ```text
//! emit returned; the emission is only scheduled
//! Sync event callback!
//! Async event callback!
//! wait_for_tasks returned after both callbacks ran
//! ```

#![allow(clippy::print_stdout, reason = "an example prints what it shows")]

use ventus::{EventLinker, TokioEventEmitter};

fn sync_event_callback() {
    println!("Sync event callback!");
}

async fn async_event_callback() {
    println!("Async event callback!");
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    EventLinker::global()
        .on("StringEvent")
        .subscribe(sync_event_callback)?;
    EventLinker::global()
        .on("StringEvent")
        .subscribe(async_event_callback)?;

    let event_emitter = TokioEventEmitter::new();
    event_emitter.emit("StringEvent")?;

    // Nothing has run yet: the only runtime thread is busy running `main`.
    println!("emit returned; the emission is only scheduled");

    // Yields to the runtime until every emission this emitter scheduled has finished.
    event_emitter.wait_for_tasks().await;
    println!("wait_for_tasks returned after both callbacks ran");
    Ok(())
}
