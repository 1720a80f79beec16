//! Run with: cargo run --example quickstart_macros
//!
//! The seed's first example with attributes, as Pyventus writes it with
//! `@EventLinker.on("StringEvent")`: a sync and an async handler linked to `"StringEvent"`
//! on the global linker, with no registration call in `main`. The global linker links them
//! on its first use, which `TokioEventEmitter::new()` makes. `emit` runs both handlers to
//! completion before it returns, so the last line is printed after both callbacks.

#![allow(clippy::print_stdout, reason = "an example prints what it shows")]

use ventus::TokioEventEmitter;

#[ventus::on("StringEvent")]
fn sync_event_callback() {
    println!("Sync event callback!");
}

#[ventus::on("StringEvent")]
async fn async_event_callback() {
    println!("Async event callback!");
}

fn main() -> anyhow::Result<()> {
    TokioEventEmitter::new().emit("StringEvent")?;

    // Printed only once `emit` returned: in a sync context it waits for every handler.
    println!("emit returned after both callbacks ran");
    Ok(())
}
