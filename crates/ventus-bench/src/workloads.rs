//! W1, W1t, W4, W5, A and M (W2s and W2a are in `w2.rs`, W3 in `w3.rs`, W6 in `w6.rs`,
//! W7 in `w7.rs`).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use ventus::{Event, EventLinker, TokioEventEmitter};

use crate::floors::{counting, counting_async, AsyncFloor, F1};
use crate::harness::{fail, failure_count, interleave, leak_counter, Expect, Samples, Settings};
use crate::report::{Row, Target};

/// Emissions per batch; the handlers' counters are checked after every batch.
pub(crate) const N: u64 = 1_000;

/// The typed event of W1t.
#[derive(Debug, Clone)]
pub(crate) struct Tick(#[allow(dead_code)] pub(crate) u64); // handlers ignore it, as W1's do

impl Event for Tick {}

pub(crate) fn linker() -> EventLinker {
    EventLinker::builder()
        .build()
        .unwrap_or_else(|e| panic!("a fresh linker: {e}"))
}

/// Times `n` calls of `emit`; records a failure if one of them reported an error.
fn timed(what: &str, n: u64, mut emit: impl FnMut(u64) -> bool) -> Duration {
    let mut errors = 0_u64;
    let start = Instant::now();
    for i in 0..n {
        if !emit(black_box(i)) {
            errors += 1;
        }
    }
    let elapsed = start.elapsed();
    if errors > 0 {
        fail(format!(
            "{what}: {errors} of {n} emissions returned an error"
        ));
    }
    elapsed
}

pub(crate) fn per_op(total: Duration, ops: u64) -> f64 {
    total.as_nanos() as f64 / ops as f64
}

/// Warms both sides up, sizes each side's rounds by its own batch time (so both run
/// about `round_budget` per round, and neither is measured cold), then interleaves.
pub(crate) fn rounds(
    s: &Settings,
    ops_per_batch: u64,
    mut ventus: impl FnMut() -> Duration,
    mut floor: impl FnMut() -> Duration,
) -> Samples {
    let _ = (ventus(), floor());
    let bv = s.batches_for(ventus(), 100_000);
    let bf = s.batches_for(floor(), 100_000);
    interleave(
        s.rounds,
        || per_op((0..bv).map(|_| ventus()).sum(), ops_per_batch * bv as u64),
        || per_op((0..bf).map(|_| floor()).sum(), ops_per_batch * bf as u64),
    )
}

pub(crate) fn validity(row: Row, failures_before: usize) -> Row {
    Row {
        valid: failure_count() == failures_before,
        ..row
    }
}

/// A ventus linker with `k` counting sync handlers on `E` (or on [`Tick`]), and F1 with
/// `k` of its own.
pub(crate) struct SyncSetup {
    pub(crate) emitter: TokioEventEmitter,
    pub(crate) ventus: Expect,
    pub(crate) f1: F1,
    pub(crate) floor: Expect,
}

pub(crate) fn sync_setup(k: usize, typed: bool, what: &str) -> SyncSetup {
    let linker = linker();
    let vc: Vec<_> = (0..k).map(|_| leak_counter()).collect();
    for &c in &vc {
        let sub = if typed {
            linker.on_event::<Tick>().subscribe(move |_: &Tick| {
                c.fetch_add(1, Ordering::Relaxed);
            })
        } else {
            linker.on("E").subscribe(move |_: &u64| {
                c.fetch_add(1, Ordering::Relaxed);
            })
        };
        sub.unwrap_or_else(|e| panic!("subscribe: {e}"));
    }
    let fc: Vec<_> = (0..k).map(|_| leak_counter()).collect();
    let mut f1 = F1::default();
    for &c in &fc {
        f1.add(if typed { "Tick" } else { "E" }, counting(c));
    }
    SyncSetup {
        emitter: TokioEventEmitter::with_linker(&linker),
        ventus: Expect::new(format!("{what} ventus"), vc),
        f1,
        floor: Expect::new(format!("{what} F1"), fc),
    }
}

/// W1 (`emit_with("E", i)`) and W1t (`emit_event(Tick(i))`): sync context, K sync
/// handlers, against F1.
pub(crate) fn w1(s: &Settings, k: usize, typed: bool) -> Row {
    let before = failure_count();
    let workload = if typed { "W1t" } else { "W1" };
    let what = format!("{workload} K={k}");
    let SyncSetup {
        emitter,
        ventus: mut ev,
        f1,
        floor: mut ef,
    } = sync_setup(k, typed, &what);
    let samples = rounds(
        s,
        N,
        || {
            let d = if typed {
                timed(&what, N, |i| emitter.emit_event(Tick(i)).is_ok())
            } else {
                timed(&what, N, |i| emitter.emit_with("E", i).is_ok())
            };
            ev.ran(N);
            d
        },
        || {
            let name = if typed { "Tick" } else { "E" };
            let d = timed(&what, N, |i| f1.emit(name, &i) == k);
            ef.ran(N);
            d
        },
    );
    validity(
        Row::timing(
            workload,
            format!("K={k}"),
            &samples,
            "F1",
            Target::RatioAtMost(1.0),
        ),
        before,
    )
}

pub(crate) fn isqrt(n: usize) -> usize {
    let mut r = (n as f64).sqrt() as usize;
    while r * r > n {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= n {
        r += 1;
    }
    r.max(1)
}

/// A ventus linker with `k` counting async handlers on `E`, and the F2/F3/F4 floor
/// with `k` of its own.
pub(crate) fn async_setup(k: usize, what: &str) -> (TokioEventEmitter, Expect, AsyncFloor, Expect) {
    let linker = linker();
    let vc: Vec<_> = (0..k).map(|_| leak_counter()).collect();
    for &c in &vc {
        linker
            .on("E")
            .subscribe(move |_: u64| async move {
                c.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap_or_else(|e| panic!("subscribe: {e}"));
    }
    let fc: Vec<_> = (0..k).map(|_| leak_counter()).collect();
    let floor = AsyncFloor::new(fc.iter().map(|&c| counting_async(c)).collect());
    (
        TokioEventEmitter::with_linker(&linker),
        Expect::new(format!("{what} ventus"), vc),
        floor,
        Expect::new(format!("{what} floor"), fc),
    )
}

/// W4: sync context (no runtime on this thread), one async handler, against F4.
pub(crate) fn w4(s: &Settings) -> Row {
    let before = failure_count();
    let (emitter, mut ev, mut floor, mut ef) = async_setup(1, "W4");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let samples = rounds(
        s,
        N,
        || {
            let d = timed("W4", N, |i| emitter.emit_with("E", i).is_ok());
            ev.ran(N);
            d
        },
        || {
            let d = timed("W4 F4", N, |i| {
                floor.emit_blocking(&rt, i);
                true
            });
            ef.ran(N);
            d
        },
    );
    validity(
        Row::timing(
            "W4",
            "1 async handler",
            &samples,
            "F4",
            Target::RatioAtMost(1.0),
        )
        .note("F4: cached current-thread runtime, block_on per emission"),
        before,
    )
}

thread_local! {
    /// W5's handlers count in the emitting thread's own counter, so a shared counter's
    /// cache line does not bound the scaling being measured.
    static HITS: AtomicU64 = const { AtomicU64::new(0) };
}

fn hit() {
    HITS.with(|h| h.fetch_add(1, Ordering::Relaxed));
}

/// Two worker threads that live for the whole of W5, so the scheduler has placed them
/// on their cores before anything is timed (a thread spawned per measurement may start
/// on its parent's core and finish before it migrates).
struct Pair<'a> {
    start: &'a Barrier,
    done: &'a Barrier,
    job: &'a std::sync::Mutex<Job>,
    spans: &'a std::sync::Mutex<Vec<(Instant, Instant)>>,
}

#[derive(Clone, Copy)]
struct Job {
    /// 0: ventus, 1: F1, 2: stop.
    side: u8,
    threads: usize,
    n: u64,
}

impl Pair<'_> {
    /// Runs `job` on `job.threads` of the two workers at once; returns the wall time from
    /// the first start to the last end divided by all emissions (ns per emission).
    fn measure(&self, job: Job) -> f64 {
        *self.job.lock().unwrap_or_else(|e| e.into_inner()) = job;
        self.start.wait();
        self.done.wait();
        let spans = std::mem::take(&mut *self.spans.lock().unwrap_or_else(|e| e.into_inner()));
        let first = spans.iter().map(|s| s.0).min();
        let last = spans.iter().map(|s| s.1).max();
        match (first, last) {
            (Some(first), Some(last)) => per_op(last - first, job.n * job.threads as u64),
            _ => f64::NAN,
        }
    }

    fn stop(&self) {
        *self.job.lock().unwrap_or_else(|e| e.into_inner()) = Job {
            side: 2,
            threads: 0,
            n: 0,
        };
        self.start.wait();
    }

    fn worker<V: Fn(u64) -> bool + Sync, F: Fn(u64) -> bool + Sync>(
        &self,
        index: usize,
        ventus: &V,
        floor: &F,
    ) {
        loop {
            self.start.wait();
            let job = *self.job.lock().unwrap_or_else(|e| e.into_inner());
            if job.side == 2 {
                return;
            }
            if index < job.threads {
                let span = if job.side == 0 {
                    run_on_this_thread("W5 ventus", job.n, ventus)
                } else {
                    run_on_this_thread("W5 F1", job.n, floor)
                };
                self.spans
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(span);
            }
            self.done.wait();
        }
    }
}

/// `n` emissions on this thread, checked against this thread's handler counter.
fn run_on_this_thread<E: Fn(u64) -> bool>(what: &str, n: u64, emit: &E) -> (Instant, Instant) {
    let hits = HITS.with(|h| h.load(Ordering::Relaxed));
    let mut errors = 0;
    let start = Instant::now();
    for i in 0..n {
        if !emit(black_box(i)) {
            errors += 1;
        }
    }
    let end = Instant::now();
    let ran = HITS.with(|h| h.load(Ordering::Relaxed)) - hits;
    if errors > 0 || ran != n {
        fail(format!(
            "{what}: {errors} errors, handler ran {ran} times on this thread, expected {n}"
        ));
    }
    (start, end)
}

/// W5: two threads emitting W1 (K = 1) at once, throughput against one thread; F1 the
/// same way as context.
pub(crate) fn w5(s: &Settings) -> Vec<Row> {
    let before = failure_count();
    let linker = linker();
    linker
        .on("E")
        .subscribe(|_: &u64| hit())
        .unwrap_or_else(|e| panic!("subscribe: {e}"));
    let emitter = TokioEventEmitter::with_linker(&linker);
    let mut f1 = F1::default();
    f1.add("E", Box::new(|_: &u64| hit()));
    let ventus = |i: u64| emitter.emit_with("E", i).is_ok();
    let floor = |i: u64| f1.emit("E", &i) == 1;

    let (start, done) = (Barrier::new(3), Barrier::new(3));
    let job = std::sync::Mutex::new(Job {
        side: 0,
        threads: 0,
        n: 0,
    });
    let spans = std::sync::Mutex::new(Vec::new());
    let pair = Pair {
        start: &start,
        done: &done,
        job: &job,
        spans: &spans,
    };
    let (v, f) = std::thread::scope(|scope| {
        for index in 0..2 {
            let (pair, ventus, floor) = (&pair, &ventus, &floor);
            scope.spawn(move || pair.worker(index, ventus, floor));
        }
        let budget = s.round_budget.as_nanos() as f64;
        let size = |side: u8| {
            let _ = pair.measure(Job {
                side,
                threads: 2,
                n: N * 20,
            });
            let one = pair.measure(Job {
                side,
                threads: 1,
                n: N * 20,
            });
            ((budget / one.max(1.0)) as u64).clamp(N, 100_000_000)
        };
        let (nv, nf) = (size(0), size(1));
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
                    0 => v.floor.push(pair.measure(Job {
                        side: 0,
                        threads: 1,
                        n: nv,
                    })),
                    1 => v.ventus.push(pair.measure(Job {
                        side: 0,
                        threads: 2,
                        n: nv,
                    })),
                    2 => f.floor.push(pair.measure(Job {
                        side: 1,
                        threads: 1,
                        n: nf,
                    })),
                    _ => f.ventus.push(pair.measure(Job {
                        side: 1,
                        threads: 2,
                        n: nf,
                    })),
                }
            }
        }
        pair.stop();
        (v, f)
    });
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
            param: "K=1, 2 threads".to_owned(),
            ventus: two,
            floor_name: floor_name.to_owned(),
            floor: one,
            ratio: one / two,
            ratio_kind: "throughput 2 threads / 1 thread (= floor_ns / ventus_ns)",
            ratio_of_rounds: Some(crate::harness::median(&per_round)),
            unit: "ns",
            target,
            rounds: samples.ventus.len(),
            note: "ventus: wall time / emissions of both threads; floor: the same on 1 thread"
                .to_owned(),
            valid: failure_count() == before,
        }
    };
    vec![
        row("W5", &v, "ventus, 1 thread", Target::RatioAtLeast(1.8)),
        row("W5 (F1)", &f, "F1, 1 thread", Target::None),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isqrt_is_exact() {
        assert_eq!(isqrt(10), 3);
        assert_eq!(isqrt(100_000), 316);
        assert_eq!(isqrt(1), 1);
        assert_eq!(isqrt(0), 1);
    }
}
