//! The seed's async context: `emit` inside a tokio runtime schedules the emission on that
//! runtime and returns at once; `wait_for_tasks` waits for emissions in flight; a runtime
//! that shuts down first cancels the handlers that have not finished.

mod support;

use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

use support::{setup, within, within_async, Counter, DropSignal, Log};
use tokio::sync::{Notify, Semaphore};
use ventus::{EventLinker, TokioEventEmitter};

/// Links a sync and an async handler to `event`, both counting into the returned counter.
fn count_both(linker: &EventLinker, event: &str) -> Counter {
    let count = Counter::new();
    let c = count.clone();
    linker.on(event).subscribe(move || c.incr()).unwrap();
    let c = count.clone();
    linker
        .on(event)
        .subscribe(move || {
            let c = c.clone();
            async move {
                tokio::task::yield_now().await;
                c.incr();
            }
        })
        .unwrap();
    count
}

/// Links an async handler that waits for a permit of `gate` and then counts.
fn gated(linker: &EventLinker, event: &str, gate: &Arc<Semaphore>) -> Counter {
    let count = Counter::new();
    let (c, gate) = (count.clone(), gate.clone());
    linker
        .on(event)
        .subscribe(move || {
            let (c, gate) = (c.clone(), gate.clone());
            async move {
                gate.acquire().await.expect("gate open").forget();
                c.incr();
            }
        })
        .unwrap();
    count
}

/// A closed gate for [`gated`] handlers; `add_permits(n)` lets `n` of them through.
fn closed_gate() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(0))
}

/// A plain function: sync code, here called from async code on a runtime thread.
fn emit_from_sync_code(emitter: &TokioEventEmitter, event: &str) {
    emitter
        .emit(event)
        .expect("emit from sync code on a runtime thread");
}

