//! Run with: cargo run --example await_emission
//!
//! `emit` returns a handle. Dropping it detaches (fire-and-forget, as before); awaiting it
//! gives the emission's report. With `detailed_reports(true)` the report lists each
//! handler's outcome and duration. `run` waits the same way, but runs the handlers in the
//! calling task instead of spawning the emission; its report is detailed on the same
//! condition.
//! Handlers are listed in the order they finished. Expected output (ids and durations
//! vary):
//!
//! ```text
//! emit returned at once; awaiting the handle
//! emission#1 of `OrderPlaced`: 2 succeeded, 1 failed, 0 panicked, 1 timed out, 0 cancelled
//!   await_emission::reserve_stock: succeeded in 2.5µs
//!   await_emission::charge_card: failed (handler `await_emission::charge_card` for event `OrderPlaced` failed: card declined for order 42) in 33.7µs
//!   await_emission::send_receipt: succeeded in 6.2ms
//!   await_emission::notify_warehouse: timed out after 50ms in 51.6ms
//! run in the calling task:
//! emission#2 of `OrderPlaced`: 2 succeeded, 1 failed, 0 panicked, 1 timed out, 0 cancelled
//! ```

#![allow(clippy::print_stdout, reason = "an example prints what it shows")]

use std::time::Duration;

use ventus::{EmissionReport, EventEmitter, EventLinker, HandlerErrorKind, Outcome};

fn reserve_stock(order: &u64) {
    let _ = order; // a sync handler: runs to its end when the emission reaches it
}

async fn send_receipt(order: u64) {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let _ = order;
}

async fn charge_card(order: u64) -> Result<(), String> {
    tokio::task::yield_now().await;
    Err(format!("card declined for order {order}"))
}

async fn notify_warehouse(_order: u64) {
    // Far slower than its timeout: cancelled and reported as timed out.
    tokio::time::sleep(Duration::from_secs(3600)).await;
}

fn print_report(report: &EmissionReport) {
    println!("{report}");
    for handler in report.handlers() {
        let outcome = match &handler.outcome {
            Outcome::Succeeded => "succeeded".to_owned(),
            Outcome::Failed(err) => match err.kind() {
                HandlerErrorKind::TimedOut(limit) => format!("timed out after {limit:?}"),
                _ => format!("failed ({err})"),
            },
            Outcome::Cancelled => "cancelled".to_owned(),
            _ => "ended".to_owned(),
        };
        println!("  {}: {outcome} in {:?}", handler.handler, handler.duration);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let linker = EventLinker::builder().build()?;
    linker.on("OrderPlaced").subscribe(reserve_stock)?;
    linker.on("OrderPlaced").subscribe(send_receipt)?;
    linker
        .on("OrderPlaced")
        .on_failure(|_| ()) // the report shows it; no need to log it too
        .subscribe(charge_card)?;
    linker
        .on("OrderPlaced")
        .timeout(Duration::from_millis(50))
        .on_failure(|_| ())
        .subscribe(notify_warehouse)?;

    let emitter = EventEmitter::builder()
        .linker(&linker)
        .detailed_reports(true)
        .build();

    let handle = emitter.emit_with("OrderPlaced", 42_u64)?;
    println!("emit returned at once; awaiting the handle");
    let report = handle.await;
    print_report(&report);

    // The fast path for code that waits anyway: no task is spawned.
    println!("run in the calling task:");
    let report = emitter.run_with("OrderPlaced", 43_u64).await?;
    println!("{report}");
    Ok(())
}
