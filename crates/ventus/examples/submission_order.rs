//! Run with: cargo run --example submission_order
//!
//! An emitter built with `submission_order(true)` runs its emissions one at a time, in
//! the order they were submitted: from several tasks, each task's emissions keep their
//! order and never overlap; an emission made from a handler goes to the back of the
//! queue, after the ones already waiting. Expected output (the interleaving of the three
//! producers may differ from run to run):
//!
//! ```text
//! ran: a1 b1 c1 a2 b2 c2 a3 b3 c3
//! each producer's jobs ran in order, one at a time
//! ran: Batch Report Audit
//! ```

#![allow(clippy::print_stdout, reason = "an example prints what it shows")]

use std::sync::{Arc, Mutex};

use ventus::{EventEmitter, EventLinker, TokioEventEmitter};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let linker = EventLinker::builder().build()?;
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let emitter: TokioEventEmitter = EventEmitter::builder()
        .linker(&linker)
        .submission_order(true)
        .build();

    // A job yields a few times: unordered, the jobs of different producers would overlap.
    let jobs = log.clone();
    linker.on("Job").subscribe(move |job: String| {
        let jobs = jobs.clone();
        async move {
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            jobs.lock().unwrap().push(job);
        }
    })?;

    let producers: Vec<_> = ["a", "b", "c"]
        .into_iter()
        .map(|name| {
            let emitter = emitter.clone();
            tokio::spawn(async move {
                let mut handles = Vec::new();
                for n in 1..=3 {
                    handles.push(emitter.emit_with("Job", format!("{name}{n}"))?);
                }
                for handle in handles {
                    handle.await;
                }
                Ok::<_, ventus::EmitError>(())
            })
        })
        .collect();
    for producer in producers {
        producer.await??;
    }
    let ran = std::mem::take(&mut *log.lock().unwrap());
    println!("ran: {}", ran.join(" "));
    for name in ["a", "b", "c"] {
        let mine: Vec<_> = ran.iter().filter(|job| job.starts_with(name)).collect();
        assert_eq!(
            mine,
            [1, 2, 3]
                .map(|n| format!("{name}{n}"))
                .iter()
                .collect::<Vec<_>>()
        );
    }
    println!("each producer's jobs ran in order, one at a time");

    // A handler of "Batch" emits "Audit" while "Report" is already queued: "Audit" runs
    // last, after the handler's own emission and after "Report".
    let (gate_tx, gate_rx) = tokio::sync::oneshot::channel::<()>();
    let gate_rx = Arc::new(Mutex::new(Some(gate_rx)));
    let nested = Arc::new(Mutex::new(None));
    {
        let (log, emitter, nested) = (log.clone(), emitter.clone(), nested.clone());
        linker.on("Batch").subscribe(move || {
            let (log, emitter, nested) = (log.clone(), emitter.clone(), nested.clone());
            let gate = gate_rx.lock().unwrap().take();
            async move {
                log.lock().unwrap().push("Batch".to_string());
                if let Some(gate) = gate {
                    let _ = gate.await; // until "Report" is queued
                }
                *nested.lock().unwrap() = emitter.emit("Audit").ok();
            }
        })?;
    }
    for name in ["Report", "Audit"] {
        let log = log.clone();
        linker
            .on(name)
            .subscribe(move || log.lock().unwrap().push(name.to_string()))?;
    }
    let batch = emitter.emit("Batch")?;
    let report = emitter.emit("Report")?;
    let _ = gate_tx.send(());
    batch.await;
    report.await;
    let audit = nested.lock().unwrap().take();
    if let Some(audit) = audit {
        audit.await;
    }
    println!("ran: {}", log.lock().unwrap().join(" "));
    Ok(())
}