#[tokio::test(flavor = "current_thread")]
async fn current_thread_emit_returns_before_any_handler_ran() {
    let (linker, emitter) = setup();
    let count = count_both(&linker, "StringEvent");

    emitter.emit("StringEvent").unwrap();
    assert_eq!(count.get(), 0, "emit only schedules the emission");
    assert_eq!(emitter.processor().in_flight(), 1);

    within_async("wait_for_tasks", emitter.wait_for_tasks()).await;
    assert_eq!(count.get(), 2);
    assert_eq!(emitter.processor().in_flight(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn current_thread_handlers_run_on_the_callers_runtime() {
    let (linker, emitter) = setup();
    let threads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let t = threads.clone();
    linker
        .on("E")
        .subscribe(move || t.lock().unwrap().push(thread::current().id()))
        .unwrap();
    let t = threads.clone();
    linker
        .on("E")
        .subscribe(move || {
            let t = t.clone();
            async move { t.lock().unwrap().push(thread::current().id()) }
        })
        .unwrap();
    emitter.emit("E").unwrap();
    emitter.wait_for_tasks().await;
    let me = thread::current().id();
    assert_eq!(
        *threads.lock().unwrap(),
        [me, me],
        "scheduled on this runtime"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn multi_thread_emit_returns_at_once() {
    let (linker, emitter) = setup();
    let gate = closed_gate();
    let count = gated(&linker, "E", &gate);
    let plain = count_both(&linker, "E");

    emitter.emit("E").unwrap();
    // The gated handler cannot have finished: the gate is still closed.
    assert_eq!(count.get(), 0);
    assert_eq!(emitter.processor().in_flight(), 1);

    gate.add_permits(1);
    within_async("wait_for_tasks", emitter.wait_for_tasks()).await;
    assert_eq!(count.get(), 1);
    assert_eq!(plain.get(), 2);
    assert_eq!(emitter.processor().in_flight(), 0);
}

#[test]
fn multi_thread_handlers_run_on_the_callers_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("callers-runtime")
        .enable_all()
        .build()
        .unwrap();
    let (linker, emitter) = setup();
    let names = Log::new();
    let n = names.clone();
    linker
        .on("E")
        .subscribe(move || {
            let n = n.clone();
            async move { n.push(thread::current().name().unwrap_or("").to_owned()) }
        })
        .unwrap();
    rt.block_on(async {
        // Emitted from a worker, not from the `block_on` thread.
        let em = emitter.clone();
        tokio::spawn(async move { em.emit("E").unwrap() })
            .await
            .unwrap();
        emitter.wait_for_tasks().await;
    });
    assert_eq!(names.snapshot(), ["callers-runtime"]);
}

#[tokio::test(flavor = "current_thread")]
async fn emit_from_sync_code_on_a_current_thread_runtime_does_not_block() {
    let (linker, emitter) = setup();
    let gate = closed_gate();
    let count = gated(&linker, "E", &gate);
    // Had `emit` blocked until the handler finished, this would never return: the gate
    // opens below, on this very thread.
    emit_from_sync_code(&emitter, "E");
    assert_eq!(count.get(), 0);
    gate.add_permits(1);
    within_async("wait_for_tasks", emitter.wait_for_tasks()).await;
    assert_eq!(count.get(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_from_sync_code_on_a_multi_thread_runtime_does_not_block() {
    let (linker, emitter) = setup();
    let gate = closed_gate();
    let count = gated(&linker, "E", &gate);
    let em = emitter.clone();
    // A plain closure run on a worker thread.
    tokio::spawn(async move { emit_from_sync_code(&em, "E") })
        .await
        .unwrap();
    emit_from_sync_code(&emitter, "E");
    assert_eq!(count.get(), 0);
    gate.add_permits(2);
    within_async("wait_for_tasks", emitter.wait_for_tasks()).await;
    assert_eq!(count.get(), 2);
}

async fn emit_inside_spawn_blocking() {
    let (linker, emitter) = setup();
    let gate = closed_gate();
    let count = gated(&linker, "E", &gate);
    let plain = count_both(&linker, "E");
    let em = emitter.clone();
    let c = count.clone();
    let in_blocking = tokio::task::spawn_blocking(move || {
        let context = tokio::runtime::Handle::try_current().is_ok();
        em.emit("E").map_err(|e| e.to_string())?;
        // Scheduled, not run here: the gated handler cannot have finished.
        Ok::<_, String>((context, c.get(), em.processor().in_flight()))
    });
    let (context, during, in_flight) = within_async("spawn_blocking", in_blocking)
        .await
        .expect("spawn_blocking task does not panic")
        .expect("emit inside spawn_blocking");
    assert!(context, "spawn_blocking threads carry the runtime context");
    assert_eq!(during, 0);
    assert_eq!(in_flight, 1, "the emission was scheduled on the runtime");
    gate.add_permits(1);
    within_async("wait_for_tasks", emitter.wait_for_tasks()).await;
    assert_eq!(count.get(), 1);
    assert_eq!(plain.get(), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn emit_inside_spawn_blocking_on_current_thread_runtime() {
    emit_inside_spawn_blocking().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emit_inside_spawn_blocking_on_multi_thread_runtime() {
    emit_inside_spawn_blocking().await;
}

#[test]
fn emit_from_a_thread_that_entered_a_runtime_is_scheduled() {
    let rt = support::multi_thread(1);
    let (linker, emitter) = setup();
    let gate = closed_gate();
    let count = gated(&linker, "E", &gate);
    let handle = rt.handle().clone();
    let em = emitter.clone();
    within("emit with a runtime entered", move || {
        let _entered = handle.enter();
        em.emit("E").unwrap();
    });
    assert_eq!(count.get(), 0);
    assert_eq!(emitter.processor().in_flight(), 1);
    gate.add_permits(1);
    rt.block_on(within_async("wait_for_tasks", emitter.wait_for_tasks()));
    assert_eq!(count.get(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn wait_for_tasks_with_nothing_in_flight_returns_at_once() {
    let (_linker, emitter) = setup();
    within_async("wait_for_tasks", emitter.wait_for_tasks()).await;
    emitter.emit("Nobody").unwrap();
    within_async("wait_for_tasks", emitter.wait_for_tasks()).await;
}

/// Emits an event whose async handler starts, then awaits forever holding a drop signal,
/// and drops the runtime: the handler must be cancelled (dropped), never finished.
fn runtime_shutdown_cancels(rt: tokio::runtime::Runtime) {
    let (linker, emitter) = setup();
    let (dropped_tx, dropped_rx) = mpsc::channel();
    let started = Arc::new(Notify::new());
    let finished = Counter::new();
    let failures = Counter::new();
    let (s, f, fails) = (started.clone(), finished.clone(), failures.clone());
    linker
        .on("Forever")
        .on_failure(move |_| fails.incr())
        .subscribe(move || {
            let guard = DropSignal(dropped_tx.clone(), "handler dropped");
            let (s, f) = (s.clone(), f.clone());
            async move {
                let _guard = guard;
                s.notify_one();
                std::future::pending::<()>().await;
                f.incr();
            }
        })
        .unwrap();

    rt.block_on(async {
        emitter.emit("Forever").unwrap();
        within_async("handler start", started.notified()).await;
    });
    assert_eq!(emitter.processor().in_flight(), 1);
    assert!(
        dropped_rx.try_recv().is_err(),
        "still running before shutdown"
    );

    drop(rt);

    assert_eq!(
        dropped_rx.recv_timeout(support::DEADLOCK_TIMEOUT),
        Ok("handler dropped"),
        "the handler's future is dropped when its runtime shuts down"
    );
    assert_eq!(
        finished.get(),
        0,
        "a cancelled handler never reaches its end"
    );
    assert_eq!(failures.get(), 0, "cancellation is not a handler failure");
    assert_eq!(
        emitter.processor().in_flight(),
        0,
        "nothing is left in flight"
    );
    // And waiting on a fresh runtime does not hang on the cancelled emission.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(within_async("wait_for_tasks", emitter.wait_for_tasks()));
}

#[test]
fn current_thread_runtime_shutdown_cancels_running_handlers() {
    runtime_shutdown_cancels(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
    );
}

#[test]
fn multi_thread_runtime_shutdown_cancels_running_handlers() {
    runtime_shutdown_cancels(support::multi_thread(2));
}

#[test]
fn runtime_shutdown_before_an_emission_started_runs_nothing_and_drops_the_payload() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (linker, emitter) = setup();
    let ran = Counter::new();
    let r = ran.clone();
    linker
        .on("E")
        .subscribe(move |_: &Arc<DropSignal>| r.incr())
        .unwrap();
    let (dropped_tx, dropped_rx) = mpsc::channel();
    rt.block_on(async {
        // Never yields after the emit, so a current-thread runtime never polls the task.
        emitter
            .emit_with("E", Arc::new(DropSignal(dropped_tx, "payload dropped")))
            .unwrap();
    });
    assert_eq!(emitter.processor().in_flight(), 1);
    drop(rt);
    assert_eq!(ran.get(), 0);
    assert_eq!(dropped_rx.try_recv(), Ok("payload dropped"));
    assert_eq!(emitter.processor().in_flight(), 0);
}

/// Emissions scheduled from one task share drainer tasks (no task per emission): a
/// handler that blocks its worker thread must not hold up the emissions behind it while
/// another worker is free, as it would not with a task per emission.
#[test]
fn a_handler_blocking_its_worker_does_not_hold_up_later_emissions() {
    let rt = support::multi_thread(2);
    let (linker, emitter) = setup();
    let (tx, rx) = mpsc::channel::<()>();
    let (tx, rx) = (std::sync::Mutex::new(tx), std::sync::Mutex::new(rx));
    let (freed_tx, freed_rx) = mpsc::channel();
    linker
        .on("Block")
        .subscribe(move || {
            // Blocks this worker until `Free` ran on the other one.
            let got = rx.lock().unwrap().recv_timeout(support::DEADLOCK_TIMEOUT);
            freed_tx.send(got.is_ok()).unwrap();
        })
        .unwrap();
    linker
        .on("Free")
        .subscribe(move || {
            let tx = tx.lock().unwrap().clone();
            async move {
                tx.send(()).unwrap();
            }
        })
        .unwrap();
    rt.block_on(async {
        tokio::spawn(async move {
            emitter.emit("Block").unwrap();
            emitter.emit("Free").unwrap();
            within_async("wait_for_tasks", emitter.wait_for_tasks()).await;
        })
        .await
        .unwrap();
    });
    assert_eq!(
        freed_rx.try_recv(),
        Ok(true),
        "`Free` ran while `Block` held a worker"
    );
}

/// An emission whose handler never finishes leaves the drainer for a task of its own:
/// the emissions behind it run, and dropping the runtime cancels it.
#[test]
fn a_pending_emission_does_not_hold_up_the_ones_behind_it_and_runtime_drop_cancels_it() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (linker, emitter) = setup();
    let (dropped_tx, dropped_rx) = mpsc::channel();
    linker
        .on("Stuck")
        .subscribe(move || {
            let guard = DropSignal(dropped_tx.clone(), "stuck dropped");
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            }
        })
        .unwrap();
    let done = Arc::new(Semaphore::new(0));
    let d = done.clone();
    linker
        .on("Quick")
        .subscribe(move |_: u32| {
            let d = d.clone();
            async move {
                tokio::task::yield_now().await;
                d.add_permits(1);
            }
        })
        .unwrap();
    const N: u32 = 300;
    rt.block_on(async {
        emitter.emit("Stuck").unwrap();
        for i in 0..N {
            emitter.emit_with("Quick", i).unwrap();
        }
        within_async("every quick emission", done.acquire_many(N))
            .await
            .unwrap()
            .forget();
    });
    assert_eq!(emitter.processor().in_flight(), 1, "only `Stuck` is left");
    assert!(dropped_rx.try_recv().is_err(), "still running");
    drop(rt);
    assert_eq!(dropped_rx.try_recv(), Ok("stuck dropped"));
    assert_eq!(emitter.processor().in_flight(), 0);
}

/// Emissions queued behind a drainer that never got to run are dropped with their
/// runtime: their payloads are released, their handles get a report, nothing stays in
/// flight.
#[test]
fn multi_thread_runtime_drop_releases_queued_emissions() {
    let rt = support::multi_thread(2);
    let (linker, emitter) = setup();
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    linker
        .on("Gated")
        .subscribe(move |_: Arc<DropSignal>| {
            let g = g.clone();
            async move {
                let _ = g.acquire().await;
            }
        })
        .unwrap();
    let (dropped_tx, dropped_rx) = mpsc::channel();
    let handles: Vec<_> = rt.block_on(async {
        (0..50)
            .map(|_| {
                emitter
                    .emit_with("Gated", Arc::new(DropSignal(dropped_tx.clone(), "payload")))
                    .unwrap()
            })
            .collect()
    });
    drop(dropped_tx);
    drop(rt);
    assert_eq!(emitter.processor().in_flight(), 0);
    for handle in handles {
        assert!(handle.is_finished(), "a dropped emission still reports");
    }
    let dropped = within("the payloads", move || dropped_rx.iter().count());
    assert_eq!(dropped, 50, "every payload was released");
}

#[test]
fn emit_with_a_shut_down_runtimes_handle_entered_reports_every_handler_cancelled() {
    let (linker, emitter) = setup();
    let ran = count_both(&linker, "Late");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let handle = runtime.handle().clone();
    drop(runtime);

    let entered = handle.enter();
    let emitted = emitter
        .emit("Late")
        .expect("an emission is accepted, or refused with an error");
    drop(entered);
    // Nothing can run it, so it must have ended already, and say how.
    assert!(emitted.is_finished());
    let report = emitted.wait().expect("no runtime entered now");
    assert_eq!(ran.get(), 0);
    assert_eq!(report.counts().cancelled, 2, "{report}");
    let metrics = emitter.metrics();
    assert_eq!(
        (metrics.cancelled, metrics.in_flight),
        (2, 0),
        "{metrics:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_scheduled_emission_carries_the_time_it_was_emitted_not_the_time_it_ran() {
    let linker = EventLinker::builder().build().unwrap();
    let (tx, rx) = mpsc::channel();
    linker
        .on("Stamp")
        .subscribe(move |event: &ventus::AnyEvent| tx.send(event.time()).unwrap())
        .unwrap();
    // A second handler that never looks at the time, as most do.
    linker
        .on("Stamp")
        .subscribe(|n: u32| async move { n })
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let before = std::time::SystemTime::now();
    let emitted = emitter.emit_with("Stamp", 1_u32).unwrap();
    let after = std::time::SystemTime::now();
    // The handlers run only once this task yields; the clock moves on meanwhile.
    while std::time::SystemTime::now() <= after {}
    assert_eq!(emitted.await.counts().succeeded, 2);
    let seen = rx.recv().unwrap();
    assert!(
        before <= seen && seen <= after,
        "{seen:?} not in [{before:?}, {after:?}]"
    );
}

#[test]
fn threads_that_emit_and_end_leave_no_task_behind() {
    // Each thread that schedules on a runtime gets drainers of its own, which park
    // between emissions. When the thread ends they must end too, or a server whose
    // blocking threads come and go would pile up parked tasks.
    let linker = EventLinker::builder().build().unwrap();
    linker.on("Job").subscribe(|| ()).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let rt = support::multi_thread(2);
    let metrics = rt.metrics();
    let before = metrics.num_alive_tasks();
    for _ in 0..20 {
        let (emitter, handle) = (emitter.clone(), rt.handle().clone());
        thread::spawn(move || {
            let _rt = handle.enter();
            for _ in 0..3 {
                let (tx, rx) = mpsc::channel();
                emitter.emit("Job").unwrap().on_finish(move |report| {
                    tx.send(report.counts().succeeded).unwrap();
                });
                assert_eq!(rx.recv_timeout(std::time::Duration::from_secs(10)), Ok(1));
            }
        })
        .join()
        .unwrap();
    }
    // The ended threads' drainers were woken to end; give them the bounded time to.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while metrics.num_alive_tasks() > before && std::time::Instant::now() < deadline {
        thread::yield_now();
    }
    assert_eq!(
        metrics.num_alive_tasks(),
        before,
        "drainers of ended threads are still alive"
    );
}
