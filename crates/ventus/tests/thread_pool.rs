//! The thread-pool emitter (Pyventus's `ExecutorEventEmitter`): handlers run on worker
//! threads, `emit` returns at once, `shutdown(wait)` and drop lose nothing, and the async
//! deadline shutdown reports what it finished and cancelled.
#![cfg(feature = "thread-pool")]

mod support;

use std::collections::HashSet;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use support::{
    linker, within, within_async, within_for, Counter, DropSignal, Failures, DEADLOCK_TIMEOUT,
};
use ventus::{
    EmissionReport, EmitError, Emitted, EventEmitter, EventLinker, Outcome, Overflow,
    ThreadPoolBuilder, ThreadPoolEventEmitter, ThreadPoolProcessor, TokioEventEmitter,
};

/// The bound for scenarios that used to hang: far beyond what they need when they work.
const HANG_BOUND: Duration = Duration::from_secs(10);

/// A one-shot gate a sync handler blocks on until the test opens it.
#[derive(Clone)]
struct Gate {
    open_rx: Arc<Mutex<Receiver<()>>>,
    open_tx: Sender<()>,
}

impl Gate {
    fn new() -> Self {
        let (open_tx, open_rx) = mpsc::channel();
        Self {
            open_rx: Arc::new(Mutex::new(open_rx)),
            open_tx,
        }
    }

    /// Blocks until [`open`](Self::open) is called (once per `pass`).
    fn pass(&self) {
        self.open_rx
            .lock()
            .unwrap()
            .recv_timeout(DEADLOCK_TIMEOUT)
            .expect("the test opens the gate");
    }

    fn open(&self) {
        self.open_tx.send(()).unwrap();
    }
}

/// Links a handler to `"Gated"` that tells `started` it runs, then waits at `gate`.
fn link_gated(linker: &EventLinker, gate: &Gate) -> Receiver<()> {
    let (started_tx, started_rx) = mpsc::channel();
    let gate = gate.clone();
    linker
        .on("Gated")
        .subscribe(move || {
            let _ = started_tx.send(());
            gate.pass();
        })
        .unwrap();
    started_rx
}

/// Links a counting sync handler to `event`.
fn link_counter(linker: &EventLinker, event: &str) -> Counter {
    let count = Counter::new();
    let c = count.clone();
    linker.on(event).subscribe(move || c.incr()).unwrap();
    count
}

fn thread_name() -> String {
    thread::current().name().unwrap_or("").to_owned()
}

#[test]
fn sync_and_async_handlers_run_on_named_worker_threads() {
    within("worker threads", || {
        let linker = linker();
        let (tx, rx) = mpsc::channel::<(&str, String, thread::ThreadId)>();
        let sync_tx = Mutex::new(tx.clone());
        linker
            .on("Where")
            .subscribe(move || {
                let msg = ("sync", thread_name(), thread::current().id());
                sync_tx.lock().unwrap().send(msg).unwrap();
            })
            .unwrap();
        let async_tx = Mutex::new(tx.clone());
        linker
            .on("Where")
            .subscribe(move || {
                let msg = ("async", thread_name(), thread::current().id());
                let sent = async_tx.lock().unwrap().send(msg);
                async move {
                    tokio::task::yield_now().await;
                    sent.unwrap();
                }
            })
            .unwrap();
        let blocking_tx = Mutex::new(tx);
        linker
            .on("Where")
            .blocking()
            .subscribe(move || {
                let msg = ("blocking", thread_name(), thread::current().id());
                blocking_tx.lock().unwrap().send(msg).unwrap();
            })
            .unwrap();

        let emitter = EventEmitter::builder()
            .linker(&linker)
            .processor(
                ThreadPoolProcessor::builder()
                    .threads(2)
                    .thread_name("pool-test")
                    .build(),
            )
            .build();
        assert_eq!(emitter.processor().threads(), 2);
        let report = emitter.emit("Where").unwrap().wait().unwrap();
        assert_eq!(report.counts().succeeded, 3);

        let mut seen: Vec<_> = rx.try_iter().collect();
        seen.sort_by_key(|(kind, ..)| *kind);
        let kinds: Vec<_> = seen.iter().map(|(kind, ..)| *kind).collect();
        assert_eq!(kinds, ["async", "blocking", "sync"]);
        let me = thread::current().id();
        for (kind, name, id) in &seen {
            assert_ne!(*id, me, "{kind} handler ran on the emitting thread");
            match *kind {
                // A `blocking` handler goes to the worker runtime's blocking pool.
                "blocking" => assert!(
                    name == "pool-test-0-blocking" || name == "pool-test-1-blocking",
                    "blocking handler ran on `{name}`"
                ),
                _ => assert!(
                    name == "pool-test-0" || name == "pool-test-1",
                    "{kind} handler ran on `{name}`"
                ),
            }
        }
    });
}

