//! The heap workloads: A (allocations per emission), A2 (bytes per scheduled emission
//! in flight) and M (bytes per subscription).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;
use ventus::TokioEventEmitter;

use crate::floors::F1;
use crate::harness::{fail, failure_count, leak_counter, Expect};
use crate::report::{Row, Target};
use crate::workloads::{async_setup, isqrt, linker, sync_setup, SyncSetup, Tick, N};

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
