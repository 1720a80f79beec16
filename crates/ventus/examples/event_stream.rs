//! Run with: cargo run --example event_stream
//!
//! Reading an event's emissions as a bounded stream: a sensor thread emitting faster than
//! a slow reader that keeps only the latest readings (`DropOldest`, with a lag marker), an
//! order queue that refuses what does not fit (`RefuseNewest`, counted and reported), and
//! the end of a stream when its subscription is removed. Expected output:
//!
//! ```text
//! missed 6 readings
//! reading 6
//! reading 7
//! reading 8
//! reading 9
//! orders taken: [1, 2, 3], refused: 2 (2 failed handlers)
//! removed: the stream ended
//! subscribers left: 0
//! ```

#![allow(clippy::print_stdout, reason = "an example prints what it shows")]

use ventus::{EventLinker, Lagged, StreamOverflow, TokioEventEmitter};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let linker = EventLinker::builder().build()?;
    let emitter = TokioEventEmitter::with_linker(&linker);

    // Subscribed now; keeps at most 4 readings, dropping the oldest.
    let mut readings = linker.stream_with::<u32>("Reading", 4, StreamOverflow::DropOldest)?;
    let sensor = emitter.clone();
    // A plain thread: each emission runs the stream's handler before `emit_with` returns.
    std::thread::spawn(move || {
        for n in 0..10_u32 {
            sensor.emit_with("Reading", n).map(drop)?;
        }
        Ok::<_, ventus::EmitError>(())
    })
    .join()
    .expect("the sensor thread panicked")?;
    // Read only now, as a slow reader would: the first 6 were dropped.
    for _ in 0..5 {
        match readings.recv().await {
            Some(Ok(reading)) => println!("reading {reading}"),
            Some(Err(Lagged(missed))) => println!("missed {missed} readings"),
            None => break,
        }
    }

    // Keeps the first 3 orders; a refused one fails the stream's handler in its report.
    let mut orders = linker.stream_with::<u64>("Order", 3, StreamOverflow::RefuseNewest)?;
    let mut failed = 0;
    for id in 1..=5_u64 {
        failed += emitter.run_with("Order", id).await?.counts().failed;
    }
    let mut taken = Vec::new();
    while !orders.is_empty() {
        if let Some(Ok(id)) = orders.recv().await {
            taken.push(id);
        }
    }
    println!(
        "orders taken: {taken:?}, refused: {} ({failed} failed handlers)",
        orders.refused()
    );

    linker.remove_event("Order");
    if orders.recv().await.is_none() {
        println!("removed: the stream ended");
    }
    drop(readings);
    println!("subscribers left: {}", linker.subscriber_count());
    Ok(())
}