#[test]
fn emit_returns_at_once_and_wait_gives_the_report() {
    within("emit returns at once", || {
        let linker = linker();
        let gate = Gate::new();
        let started = link_gated(&linker, &gate);
        linker.on("Gated").subscribe(|| 42).unwrap();
        let emitter = ThreadPoolEventEmitter::with_linker(&linker, 1);

        // The handler blocks until the gate opens, so `emit` returning proves it did not
        // wait for it.
        let emitted = emitter.emit("Gated").unwrap();
        started.recv().unwrap();
        assert!(!emitted.is_finished());
        assert_eq!(emitter.processor().in_flight(), 1);
        gate.open();

        let report = emitted.wait().unwrap();
        assert_eq!(report.counts().succeeded, 2);
        assert_eq!(report.event().as_str(), "Gated");
    });
}

#[test]
fn emissions_run_in_parallel_on_two_workers() {
    within("two handlers meeting at a barrier", || {
        let linker = linker();
        let barrier = Arc::new(Barrier::new(2));
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        linker
            .on("Meet")
            .subscribe(move || {
                // Returns only once the other emission's handler is here too: with one
                // worker at a time this would never return.
                barrier.wait();
                tx.lock().unwrap().send(thread::current().id()).unwrap();
            })
            .unwrap();
        let emitter = ThreadPoolEventEmitter::with_linker(&linker, 2);
        let first = emitter.emit("Meet").unwrap();
        let second = emitter.emit("Meet").unwrap();
        assert_eq!(first.wait().unwrap().counts().succeeded, 1);
        assert_eq!(second.wait().unwrap().counts().succeeded, 1);
        let threads: HashSet<_> = rx.try_iter().collect();
        assert_eq!(threads.len(), 2, "the two handlers ran on two workers");
    });
}

#[test]
fn shutdown_with_wait_runs_every_queued_emission() {
    within("shutdown(true) with a full queue", || {
        let linker = linker();
        let count = link_counter(&linker, "Job");
        let emitter = ThreadPoolEventEmitter::with_linker(&linker, 2);
        for _ in 0..1000 {
            emitter.emit("Job").unwrap();
        }
        emitter.processor().shutdown(true);
        assert_eq!(count.get(), 1000);
        assert_eq!(emitter.processor().in_flight(), 0);
    });
}

#[test]
fn closing_with_work_queued_loses_nothing() {
    within("closed with work queued", || {
        let linker = linker();
        let gate = Gate::new();
        let started = link_gated(&linker, &gate);
        let count = link_counter(&linker, "Job");
        let emitter = ThreadPoolEventEmitter::with_linker(&linker, 1);

        let gated = emitter.emit("Gated").unwrap();
        started.recv().unwrap();
        // The only worker is held at the gate: all of these are still queued.
        let jobs: Vec<_> = (0..100).map(|_| emitter.emit("Job").unwrap()).collect();
        assert_eq!(emitter.processor().in_flight(), 101);

        emitter.processor().shutdown(false);
        assert!(emitter.processor().is_shutdown());
        assert_eq!(count.get(), 0, "nothing ran yet; the worker is at the gate");
        gate.open();
        emitter.processor().shutdown(true);

        assert_eq!(count.get(), 100);
        assert_eq!(gated.wait().unwrap().counts().succeeded, 1);
        for job in jobs {
            assert!(job.is_finished());
            assert_eq!(job.wait().unwrap().counts().succeeded, 1);
        }
    });
}

