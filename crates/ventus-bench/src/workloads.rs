//! W1, W1t, W4, W5, A and M (W2s and W2a are in `w2.rs`, W3 in `w3.rs`, W6 in `w6.rs`,
//! W7 in `w7.rs`).

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

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
fn rounds(
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
struct SyncSetup {
    emitter: TokioEventEmitter,
    ventus: Expect,
    f1: F1,
    floor: Expect,
}

fn sync_setup(k: usize, typed: bool, what: &str) -> SyncSetup {
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

/// A: heap allocations per W1 emission, counted by the counting global allocator on the
/// emitting thread (where a sync-context emission with sync handlers runs).
pub(crate) fn allocs_w1(k: usize, typed: bool) -> Row {
    const M: u64 = 10_000;
    let before = failure_count();
    let what = format!("A {} K={k}", if typed { "W1t" } else { "W1" });
    let SyncSetup {
        emitter,
        ventus: mut ev,
        f1,
        floor: mut ef,
    } = sync_setup(k, typed, &what);
    let name = if typed { "Tick" } else { "E" };
    let mut emit_ventus = |i: u64| {
        let ok = if typed {
            emitter.emit_event(Tick(i)).is_ok()
        } else {
            emitter.emit_with("E", i).is_ok()
        };
        if !ok {
            fail(format!("{what}: an emission returned an error"));
        }
    };
    // Warm up: thread-local blocks, lazily built state.
    (0..N).for_each(&mut emit_ventus);
    (0..N).for_each(|i| {
        f1.emit(name, &i);
    });
    let v = allocation_counter::measure(|| (0..M).for_each(&mut emit_ventus));
    let f = allocation_counter::measure(|| {
        (0..M).for_each(|i| {
            f1.emit(name, &i);
        });
    });
    ev.ran(N + M);
    ef.ran(N + M);
    alloc_row(
        &format!("{} K={k}", if typed { "W1t" } else { "W1" }),
        v.count_total as f64 / M as f64,
        "F1",
        f.count_total as f64 / M as f64,
        Target::ValueAtMost(0.0),
        before,
    )
}

/// A, context: allocations per awaited emission (W2a, K=1) and per sync-context
/// emission of an async handler (W4), counted on the calling thread only.
pub(crate) fn allocs_async() -> Vec<Row> {
    const M: u64 = 2_000;
    let before = failure_count();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let (emitter, mut ev, mut floor, mut ef) = async_setup(1, "A W2a K=1");
    let w2a = rt.block_on(async {
        for i in 0..N {
            let _ = emitter.run_with("E", i).await;
            floor.emit_joined(i).await;
        }
        let v = measure_async(async {
            for i in 0..M {
                if emitter.run_with("E", i).await.is_err() {
                    fail("A W2a: run_with returned an error");
                }
            }
        })
        .await;
        let f = measure_async(async {
            for i in 0..M {
                floor.emit_joined(i).await;
            }
        })
        .await;
        (v, f)
    });
    drop(rt);
    ev.ran(N + M);
    ef.ran(N + M);
    let mut rows = vec![alloc_row(
        "W2a K=1 (calling task)",
        w2a.0.count_total as f64 / M as f64,
        "F3",
        w2a.1.count_total as f64 / M as f64,
        Target::None,
        before,
    )];

    let before = failure_count();
    let (emitter, mut ev, mut floor, mut ef) = async_setup(1, "A W4");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    for i in 0..N {
        let _ = emitter.emit_with("E", i);
        floor.emit_blocking(&rt, i);
    }
    let v = allocation_counter::measure(|| {
        for i in 0..M {
            if emitter.emit_with("E", i).is_err() {
                fail("A W4: emit_with returned an error");
            }
        }
    });
    let f = allocation_counter::measure(|| {
        for i in 0..M {
            floor.emit_blocking(&rt, i);
        }
    });
    ev.ran(N + M);
    ef.ran(N + M);
    rows.push(
        alloc_row(
            "W4 (calling thread)",
            v.count_total as f64 / M as f64,
            "F4",
            f.count_total as f64 / M as f64,
            Target::None,
            before,
        )
        .note("allocations on other threads are not counted"),
    );
    rows
}

/// `allocation_counter::measure` counts the calling thread while its closure runs; a
/// future polled inside it by `block_on` on a current-thread runtime stays on it.
async fn measure_async(
    fut: impl std::future::Future<Output = ()>,
) -> allocation_counter::AllocationInfo {
    let mut fut = std::pin::pin!(fut);
    let mut info = allocation_counter::AllocationInfo::default();
    std::future::poll_fn(|cx| {
        let mut ready = false;
        info += allocation_counter::measure(|| {
            ready = fut.as_mut().poll(cx).is_ready();
        });
        if ready {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    info
}

fn alloc_row(param: &str, v: f64, floor_name: &str, f: f64, target: Target, before: usize) -> Row {
    Row {
        workload: "A".to_owned(),
        param: param.to_owned(),
        ventus: v,
        floor_name: floor_name.to_owned(),
        floor: f,
        ratio: v / f,
        ratio_kind: "ventus / floor (allocations per emission)",
        ratio_of_rounds: None,
        unit: "allocs",
        target,
        rounds: 1,
        note: String::new(),
        valid: failure_count() == before,
    }
}

/// A2's handler: says it started, waits for the gate, then counts its run.
async fn wait_for_gate(
    counter: &'static AtomicU64,
    started: &'static Semaphore,
    gate: &'static Semaphore,
) {
    started.add_permits(1);
    match gate.acquire().await {
        Ok(permit) => permit.forget(),
        Err(_) => fail("A2: the gate was closed"),
    }
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Waits until `m` handlers have started; fails (instead of hanging) if they do not
/// within 30 s, as when an emission's handler never runs.
async fn all_started(what: &str, started: &Semaphore, m: u32) {
    match tokio::time::timeout(Duration::from_secs(30), started.acquire_many(m)).await {
        Ok(Ok(permits)) => permits.forget(),
        Ok(Err(_)) => fail(format!("{what}: the start signal was closed")),
        Err(_) => fail(format!("{what}: {m} handlers did not all start")),
    }
}

/// A2: heap bytes per scheduled emission in flight, K = 1 async handler. In a task,
/// schedule M emissions whose handler waits on a gate, wait until all M handlers have
/// started (all M emissions in flight at once), and count the net bytes allocated
/// meanwhile / M; then open the gate and `wait_for_tasks`. The floor: a bare
/// `tokio::spawn` of the same handler future per emission. A current-thread runtime, so
/// that every task runs on the thread the counting allocator measures.
pub(crate) fn in_flight_bytes() -> Row {
    const M: u32 = 1_000;
    const CYCLES: usize = 3;
    let before = failure_count();
    let leak_sem = || -> &'static Semaphore { Box::leak(Box::new(Semaphore::new(0))) };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));

    let linker = linker();
    let (vc, vs, vg) = (leak_counter(), leak_sem(), leak_sem());
    linker
        .on("E")
        .subscribe(move |_: u64| wait_for_gate(vc, vs, vg))
        .unwrap_or_else(|e| panic!("subscribe: {e}"));
    let emitter = TokioEventEmitter::with_linker(&linker);
    let mut ev = Expect::new("A2 ventus", vec![vc]);
    let mut ventus_cycle = || {
        let mut errors = 0;
        let info = allocation_counter::measure(|| {
            rt.block_on(async {
                for i in 0..M {
                    if emitter.emit_with("E", u64::from(i)).is_err() {
                        errors += 1;
                    }
                }
                all_started("A2 ventus", vs, M).await;
            });
        });
        if errors > 0 {
            fail(format!("A2 ventus: {errors} emissions returned an error"));
        }
        rt.block_on(async {
            vg.add_permits(M as usize);
            emitter.wait_for_tasks().await;
        });
        ev.ran(u64::from(M));
        info
    };

    let (fc, fs, fg) = (leak_counter(), leak_sem(), leak_sem());
    let mut ef = Expect::new("A2 tokio::spawn", vec![fc]);
    let mut handles = Vec::with_capacity(M as usize);
    let mut floor_cycle = || {
        let info = allocation_counter::measure(|| {
            rt.block_on(async {
                for _ in 0..M {
                    handles.push(tokio::spawn(wait_for_gate(fc, fs, fg)));
                }
                all_started("A2 tokio::spawn", fs, M).await;
            });
        });
        rt.block_on(async {
            fg.add_permits(M as usize);
            for h in handles.drain(..) {
                if h.await.is_err() {
                    fail("A2 tokio::spawn: a task failed");
                }
            }
        });
        ef.ran(u64::from(M));
        info
    };

    // Warm-up: queues and lazily built state reach their size before anything counts.
    let _ = (ventus_cycle(), floor_cycle());
    let mut v = Vec::new();
    let mut f = Vec::new();
    for _ in 0..CYCLES {
        v.push(ventus_cycle());
        f.push(floor_cycle());
    }
    let per = |infos: &[allocation_counter::AllocationInfo],
               field: fn(&allocation_counter::AllocationInfo) -> f64| {
        crate::harness::median(&infos.iter().map(field).collect::<Vec<_>>()) / f64::from(M)
    };
    let bytes = |i: &allocation_counter::AllocationInfo| i.bytes_current as f64;
    let count = |i: &allocation_counter::AllocationInfo| i.count_current as f64;
    let (vb, fb) = (per(&v, bytes), per(&f, bytes));
    Row {
        workload: "A2".to_owned(),
        param: format!("K=1, {M} in flight"),
        ventus: vb,
        floor_name: "tokio::spawn".to_owned(),
        floor: fb,
        ratio: vb / fb,
        ratio_kind: "ventus / floor (bytes per emission in flight)",
        ratio_of_rounds: None,
        unit: "bytes",
        target: Target::ValueAtMost(256.0),
        rounds: CYCLES,
        note: format!(
            "net bytes while {M} emissions wait in their handler, median of {CYCLES}; \
             allocations held: {:.2} per emission, floor {:.2}; current-thread runtime",
            per(&v, count),
            per(&f, count)
        ),
        valid: failure_count() == before,
    }
}

/// M: heap bytes per subscription: 100 000 subscriptions of a handler capturing
/// nothing, over √100 000 = 316 events (and, as context, over 100 000 events), counted
/// as the net bytes the subscribing thread left allocated, divided by 100 000.
pub(crate) fn memory() -> Vec<Row> {
    const SUBS: usize = 100_000;
    fn noop(_: &u64) {}
    let mut rows = Vec::new();
    for (events, target) in [
        (isqrt(SUBS), Target::ValueAtMost(256.0)),
        (SUBS, Target::None),
    ] {
        let names: Vec<String> = (0..events).map(|i| format!("Event{i}")).collect();
        let linker = linker();
        let mut errors = 0;
        let v = allocation_counter::measure(|| {
            for j in 0..SUBS {
                if linker
                    .on(names[j % events].as_str())
                    .subscribe(noop)
                    .is_err()
                {
                    errors += 1;
                }
            }
        });
        if errors > 0 || linker.subscriber_count() != SUBS {
            fail(format!(
                "M: {errors} subscribe errors, {} subscribers instead of {SUBS}",
                linker.subscriber_count()
            ));
        }
        let mut f1 = F1::default();
        let f = allocation_counter::measure(|| {
            for j in 0..SUBS {
                f1.add(&names[j % events], Box::new(noop));
            }
        });
        let v = v.bytes_current as f64 / SUBS as f64;
        let f = f.bytes_current as f64 / SUBS as f64;
        rows.push(Row {
            workload: "M".to_owned(),
            param: format!("{SUBS} subs / {events} events"),
            ventus: v,
            floor_name: "F1".to_owned(),
            floor: f,
            ratio: v / f,
            ratio_kind: "ventus / floor (bytes per subscription)",
            ratio_of_rounds: None,
            unit: "bytes",
            target,
            rounds: 1,
            note: "net bytes left allocated by subscribe, event names included".to_owned(),
            valid: true,
        });
        // Dropped outside the measured part.
        drop((linker, f1));
    }
    rows
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
