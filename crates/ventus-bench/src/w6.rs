//! W6: two tasks scheduling emissions at once on a 2-worker multi-thread runtime,
//! against one task doing the same.
//!
//! Each task runs batches of N `emit_with("E", i)` (one async handler) followed by
//! `wait_for_tasks().await`, on one shared emitter. The tasks are spawned from outside the
//! runtime, so each idle worker picks one up; where they run afterwards is the runtime's
//! choice. The time of a measurement is from the first task's start to the last task's
//! end, divided by the emissions of all tasks; the ratio is throughput with two tasks /
//! throughput with one (as W5's). F3 (the handler future awaited in the task) the same
//! way is a context row: how far two tasks scale on the machine at that moment.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use ventus::TokioEventEmitter;

use crate::floors::{AsyncFloor, AsyncHandler, BoxFut};
use crate::harness::{fail, failure_count, median, Samples, Settings};
use crate::report::{Row, Target};
use crate::workloads::{linker, per_op, N};

/// A counter alone on its cache lines, so two workers' counters do not share one.
#[repr(align(128))]
struct Padded(AtomicU64);

/// Every thread's counter, for the sum the checks compare.
static CELLS: Mutex<Vec<&'static AtomicU64>> = Mutex::new(Vec::new());

thread_local! {
    /// This thread's counter: a handler counts on the worker it runs on, so a shared
    /// counter's cache line does not bound the scaling being measured.
    static CELL: &'static AtomicU64 = {
        let cell = &Box::leak(Box::new(Padded(AtomicU64::new(0)))).0;
        CELLS.lock().unwrap_or_else(|e| e.into_inner()).push(cell);
        cell
    };
}

fn hit() {
    CELL.with(|c| c.fetch_add(1, Ordering::Relaxed));
}

/// Handler runs so far, on every thread.
fn hits() -> u64 {
    CELLS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum()
}

/// The F3 handler of W6: counts like ventus's.
fn f3_handler() -> AsyncHandler {
    Box::new(|_: u64| -> BoxFut { Box::pin(async { hit() }) })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Ventus,
    F3,
}

/// One task's part of a measurement: `batches` batches of N emissions.
async fn task(side: Side, emitter: TokioEventEmitter, batches: usize) -> (Instant, Instant, u64) {
    let mut floor = AsyncFloor::new(vec![f3_handler()]);
    let mut errors = 0;
    let start = Instant::now();
    for _ in 0..batches {
        match side {
            Side::Ventus => {
                for i in 0..N {
                    if emitter.emit_with("E", black_box(i)).is_err() {
                        errors += 1;
                    }
                }
                emitter.wait_for_tasks().await;
            }
            Side::F3 => {
                for i in 0..N {
                    floor.emit_joined(black_box(i)).await;
                }
            }
        }
    }
    (start, Instant::now(), errors)
}

/// Runs `tasks` tasks of `batches` batches each at once; returns ns per emission (wall
/// time from the first start to the last end / all emissions) and checks that the
/// handler ran once per emission.
fn measure(
    rt: &tokio::runtime::Runtime,
    emitter: &TokioEventEmitter,
    side: Side,
    tasks: usize,
    batches: usize,
) -> f64 {
    let before = hits();
    let spans = rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|_| tokio::spawn(task(side, emitter.clone(), batches)))
            .collect();
        let mut spans = Vec::with_capacity(tasks);
        for h in handles {
            match h.await {
                Ok(span) => spans.push(span),
                Err(e) => fail(format!("W6 {side:?}: a task failed: {e}")),
            }
        }
        spans
    });
    let emissions = (tasks * batches) as u64 * N;
    let errors: u64 = spans.iter().map(|s| s.2).sum();
    let ran = hits() - before;
    if errors > 0 || ran != emissions {
        fail(format!(
            "W6 {side:?} {tasks} task(s): {errors} emissions returned an error, the handler \
             ran {ran} times, expected {emissions}"
        ));
    }
    let first = spans.iter().map(|s| s.0).min();
    let last = spans.iter().map(|s| s.1).max();
    match (first, last) {
        (Some(first), Some(last)) => per_op(last - first, emissions),
        _ => f64::NAN,
    }
}

/// W6 and its F3 context row.
pub(crate) fn w6(s: &Settings) -> Vec<Row> {
    let before = failure_count();
    let linker = linker();
    linker
        .on("E")
        .subscribe(|_: u64| async { hit() })
        .unwrap_or_else(|e| panic!("subscribe: {e}"));
    let emitter = TokioEventEmitter::with_linker(&linker);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    // Batches per task so that one task alone takes about one round budget.
    let size = |side: Side| {
        let _ = measure(&rt, &emitter, side, 2, 2);
        let one = measure(&rt, &emitter, side, 1, 4);
        let per_batch = one * N as f64;
        ((s.round_budget.as_nanos() as f64 / per_batch.max(1.0)) as usize).clamp(1, 100_000)
    };
    let (bv, bf) = (size(Side::Ventus), size(Side::F3));
    let mut v = Samples::default();
    let mut f = Samples::default();
    for round in 0..s.rounds {
        let order: [usize; 4] = if round % 2 == 0 {
            [0, 1, 2, 3]
        } else {
            [3, 2, 1, 0]
        };
        for which in order {
            match which {
                0 => v.floor.push(measure(&rt, &emitter, Side::Ventus, 1, bv)),
                1 => v.ventus.push(measure(&rt, &emitter, Side::Ventus, 2, bv)),
                2 => f.floor.push(measure(&rt, &emitter, Side::F3, 1, bf)),
                _ => f.ventus.push(measure(&rt, &emitter, Side::F3, 2, bf)),
            }
        }
    }
    drop(rt);
    let row = |workload: &str, samples: &Samples, floor_name: &str, target: Target| {
        let two = samples.ventus_median();
        let one = samples.floor_median();
        let per_round: Vec<f64> = samples
            .floor
            .iter()
            .zip(&samples.ventus)
            .map(|(o, t)| o / t)
            .collect();
        Row {
            workload: workload.to_owned(),
            param: "K=1, 2 tasks".to_owned(),
            ventus: two,
            floor_name: floor_name.to_owned(),
            floor: one,
            ratio: one / two,
            ratio_kind: "throughput 2 tasks / 1 task (= floor_ns / ventus_ns)",
            ratio_of_rounds: Some(median(&per_round)),
            unit: "ns",
            target,
            rounds: samples.ventus.len(),
            note: "ventus: wall time / emissions of both tasks; floor: the same with 1 task"
                .to_owned(),
            valid: failure_count() == before,
        }
    };
    vec![
        row("W6", &v, "ventus, 1 task", Target::RatioAtLeast(1.8)),
        row("W6 (F3)", &f, "F3, 1 task", Target::None),
    ]
}
