//! W2s and W2a: async context, a task on a worker of a 2-worker multi-thread runtime,
//! K async handlers. W2s schedules N emissions with `emit_with`, then awaits
//! `wait_for_tasks`; W2a awaits `run_with` per emission. Both against F3; W2s also
//! against F5 (broadcast to K consumer tasks), with F2 (a spawn per emission) as context.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ventus::TokioEventEmitter;

use crate::floors::{counting_async, AsyncFloor, F5};
use crate::harness::{fail, failure_count, leak_counter, median, Expect, Samples, Settings};
use crate::report::{Row, Target};
use crate::workloads::{async_setup, per_op, validity, N};

/// The sides of a W2 round, rotated from round to round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Ventus,
    F3,
    F2,
    F5,
}

/// State of W2s/W2a, moved into a task on a worker thread of the runtime.
struct W2 {
    emitter: TokioEventEmitter,
    ventus: Expect,
    floor: AsyncFloor,
    floor_expect: Expect,
    /// W2s only: F5 with K handlers of its own.
    f5: Option<(F5, Expect)>,
    awaited: bool,
}

/// Per-round ns per emission of each side (the floors' vectors stay empty for W2a's F2
/// and F5).
#[derive(Debug, Default)]
struct W2Samples {
    ventus: Vec<f64>,
    f3: Vec<f64>,
    f2: Vec<f64>,
    f5: Vec<f64>,
}

impl W2 {
    async fn ventus_batch(&mut self) -> Duration {
        let mut errors = 0;
        let start = Instant::now();
        if self.awaited {
            for i in 0..N {
                if self.emitter.run_with("E", black_box(i)).await.is_err() {
                    errors += 1;
                }
            }
        } else {
            for i in 0..N {
                if self.emitter.emit_with("E", black_box(i)).is_err() {
                    errors += 1;
                }
            }
            self.emitter.wait_for_tasks().await;
        }
        let d = start.elapsed();
        if errors > 0 {
            fail(format!("W2 ventus: {errors} emissions returned an error"));
        }
        self.ventus.ran(N);
        d
    }

    async fn f3_batch(&mut self) -> Duration {
        let start = Instant::now();
        for i in 0..N {
            self.floor.emit_joined(black_box(i)).await;
        }
        let d = start.elapsed();
        self.floor_expect.ran(N);
        d
    }

    async fn f2_batch(&mut self, handles: &mut Vec<tokio::task::JoinHandle<()>>) -> Duration {
        let start = Instant::now();
        for i in 0..N {
            handles.push(self.floor.emit_spawned(black_box(i)));
        }
        for h in handles.drain(..) {
            if h.await.is_err() {
                fail("W2 F2: a spawned emission failed");
            }
        }
        let d = start.elapsed();
        self.floor_expect.ran(N);
        d
    }

    /// `batches` F5 batches (the time of each summed); the consumers are spawned before
    /// the first and joined after the last, outside the timing.
    async fn f5_batches(&mut self, batches: usize) -> Duration {
        let Some((f5, expect)) = &mut self.f5 else {
            return Duration::ZERO;
        };
        f5.start();
        let mut t = Duration::ZERO;
        for _ in 0..batches {
            let start = Instant::now();
            f5.batch().await;
            t += start.elapsed();
            expect.ran(N);
        }
        f5.stop().await;
        t
    }

    /// Rounds of every side, rotating the order.
    async fn run(mut self, s: Settings) -> W2Samples {
        let mut handles = Vec::with_capacity(N as usize);
        let sides: &[Side] = if self.awaited {
            &[Side::Ventus, Side::F3]
        } else {
            &[Side::Ventus, Side::F3, Side::F2, Side::F5]
        };
        let _ = (self.ventus_batch().await, self.f3_batch().await);
        let bv = s.batches_for(self.ventus_batch().await, 10_000);
        let bf = s.batches_for(self.f3_batch().await, 10_000);
        let (b2, b5) = if self.awaited {
            (0, 0)
        } else {
            let _ = self.f5_batches(1).await;
            (
                s.batches_for(self.f2_batch(&mut handles).await, 10_000),
                s.batches_for(self.f5_batches(1).await, 10_000),
            )
        };
        let mut out = W2Samples::default();
        for round in 0..s.rounds {
            for i in 0..sides.len() {
                match sides[(round + i) % sides.len()] {
                    Side::Ventus => {
                        let mut t = Duration::ZERO;
                        for _ in 0..bv {
                            t += self.ventus_batch().await;
                        }
                        out.ventus.push(per_op(t, N * bv as u64));
                    }
                    Side::F3 => {
                        let mut t = Duration::ZERO;
                        for _ in 0..bf {
                            t += self.f3_batch().await;
                        }
                        out.f3.push(per_op(t, N * bf as u64));
                    }
                    Side::F2 => {
                        let mut t = Duration::ZERO;
                        for _ in 0..b2 {
                            t += self.f2_batch(&mut handles).await;
                        }
                        out.f2.push(per_op(t, N * b2 as u64));
                    }
                    Side::F5 => {
                        let t = self.f5_batches(b5).await;
                        out.f5.push(per_op(t, N * b5 as u64));
                    }
                }
            }
        }
        out
    }
}

/// W2s (`awaited = false`: `emit_with` N times, then `wait_for_tasks`; rows against F3,
/// with F2 in the note, and against F5) and W2a (`run_with(..).await` per emission; a
/// row against F3).
pub(crate) fn w2(s: &Settings, k: usize, awaited: bool) -> Vec<Row> {
    let before = failure_count();
    let workload = if awaited { "W2a" } else { "W2s" };
    let what = format!("{workload} K={k}");
    let (emitter, ventus, floor, floor_expect) = async_setup(k, &what);
    let f5 = (!awaited).then(|| {
        let cells: Vec<_> = (0..k).map(|_| leak_counter()).collect();
        let handlers = cells.iter().map(|&c| counting_async(c)).collect();
        (
            F5::new(handlers, N),
            Expect::new(format!("{what} F5"), cells),
        )
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let state = W2 {
        emitter,
        ventus,
        floor,
        floor_expect,
        f5,
        awaited,
    };
    let settings = *s;
    let out = rt
        .block_on(rt.spawn(state.run(settings)))
        .unwrap_or_else(|e| panic!("{workload} task: {e}"));
    drop(rt);
    let against = |floor: &[f64]| Samples {
        ventus: out.ventus.clone(),
        floor: floor.to_vec(),
    };
    if awaited {
        let row = Row::timing(
            workload,
            format!("K={k}"),
            &against(&out.f3),
            "F3",
            Target::RatioAtMost(1.2),
        );
        return vec![validity(row, before)];
    }
    let f3 = Row::timing(
        workload,
        format!("K={k}"),
        &against(&out.f3),
        "F3",
        Target::RatioAtMost(2.0),
    );
    let f2 = median(&out.f2);
    let note = format!(
        "F2 (spawn per emission): {:.1} ns = {:.1}× F3",
        f2,
        f2 / f3.floor
    );
    let f3 = f3.note(note);
    let f5 = Row::timing(
        workload,
        format!("K={k}"),
        &against(&out.f5),
        "F5",
        Target::RatioAtMost(1.0),
    )
    .note(format!(
        "F5: broadcast to {k} consumer task(s), spawned per round outside the timing"
    ));
    vec![validity(f3, before), validity(f5, before)]
}
