//! Run with: cargo run --example quickstart
//!
//! The seed's first example: a sync and an async handler linked to `"StringEvent"` on the
//! global linker, emitted from `main` with no runtime running. `emit` runs both handlers
//! to completion before it returns, so the last line is printed after both callbacks.

#![allow(clippy::print_stdout, reason = "an example prints what it shows")]

use ventus::{EventLinker, TokioEventEmitter};

fn sync_event_callback() {
    println!("Sync event callback!");
}

async fn async_event_callback() {
    println!("Async event callback!");
}

fn main() -> anyhow::Result<()> {
    EventLinker::global()
        .on("StringEvent")
        .subscribe(sync_event_callback)?;
    EventLinker::global()
        .on("StringEvent")
        .subscribe(async_event_callback)?;

    let event_emitter = TokioEventEmitter::new();
    event_emitter.emit("StringEvent")?;

    // Printed only once `emit` returned: in a sync context it waits for every handler.
    println!("emit returned after both callbacks ran");
    Ok(())
}