#[test]
fn shutdown_without_wait_returns_at_once_and_the_queue_still_runs() {
    within("shutdown(false)", || {
        let linker = linker();
        let gate = Gate::new();
        let started = link_gated(&linker, &gate);
        let count = link_counter(&linker, "Job");
        let emitter = ThreadPoolEventEmitter::with_linker(&linker, 1);

        let gated = emitter.emit("Gated").unwrap();
        started.recv().unwrap();
        let jobs: Vec<_> = (0..10).map(|_| emitter.emit("Job").unwrap()).collect();

        // Returns although the worker is held at the gate with ten emissions queued.
        emitter.processor().shutdown(false);
        assert_eq!(count.get(), 0);
        gate.open();

        assert_eq!(gated.wait().unwrap().counts().succeeded, 1);
        for job in jobs {
            assert_eq!(job.wait().unwrap().counts().succeeded, 1);
        }
        assert_eq!(count.get(), 10);
    });
}

#[test]
fn emit_after_shutdown_is_refused_as_closed() {
    within("emit after shutdown", || {
        let linker = linker();
        let count = link_counter(&linker, "Job");
        let emitter = ThreadPoolEventEmitter::with_linker(&linker, 1);
        emitter.processor().shutdown(true);
        emitter.processor().shutdown(true); // harmless
        match emitter.emit("Job") {
            Err(EmitError::Closed { event }) => assert_eq!(event, "Job"),
            other => panic!("expected EmitError::Closed, got {other:?}"),
        }
        assert_eq!(count.get(), 0);
    });
}

#[test]
fn dropping_the_last_emitter_shuts_down_and_joins() {
    within("drop of the last emitter", || {
        let linker = linker();
        let count = link_counter(&linker, "Job");
        let (exit_tx, exit_rx) = mpsc::channel();
        let exit_tx = Mutex::new(exit_tx);
        linker
            .on("Job")
            .subscribe(move || {
                // Tells the test when this worker thread exits.
                thread_local! {
                    static ON_EXIT: std::cell::RefCell<Option<DropSignal>> =
                        const { std::cell::RefCell::new(None) };
                }
                ON_EXIT.with(|signal| {
                    signal.borrow_mut().get_or_insert_with(|| {
                        DropSignal(exit_tx.lock().unwrap().clone(), "worker exited")
                    });
                });
            })
            .unwrap();
        let emitter = ThreadPoolEventEmitter::with_linker(&linker, 1);
        let handles: Vec<_> = (0..200).map(|_| emitter.emit("Job").unwrap()).collect();

        let clone = emitter.clone();
        drop(emitter);
        assert!(clone.emit("Job").is_ok(), "a clone keeps the pool open");
        drop(clone);

        // Every emission accepted before the drop has run, and the worker has exited.
        assert_eq!(count.get(), 201);
        assert!(handles.iter().all(ventus::Emitted::is_finished));
        assert_eq!(exit_rx.try_recv(), Ok("worker exited"));
    });
}

