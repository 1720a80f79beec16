//! W8: submission order. A task on a 2-worker multi-thread runtime emits N = 1 000
//! emissions on an emitter built with `submission_order(true)` (K = 1 async handler) and
//! waits for all of them, against F7: an unbounded tokio mpsc channel into one consumer
//! task that awaits the same handler future for each value, in order.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use ventus::{EventEmitter, TokioEventEmitter};

use crate::floors::{counting_async, AsyncHandler};
use crate::harness::{fail, failure_count, leak_counter, Expect, Settings};
use crate::report::{Row, Target};
use crate::workloads::{linker, rounds, validity, N};

/// What F7's producer sends its consumer.
enum Msg {
    Value(u64),
    /// The batch is sent: answer once every value before this one was handled.
    Flush(oneshot::Sender<()>),
}

/// F7's consumer: awaits `handler` for each value, in the order received.
async fn consume(mut rx: mpsc::UnboundedReceiver<Msg>, handler: AsyncHandler) {
    let mut next = 0_u64;
    let mut out_of_order = false;
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Value(v) => {
                out_of_order |= v != next % N;
                next += 1;
                handler(v).await;
            }
            Msg::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
    if out_of_order {
        fail("W8 (F7): the consumer saw values out of order");
    }
}

/// W8, K = 1.
pub(crate) fn w8(s: &Settings) -> Vec<Row> {
    let before = failure_count();
    let linker = linker();
    let ventus_cell = leak_counter();
    let disorder: &'static AtomicU64 = leak_counter();
    linker
        .on("E")
        .subscribe(move |i: u64| async move {
            // In order: the i-th emission of a batch is the i-th run of the handler.
            let seen = ventus_cell.fetch_add(1, Ordering::Relaxed);
            if seen % N != i {
                disorder.fetch_add(1, Ordering::Relaxed);
            }
        })
        .unwrap_or_else(|e| panic!("subscribe: {e}"));
    let emitter: TokioEventEmitter = EventEmitter::builder()
        .linker(&linker)
        .submission_order(true)
        .build();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let mut ventus_expect = Expect::new("W8 ventus", vec![ventus_cell]);

    let floor_cell = leak_counter();
    let mut floor_expect = Expect::new("W8 (F7)", vec![floor_cell]);
    let (tx, rx) = mpsc::unbounded_channel::<Msg>();
    let consumer = rt.spawn(consume(rx, counting_async(floor_cell)));

    let ventus = || -> Duration {
        let elapsed = rt.block_on(async {
            let start = Instant::now();
            let mut errors = 0;
            let mut tail = None;
            for i in 0..N {
                match emitter.emit_with("E", black_box(i)) {
                    Ok(emitted) => tail = Some(emitted),
                    Err(_) => errors += 1,
                }
            }
            // Ordered: once the last one has its report, every one before it has ended.
            if let Some(tail) = tail {
                tail.await;
            }
            if errors > 0 {
                fail(format!("W8 ventus: {errors} emissions returned an error"));
            }
            start.elapsed()
        });
        ventus_expect.ran(N);
        elapsed
    };
    let floor = || -> Duration {
        let elapsed = rt.block_on(async {
            let start = Instant::now();
            for i in 0..N {
                if tx.send(Msg::Value(black_box(i))).is_err() {
                    fail("W8 (F7): the consumer is gone");
                }
            }
            let (done, flushed) = oneshot::channel();
            let _ = tx.send(Msg::Flush(done));
            let _ = flushed.await;
            start.elapsed()
        });
        floor_expect.ran(N);
        elapsed
    };
    let samples = rounds(s, N, ventus, floor);
    drop(tx);
    if rt.block_on(consumer).is_err() {
        fail("W8 (F7): the consumer panicked");
    }
    if disorder.load(Ordering::Relaxed) != 0 {
        fail("W8 ventus: emissions ran out of submission order");
    }
    drop(rt);
    let row = Row::timing("W8", "K=1", &samples, "F7", Target::RatioAtMost(2.0)).note(
        "ns per emission: 1 000 ordered emit_with from one task, then the last handle awaited",
    );
    vec![validity(row, before)]
}
