//! Run with: cargo run --example priorities
//!
//! Ordering handlers with `.priority(i32)`: higher priorities start first, equal ones in
//! subscription order, whatever order the subscriptions were made in. Async handlers are
//! started in that order and then run interleaved. Expected output:
//!
//! ```text
//! 1. validate order 7
//! 2. reserve stock for order 7
//! 3. charge order 7
//! 4. log order 7
//! 5. metrics for order 7 (async)
//! ```

#![allow(clippy::print_stdout, reason = "an example prints what it shows")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ventus::{EventLinker, TokioEventEmitter};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let linker = EventLinker::builder().build()?;
    let step = Arc::new(AtomicUsize::new(0));
    let next = move || step.fetch_add(1, Ordering::Relaxed) + 1;

    // Subscribed out of order on purpose.
    let n = next.clone();
    linker
        .on("OrderPlaced")
        .priority(-10)
        .subscribe(move |id: &u32| println!("{}. log order {id}", n()))?;
    let n = next.clone();
    linker
        .on("OrderPlaced")
        .subscribe(move |id: &u32| println!("{}. charge order {id}", n()))?;
    let n = next.clone();
    linker
        .on("OrderPlaced")
        .priority(100)
        .subscribe(move |id: &u32| println!("{}. validate order {id}", n()))?;
    let n = next.clone();
    linker
        .on("OrderPlaced")
        .priority(50)
        .subscribe(move |id: &u32| println!("{}. reserve stock for order {id}", n()))?;
    let n = next;
    linker
        .on("OrderPlaced")
        .priority(-20)
        .subscribe(move |id: u32| {
            let n = n.clone();
            async move { println!("{}. metrics for order {id} (async)", n()) }
        })?;

    let emitter = TokioEventEmitter::with_linker(&linker);
    let report = emitter.run_with("OrderPlaced", 7_u32).await?;
    assert_eq!(report.counts().succeeded, 5);
    Ok(())
}