#[test]
fn dropping_the_last_emitter_on_a_worker_does_not_deadlock() {
    within("drop on a worker thread", || {
        let linker = linker();
        let gate = Gate::new();
        let (exit_tx, exit_rx) = mpsc::channel();
        let exit_tx = Mutex::new(exit_tx);
        let g = gate.clone();
        linker
            .on("Hold")
            .subscribe(move |_emitter: &ThreadPoolEventEmitter| {
                thread_local! {
                    static ON_EXIT: std::cell::RefCell<Option<DropSignal>> =
                        const { std::cell::RefCell::new(None) };
                }
                ON_EXIT.with(|signal| {
                    *signal.borrow_mut() =
                        Some(DropSignal(exit_tx.lock().unwrap().clone(), "worker exited"));
                });
                g.pass();
            })
            .unwrap();
        let emitter = ThreadPoolEventEmitter::with_linker(&linker, 1);
        // The payload holds a clone; it is dropped on the worker after the handler ends.
        let held = emitter.emit_with("Hold", emitter.clone()).unwrap();
        drop(emitter); // not the last clone: returns at once
        gate.open();
        assert_eq!(held.wait().unwrap().counts().succeeded, 1);
        // The last clone went away on the worker, which shut the pool down without
        // waiting for itself, and then exited.
        assert_eq!(
            exit_rx.recv_timeout(DEADLOCK_TIMEOUT),
            Ok("worker exited"),
            "the worker exits after the pool is dropped on it"
        );
    });
}

#[test]
fn emitting_from_a_handler_on_the_pool_works() {
    within("re-entrant emit", || {
        let linker = linker();
        let (tx, rx) = mpsc::channel::<String>();
        let tx = Mutex::new(tx);
        linker
            .on("Inner")
            .subscribe(move |from: &&'static str| {
                tx.lock()
                    .unwrap()
                    .send(format!("{from} -> {}", thread_name()))
                    .unwrap();
            })
            .unwrap();
        linker
            .on("Outer")
            .subscribe(|emitter: &ThreadPoolEventEmitter| {
                emitter.emit_with("Inner", "sync").map(|_| ())
            })
            .unwrap();
        linker
            .on("Outer")
            .subscribe(|emitter: ThreadPoolEventEmitter| async move {
                emitter.emit_with("Inner", "async").map(|_| ())
            })
            .unwrap();
        let emitter = ThreadPoolEventEmitter::with_linker(&linker, 1);
        let outer = emitter.emit_with("Outer", emitter.clone()).unwrap();
        assert_eq!(outer.wait().unwrap().counts().succeeded, 2);
        let mut got: Vec<_> = (0..2)
            .map(|_| rx.recv_timeout(DEADLOCK_TIMEOUT).unwrap())
            .collect();
        got.sort();
        assert_eq!(
            got,
            ["async -> ventus-worker-0", "sync -> ventus-worker-0"],
            "both inner emissions ran on the pool"
        );
        emitter.processor().shutdown(true);
    });
}

#[test]
fn a_panicking_handler_goes_to_its_callback_and_the_worker_goes_on() {
    within("panic on a worker", || {
        let linker = linker();
        let failures = Failures::new();
        linker
            .on("Boom")
            .on_failure(failures.callback())
            .subscribe(|| -> () { panic!("boom on a worker") })
            .unwrap();
        let count = link_counter(&linker, "Job");
        let emitter = ThreadPoolEventEmitter::with_linker(&linker, 1);
        let boom = emitter.emit("Boom").unwrap().wait().unwrap();
        assert_eq!(boom.counts().panicked, 1);
        assert_eq!(
            emitter
                .emit("Job")
                .unwrap()
                .wait()
                .unwrap()
                .counts()
                .succeeded,
            1
        );
        assert_eq!(count.get(), 1);
        assert_eq!(failures.all().len(), 1);
    });
}

