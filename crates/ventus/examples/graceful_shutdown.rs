//! Run with: cargo run --example graceful_shutdown
//!
//! A graceful shutdown with a deadline: `shutdown(timeout)` refuses new emissions at once,
//! gives the emissions in flight until the deadline, cancels the rest, and reports how
//! many finished and how many were cancelled. Here three quick emissions finish and one
//! stuck emission is cancelled after 200 ms; an `emit` afterwards is refused with
//! `EmitError::Closed`. Expected output:
//!
//! ```text
//! 4 emissions in flight; shutting down with a 200ms deadline
//! job 1 done
//! job 2 done
//! job 3 done
//! the stuck handler was dropped
//! shutdown: 3 finished, 1 cancelled
//! emit after shutdown: event `Job` was not emitted: the emitter was shut down and refuses new emissions
//! ```

#![allow(clippy::print_stdout, reason = "an example prints what it shows")]

use std::time::Duration;

use ventus::{EmitError, EventLinker, TokioEventEmitter};

/// Prints when dropped: shows that a cancelled handler's future is dropped.
struct SaysWhenDropped;

impl Drop for SaysWhenDropped {
    fn drop(&mut self) {
        println!("the stuck handler was dropped");
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let linker = EventLinker::builder().build()?;
    linker.on("Job").subscribe(|n: u32| async move {
        tokio::time::sleep(Duration::from_millis(10 * u64::from(n))).await;
        println!("job {n} done");
    })?;
    linker.on("Stuck").subscribe(|| {
        let guard = SaysWhenDropped;
        async move {
            let _guard = guard;
            std::future::pending::<()>().await; // never finishes by itself
        }
    })?;

    let emitter = TokioEventEmitter::with_linker(&linker);
    for n in 1..=3_u32 {
        let _ = emitter.emit_with("Job", n)?; // handles dropped: fire-and-forget
    }
    let _ = emitter.emit("Stuck")?;

    let deadline = Duration::from_millis(200);
    println!(
        "{} emissions in flight; shutting down with a {deadline:?} deadline",
        emitter.metrics().in_flight
    );
    let report = emitter.shutdown(deadline).await;
    println!(
        "shutdown: {} finished, {} cancelled",
        report.finished, report.cancelled
    );

    match emitter.emit_with("Job", 4_u32) {
        Err(err @ EmitError::Closed { .. }) => println!("emit after shutdown: {err}"),
        other => anyhow::bail!("expected the emitter to refuse, got {other:?}"),
    }
    Ok(())
}