#[test]
fn a_queued_emission_cancelled_by_its_handle_never_runs_its_handlers() {
    within("cancel while queued", || {
        let linker = linker();
        let gate = Gate::new();
        let started = link_gated(&linker, &gate);
        let count = link_counter(&linker, "Job");
        let emitter = ThreadPoolEventEmitter::with_linker(&linker, 1);
        let gated = emitter.emit("Gated").unwrap();
        started.recv().unwrap();
        let job = emitter.emit("Job").unwrap();
        assert!(job.cancel());
        gate.open();
        assert_eq!(job.wait().unwrap().counts().cancelled, 1);
        assert_eq!(gated.wait().unwrap().counts().succeeded, 1);
        emitter.processor().shutdown(true);
        assert_eq!(count.get(), 0);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_async_code_emit_returns_at_once_and_wait_for_tasks_waits() {
    let linker = linker();
    let count = Counter::new();
    let c = count.clone();
    linker
        .on("Job")
        .subscribe(move |n: u64| {
            let c = c.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(n % 3)).await;
                c.incr();
                n
            }
        })
        .unwrap();
    let emitter = ThreadPoolEventEmitter::with_linker(&linker, 3);
    let mut handles: Vec<_> = (0..50_u64)
        .map(|n| emitter.emit_with("Job", n).unwrap())
        .collect();
    let last = handles.pop().unwrap();
    within_async("wait_for_tasks", emitter.wait_for_tasks()).await;
    assert_eq!(count.get(), 50);
    assert_eq!(emitter.processor().in_flight(), 0);
    assert_eq!(last.await.counts().succeeded, 1);
    // Dropped inside a multi-thread runtime: the join runs under `block_in_place`.
    drop(emitter);
}

#[tokio::test]
async fn deadline_shutdown_reports_finished_and_cancelled() {
    let linker = linker();
    let (dropped_tx, dropped_rx) = mpsc::channel();
    let dropped_tx = Mutex::new(dropped_tx);
    let (stuck_started_tx, stuck_started_rx) = tokio::sync::oneshot::channel::<()>();
    let stuck_started_tx = Mutex::new(Some(stuck_started_tx));
    linker
        .on("Stuck")
        .subscribe(move || {
            let guard = DropSignal(dropped_tx.lock().unwrap().clone(), "stuck handler dropped");
            let started = stuck_started_tx.lock().unwrap().take();
            async move {
                let _guard = guard;
                if let Some(started) = started {
                    let _ = started.send(());
                }
                std::future::pending::<()>().await;
            }
        })
        .unwrap();
    let gate = Gate::new();
    let gated_started = link_gated(&linker, &gate);
    let emitter = ThreadPoolEventEmitter::with_linker(&linker, 2);

    let stuck = emitter.emit("Stuck").unwrap();
    let gated = emitter.emit("Gated").unwrap();
    within_async("stuck handler starts", stuck_started_rx)
        .await
        .unwrap();
    tokio::task::spawn_blocking(move || gated_started.recv().unwrap())
        .await
        .unwrap();

    // The gate opens right after the shutdown has closed the queue (`join!` polls in
    // order): the gated emission finishes within the deadline, the stuck one does not.
    let (report, ()) = tokio::join!(emitter.shutdown(Duration::from_millis(300)), async {
        gate.open()
    });
    assert_eq!((report.finished, report.cancelled), (1, 1));
    assert_eq!(
        dropped_rx.try_recv(),
        Ok("stuck handler dropped"),
        "the stuck handler was cancelled"
    );
    assert_eq!(stuck.await.counts().cancelled, 1);
    assert_eq!(gated.await.counts().succeeded, 1);
    assert!(matches!(
        emitter.emit("Stuck"),
        Err(EmitError::Closed { .. })
    ));
}

#[tokio::test]
async fn deadline_shutdown_cancels_queued_emissions_without_running_them() {
    let linker = linker();
    linker
        .on("Stuck")
        .subscribe(std::future::pending::<()>)
        .unwrap();
    let count = Counter::new();
    let c = count.clone();
    linker
        .on("Job")
        .subscribe(move || {
            c.incr();
            async {}
        })
        .unwrap();
    let emitter = ThreadPoolEventEmitter::with_linker(&linker, 1);
    let stuck = emitter.emit("Stuck").unwrap();
    // Queued behind the stuck emission on the only worker.
    let jobs: Vec<_> = (0..3).map(|_| emitter.emit("Job").unwrap()).collect();

    let report = within_async("shutdown", emitter.shutdown(Duration::from_millis(50))).await;
    assert_eq!((report.finished, report.cancelled), (0, 4));
    assert_eq!(stuck.await.counts().cancelled, 1);
    for job in jobs {
        let report = job.await;
        assert_eq!(report.counts().cancelled, 1);
        assert!(matches!(report.handlers(), [] | [_]));
        if let [handler] = report.handlers() {
            assert!(matches!(handler.outcome, Outcome::Cancelled));
        }
    }
    assert_eq!(
        count.get(),
        0,
        "queued emissions were cancelled before they started"
    );
}

// ---------------------------------------------------------------------------------------
// Where an emission may wait: bounds, handles and the tokio emitter on a worker
// ---------------------------------------------------------------------------------------

/// Bound 1 with `Overflow::Wait`, on a pool: a sync handler (on a worker, with no
/// runtime entered) emits again on its own emitter while its emission holds the only
/// place. Waiting would wait for itself, with one worker or more: the nested `emit` must
/// be refused with `Full`.
#[test]
fn a_pool_handler_emitting_on_its_own_full_bounded_emitter_is_refused_not_deadlocked() {
    for threads in [1, 2] {
        let nested = within_for(
            "a nested emit on a full pool bound",
            HANG_BOUND,
            move || {
                let linker = linker();
                let emitter = EventEmitter::builder()
                    .linker(&linker)
                    .processor(ThreadPoolProcessor::new(threads))
                    .max_in_flight(1, Overflow::Wait)
                    .build();
                let (tx, rx) = mpsc::channel();
                let tx = Mutex::new(tx);
                linker
                    .on("Outer")
                    .subscribe(move |em: &ThreadPoolEventEmitter| {
                        let nested = em.emit("Inner").map(|_| ());
                        let refused_full = matches!(nested, Err(EmitError::Full(_)));
                        tx.lock().unwrap().send(refused_full).unwrap();
                    })
                    .unwrap();
                linker.on("Inner").subscribe(|| ()).unwrap();
                let outer = emitter.emit_with("Outer", emitter.clone()).unwrap();
                let report = outer.wait().unwrap();
                let refused_full = rx.recv_timeout(DEADLOCK_TIMEOUT).unwrap();
                emitter.processor().shutdown(true);
                (report.counts().succeeded, refused_full)
            },
        );
        assert_eq!(
            nested,
            (1, true),
            "{threads} worker(s): the outer handler ran and its nested emit was refused as full"
        );
    }
}

/// An async handler of a pool emission emits on a `TokioEventEmitter`. That emit sees
/// the worker's runtime and schedules there; the worker must drive what was scheduled
/// (as a sync-context emit waits for what its handlers schedule) instead of leaving it
/// undriven or dropping it with the runtime.
#[test]
fn a_pool_handlers_emissions_on_a_tokio_emitter_run_their_handlers() {
    const ROUNDS: u32 = 20;
    let (ran, reports) = within("inner tokio emissions", || {
        let linker = linker();
        let inner = TokioEventEmitter::with_linker(&linker);
        let (ran_tx, ran_rx) = mpsc::channel::<u32>();
        let ran_tx = Mutex::new(ran_tx);
        linker
            .on("Inner")
            .subscribe(move |n: u32| {
                let tx = ran_tx.lock().unwrap().clone();
                async move {
                    // Pending once: the inner emission outlives the first pass.
                    tokio::task::yield_now().await;
                    tx.send(n).unwrap();
                }
            })
            .unwrap();
        let (handle_tx, handle_rx) = mpsc::channel::<Emitted>();
        let handle_tx = Mutex::new(handle_tx);
        linker
            .on("Outer")
            .subscribe(move |n: u32| {
                let inner = inner.clone();
                let handle_tx = handle_tx.lock().unwrap().clone();
                async move {
                    let emitted = inner.emit_with("Inner", n)?;
                    handle_tx.send(emitted).unwrap();
                    Ok::<_, EmitError>(())
                }
            })
            .unwrap();
        let pool = ThreadPoolEventEmitter::with_linker(&linker, 1);
        for n in 0..ROUNDS {
            let outer = pool.emit_with("Outer", n).unwrap().wait().unwrap();
            assert_eq!(outer.counts().succeeded, 1, "round {n}");
        }
        let mut ran: Vec<u32> = (0..ROUNDS)
            .map(|_| {
                ran_rx
                    .recv_timeout(HANG_BOUND)
                    .expect("an inner handler ran")
            })
            .collect();
        ran.sort_unstable();
        let reports: Vec<EmissionReport> = (0..ROUNDS)
            .map(|_| handle_rx.recv_timeout(HANG_BOUND).unwrap().wait().unwrap())
            .collect();
        pool.processor().shutdown(true);
        (ran, reports)
    });
    assert_eq!(ran, (0..ROUNDS).collect::<Vec<_>>());
    for report in reports {
        assert_eq!(report.counts().succeeded, 1, "{report:?}");
    }
}

/// An emission a pool handler made on a `TokioEventEmitter` that never ends does not
/// keep the pool from shutting down: when the pool has nothing left to run, the worker
/// stops waiting for it and shuts its runtime down, which cancels it and reports it, as
/// a runtime's shutdown does.
#[test]
fn a_never_ending_tokio_emission_of_a_pool_handler_is_cancelled_when_the_pool_shuts_down() {
    for deadline in [false, true] {
        let report = within_for("shutdown of the pool", HANG_BOUND, move || {
            let linker = linker();
            let inner = TokioEventEmitter::with_linker(&linker);
            linker
                .on("Stuck")
                .subscribe(std::future::pending::<()>)
                .unwrap();
            let (handle_tx, handle_rx) = mpsc::channel::<Emitted>();
            let handle_tx = Mutex::new(handle_tx);
            linker
                .on("Outer")
                .subscribe(move || {
                    let inner = inner.clone();
                    let handle_tx = handle_tx.lock().unwrap().clone();
                    async move {
                        handle_tx.send(inner.emit("Stuck")?).unwrap();
                        Ok::<_, EmitError>(())
                    }
                })
                .unwrap();
            let pool = ThreadPoolEventEmitter::with_linker(&linker, 1);
            let outer = pool.emit("Outer").unwrap().wait().unwrap();
            assert_eq!(outer.counts().succeeded, 1);
            let stuck = handle_rx.recv_timeout(HANG_BOUND).unwrap();
            if deadline {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(pool.shutdown(Duration::from_millis(20)));
            } else {
                pool.processor().shutdown(true);
            }
            stuck.wait().unwrap()
        });
        assert_eq!(
            report.counts().cancelled,
            1,
            "deadline {deadline}: {report}"
        );
    }
}

/// As above, with the inner emit made where the handler's task-local scope does not
/// reach: on a blocking thread the handler awaits. It is still on the worker's runtime,
/// which the worker must drive until that emission ends.
#[test]
fn a_pool_handlers_emissions_from_a_blocking_thread_run_their_handlers() {
    const ROUNDS: u32 = 20;
    let (ran, reports) = within("inner tokio emissions from spawn_blocking", || {
        let linker = linker();
        let inner = TokioEventEmitter::with_linker(&linker);
        let (ran_tx, ran_rx) = mpsc::channel::<u32>();
        let ran_tx = Mutex::new(ran_tx);
        linker
            .on("Inner")
            .subscribe(move |n: u32| {
                let tx = ran_tx.lock().unwrap().clone();
                async move {
                    tokio::task::yield_now().await;
                    tx.send(n).unwrap();
                }
            })
            .unwrap();
        linker
            .on("Outer")
            .subscribe(move |n: u32| {
                let inner = inner.clone();
                async move {
                    tokio::task::spawn_blocking(move || inner.emit_with("Inner", n))
                        .await
                        .expect("the blocking closure does not panic")
                }
            })
            .unwrap();
        let pool = ThreadPoolEventEmitter::with_linker(&linker, 1);
        let mut reports = Vec::new();
        for n in 0..ROUNDS {
            let outer = pool.emit_with("Outer", n).unwrap().wait().unwrap();
            assert_eq!(outer.counts().succeeded, 1, "round {n}: {outer:?}");
            reports.push(outer);
        }
        let mut ran: Vec<u32> = (0..ROUNDS)
            .map(|_| {
                ran_rx
                    .recv_timeout(HANG_BOUND)
                    .expect("an inner handler ran")
            })
            .collect();
        ran.sort_unstable();
        pool.processor().shutdown(true);
        (ran, reports.len())
    });
    assert_eq!(ran, (0..ROUNDS).collect::<Vec<_>>());
    assert_eq!(reports, ROUNDS as usize);
}

/// A sync handler on a pool worker waits on the handle of an emission it queued on the
/// same pool. With one worker, that emission can only run once the handler returns:
/// `wait` must give the handle back rather than block forever, and the rule holds for
/// any pool size (other workers may all be waiting too).
#[test]
fn waiting_on_a_worker_for_an_emission_of_its_own_pool_is_refused() {
    for threads in [1, 2] {
        let (outer, refused, inner) = within_for("wait on a worker", HANG_BOUND, move || {
            let linker = linker();
            let runs = link_counter(&linker, "Inner");
            // The inner emission cannot finish before the outer handler's wait returned
            // (on another worker it could, and the wait would rightly return its report).
            let (gate_tx, gate_rx) = mpsc::channel::<()>();
            let gate_rx = Mutex::new(gate_rx);
            linker
                .on("Inner")
                .subscribe(move || {
                    let _ = gate_rx.lock().unwrap().recv_timeout(DEADLOCK_TIMEOUT);
                })
                .unwrap();
            let (tx, rx) = mpsc::channel::<Result<EmissionReport, Emitted>>();
            let tx = Mutex::new(tx);
            linker
                .on("Outer")
                .subscribe(move |em: &ThreadPoolEventEmitter| {
                    let waited = em.emit("Inner")?.wait();
                    tx.lock().unwrap().send(waited).unwrap();
                    Ok::<_, EmitError>(())
                })
                .unwrap();
            let pool = ThreadPoolEventEmitter::with_linker(&linker, threads);
            let outer = pool
                .emit_with("Outer", pool.clone())
                .unwrap()
                .wait()
                .unwrap();
            let waited = rx.recv_timeout(DEADLOCK_TIMEOUT).unwrap();
            let refused = waited.is_err();
            gate_tx.send(()).unwrap();
            // Given back, the handle still gets its report, here off the pool.
            let inner = match waited {
                Ok(report) => report,
                Err(handle) => handle.wait().unwrap(),
            };
            pool.processor().shutdown(true);
            assert_eq!(runs.get(), 1);
            (outer.counts().succeeded, refused, inner.counts().succeeded)
        });
        assert_eq!(
            (outer, refused, inner),
            (1, true, 2),
            "{threads} worker(s): the wait was refused and the inner emission still ran"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Builder settings
// ---------------------------------------------------------------------------------------

/// Thread counts beyond what a process can start do not panic (the pool once reserved
/// room for every requested handle up front) and are capped at `MAX_THREADS`.
#[test]
fn a_pool_asked_for_usize_max_threads_builds_and_runs() {
    let linker = linker();
    let runs = link_counter(&linker, "Job");
    for pool in [
        ThreadPoolProcessor::new(usize::MAX),
        ThreadPoolProcessor::builder().threads(usize::MAX).build(),
    ] {
        assert!((1..=ThreadPoolBuilder::MAX_THREADS).contains(&pool.threads()));
        let emitter = EventEmitter::builder()
            .linker(&linker)
            .processor(pool)
            .build();
        assert_eq!(
            emitter
                .emit("Job")
                .unwrap()
                .wait()
                .unwrap()
                .counts()
                .succeeded,
            1
        );
        emitter.processor().shutdown(true);
    }
    assert_eq!(runs.get(), 2);
}
