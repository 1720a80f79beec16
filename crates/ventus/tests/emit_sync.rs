//! The seed's sync context: `emit` called where no tokio runtime is entered runs the
//! emission to completion and returns after every handler, sync and async, finished;
//! handlers of one emission run concurrently and start in subscription order.

mod support;

use std::sync::Arc;
use std::thread;

use support::{setup, within, Counter, Log};
use ventus::{AnyEvent, EventTarget};

/// An async handler that yields to the scheduler `n` times before recording `marker`.
fn slow_async(
    log: &Log,
    marker: &'static str,
    n: usize,
) -> impl Fn() -> BoxedUnit + Send + Sync + 'static {
    let log = log.clone();
    move || {
        let log = log.clone();
        Box::pin(async move {
            for _ in 0..n {
                tokio::task::yield_now().await;
            }
            log.push(marker);
        })
    }
}

type BoxedUnit = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

fn assert_no_runtime() {
    assert!(
        tokio::runtime::Handle::try_current().is_err(),
        "this test must run in a sync context"
    );
}

#[test]
fn emit_returns_after_sync_and_async_handlers_finished() {
    assert_no_runtime();
    let (linker, emitter) = setup();
    let log = Log::new();
    let sync_log = log.clone();
    linker
        .on("StringEvent")
        .subscribe(move || sync_log.push("sync done"))
        .unwrap();
    linker
        .on("StringEvent")
        .subscribe(slow_async(&log, "async done", 5))
        .unwrap();
    linker
        .on("StringEvent")
        .subscribe(slow_async(&log, "slower async done", 50))
        .unwrap();

    emitter.emit("StringEvent").unwrap();

    let mut seen = log.snapshot();
    seen.sort();
    assert_eq!(seen, ["async done", "slower async done", "sync done"]);
    assert_eq!(emitter.processor().in_flight(), 0);
}

#[test]
fn emit_from_a_std_thread_waits_for_every_handler() {
    let (linker, emitter) = setup();
    let log = Log::new();
    let sync_log = log.clone();
    linker
        .on("E")
        .subscribe(move |n: &u32| sync_log.push(format!("sync {n}")))
        .unwrap();
    let async_log = log.clone();
    linker
        .on("E")
        .subscribe(move |n: u32| {
            let log = async_log.clone();
            async move {
                for _ in 0..10 {
                    tokio::task::yield_now().await;
                }
                log.push(format!("async {n}"));
            }
        })
        .unwrap();

    let seen = within("emit from a std thread", move || {
        assert_no_runtime();
        let mut rounds = Vec::new();
        for n in 0..3_u32 {
            emitter.emit_with("E", n).unwrap();
            // Read right after `emit` returned: both handlers of this emission are done.
            let mut round = log.take();
            round.sort();
            rounds.push(round);
        }
        rounds
    });
    for (n, round) in seen.iter().enumerate() {
        assert_eq!(round, &[format!("async {n}"), format!("sync {n}")]);
    }
}

#[test]
fn emit_from_many_std_threads_each_waits_for_its_own_handlers() {
    let (linker, emitter) = setup();
    let count = Counter::new();
    let c = count.clone();
    linker
        .on("E")
        .subscribe(move |tx: std::sync::mpsc::SyncSender<()>| {
            let c = c.clone();
            async move {
                tokio::task::yield_now().await;
                c.incr();
                tx.send(()).unwrap();
            }
        })
        .unwrap();
    within("emits from many threads", move || {
        thread::scope(|s| {
            for _ in 0..8 {
                let emitter = emitter.clone();
                s.spawn(move || {
                    for _ in 0..20 {
                        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
                        emitter.emit_with("E", tx).unwrap();
                        // The handler has run, and so has sent, before `emit` returned.
                        rx.try_recv()
                            .expect("handler finished before emit returned");
                    }
                });
            }
        });
    });
    assert_eq!(count.get(), 8 * 20);
}

#[test]
fn async_handlers_of_one_emission_run_concurrently() {
    let (linker, emitter) = setup();
    // Each handler waits for the other: run one after the other, they never finish.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let log = Log::new();
    for name in ["first", "second"] {
        let (barrier, log) = (barrier.clone(), log.clone());
        linker
            .on("Rendezvous")
            .subscribe(move || {
                let (barrier, log) = (barrier.clone(), log.clone());
                async move {
                    log.push(format!("{name} waiting"));
                    barrier.wait().await;
                    log.push(format!("{name} through"));
                }
            })
            .unwrap();
    }

    let seen = within("emit with two handlers waiting for each other", move || {
        emitter.emit("Rendezvous").unwrap();
        log.snapshot()
    });
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(&seen[..2], ["first waiting", "second waiting"]);
}

#[test]
fn async_handlers_interleave() {
    let (linker, emitter) = setup();
    let log = Log::new();
    for name in ["a", "b"] {
        let log = log.clone();
        linker
            .on("E")
            .subscribe(move || {
                let log = log.clone();
                async move {
                    log.push(format!("{name}1"));
                    tokio::task::yield_now().await;
                    log.push(format!("{name}2"));
                }
            })
            .unwrap();
    }
    emitter.emit("E").unwrap();
    let b1 = log.position("b1").expect("b started");
    let a2 = log.position("a2").expect("a finished");
    assert!(
        b1 < a2,
        "b must start while a is suspended: {:?}",
        log.snapshot()
    );
}

#[test]
fn handlers_start_in_subscription_order_sync_and_async_mixed() {
    let (linker, emitter) = setup();
    let log = Log::new();
    for i in 0..8 {
        let log = log.clone();
        let event = if i % 3 == 2 {
            EventTarget::Any
        } else {
            EventTarget::named("E")
        };
        if i % 2 == 0 {
            linker
                .on(event)
                .subscribe(move || {
                    log.push(format!("start {i}"));
                    log.push(format!("end {i}"));
                })
                .unwrap();
        } else {
            linker
                .on(event)
                .subscribe(move || {
                    let log = log.clone();
                    async move {
                        log.push(format!("start {i}"));
                        // Later handlers start while this one is suspended.
                        for _ in 0..(8 - i) {
                            tokio::task::yield_now().await;
                        }
                        log.push(format!("end {i}"));
                    }
                })
                .unwrap();
        }
    }
    for round in 0..3 {
        emitter.emit("E").unwrap();
        let starts = log.with_prefix("start");
        let expected: Vec<String> = (0..8).map(|i| format!("start {i}")).collect();
        assert_eq!(starts, expected, "round {round}: {:?}", log.snapshot());
        assert_eq!(log.with_prefix("end").len(), 8, "round {round}");
        log.take();
    }
}

#[test]
fn sync_only_handlers_start_in_subscription_order() {
    let (linker, emitter) = setup();
    let log = Log::new();
    for i in 0..6 {
        let log = log.clone();
        let event = if i % 2 == 1 {
            EventTarget::Any
        } else {
            EventTarget::named("E")
        };
        linker
            .on(event)
            .subscribe(move |e: &AnyEvent| log.push(format!("{i} {}", e.name())))
            .unwrap();
    }
    emitter.emit("E").unwrap();
    assert_eq!(log.take(), ["0 E", "1 E", "2 E", "3 E", "4 E", "5 E"]);
    emitter.emit("Other").unwrap();
    assert_eq!(log.take(), ["1 Other", "3 Other", "5 Other"]);
}

#[test]
fn handler_linked_to_an_event_and_to_any_runs_once_sync_handler() {
    let (linker, emitter) = setup();
    let count = Counter::new();
    let c = count.clone();
    linker
        .on(["E".into(), EventTarget::Any])
        .subscribe(move || c.incr())
        .unwrap();
    // Another subscriber in between, so the merge cannot rely on adjacency.
    linker.on_any().subscribe(|| ()).unwrap();
    emitter.emit("E").unwrap();
    assert_eq!(
        count.get(),
        1,
        "linked to `E` and to any event: runs once per emission"
    );
    emitter.emit("Other").unwrap();
    assert_eq!(count.get(), 2);
}

#[test]
fn handler_linked_to_an_event_and_to_any_runs_once_async_handler() {
    let (linker, emitter) = setup();
    let count = Counter::new();
    let c = count.clone();
    linker
        .on([EventTarget::Any, "E".into()])
        .subscribe(move || {
            let c = c.clone();
            async move { c.incr() }
        })
        .unwrap();
    linker.on("E").subscribe(|| async {}).unwrap();
    emitter.emit("E").unwrap();
    assert_eq!(
        count.get(),
        1,
        "linked to `E` and to any event: runs once per emission"
    );
    emitter.emit("Other").unwrap();
    assert_eq!(count.get(), 2);
}

#[test]
fn emit_without_handlers_is_ok() {
    let (_linker, emitter) = setup();
    emitter.emit("Nobody").unwrap();
    emitter.emit_with("Nobody", 1_u8).unwrap();
}

#[test]
fn an_emission_made_in_a_spawn_blocking_closure_that_a_handler_awaits_is_waited_for() {
    let (linker, emitter) = setup();
    let inner = Counter::new();
    let counted = inner.clone();
    linker
        .on("Inner")
        .subscribe(move || {
            let counted = counted.clone();
            async move {
                tokio::task::yield_now().await;
                counted.incr();
            }
        })
        .unwrap();
    let nested = emitter.clone();
    linker
        .on("Outer")
        .subscribe(move || {
            let nested = nested.clone();
            async move {
                tokio::task::spawn_blocking(move || nested.emit("Inner").map(|_| ()))
                    .await
                    .expect("the blocking closure ran")
                    .expect("the inner emission was accepted");
            }
        })
        .unwrap();
    const ROUNDS: usize = 50;
    within("sync emissions", move || {
        assert_no_runtime();
        for round in 1..=ROUNDS {
            emitter.emit("Outer").unwrap();
            assert_eq!(
                inner.get(),
                round,
                "the inner emission of round {round} ran"
            );
        }
    });
}

/// What a thread-local destructor does in `emits_and_unsubscribes_from_a_thread_local_destructor`.
struct OnThreadExit {
    emitter: ventus::TokioEventEmitter,
    guard: Option<ventus::SubscriptionGuard>,
    done: std::sync::mpsc::Sender<Result<(), String>>,
}

impl Drop for OnThreadExit {
    fn drop(&mut self) {
        let emitted = self
            .emitter
            .emit("Exit")
            .map(|_| ())
            .map_err(|e| e.to_string());
        // Unsubscribes: the registry write runs during thread-local destruction too.
        drop(self.guard.take());
        let _ = self.done.send(emitted);
    }
}

thread_local! {
    static ON_EXIT: std::cell::RefCell<Option<OnThreadExit>> = const { std::cell::RefCell::new(None) };
}

/// `emit` and a `SubscriptionGuard`'s drop made from a thread-local destructor, after the
/// thread-locals ventus and its dependencies use were destroyed: no panic (which would
/// abort the process, failing this test binary), and the handler runs.
#[test]
fn emits_and_unsubscribes_from_a_thread_local_destructor() {
    let (linker, emitter) = setup();
    let (ran_tx, ran_rx) = std::sync::mpsc::channel::<()>();
    let ran_tx = std::sync::Mutex::new(ran_tx);
    linker
        .on("Exit")
        .subscribe(move || {
            let _ = ran_tx.lock().unwrap().send(());
        })
        .unwrap();
    let guarded = linker.on("Guarded").subscribe(|| ()).unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let (l, e, g) = (linker.clone(), emitter.clone(), guarded.clone());
    let worker = thread::spawn(move || {
        // Registered first, so destroyed last: after everything ventus touches below.
        ON_EXIT.with(|slot| {
            *slot.borrow_mut() = Some(OnThreadExit {
                emitter: e.clone(),
                guard: None,
                done: done_tx,
            })
        });
        e.emit("Exit").unwrap();
        assert!(l.contains_subscriber(&g));
        let _ = l.on("Other").subscribe(|| ()).unwrap().guard();
        ON_EXIT.with(|slot| {
            if let Some(on_exit) = slot.borrow_mut().as_mut() {
                on_exit.guard = Some(g.guard());
            }
        });
    });
    // Bounds, not synchronisation: a hang fails the test instead of stalling it.
    ran_rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the emission made in the thread body ran");
    let emitted = done_rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the thread-local destructor finished");
    assert_eq!(emitted, Ok(()));
    ran_rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the emission made in the destructor ran its handler");
    worker.join().unwrap();
    assert!(
        !linker.contains_subscriber(&guarded),
        "the guard unsubscribed"
    );
    assert!(linker.contains_event("Exit"));
}

#[test]
fn a_later_sync_emission_is_not_held_by_a_detached_blocking_closure_that_emitted() {
    // A handler detaches a blocking closure that emits after its own emission ended.
    // That emission is scheduled on the runtime the sync-context emission used, which
    // nobody drives until a later sync emission. When that later emission finds tasks
    // left on the runtime it shuts the runtime down rather than keep it; that must not
    // wait for the blocking closure, which here waits for the test.
    use std::sync::mpsc;
    use std::sync::Mutex;
    use std::time::Duration;

    let (linker, emitter) = setup();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (emitted_tx, emitted_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let ran_b = Counter::new();
    let b = ran_b.clone();
    linker.on("B").subscribe(move || b.incr()).unwrap();
    linker.on("C").subscribe(|| async {}).unwrap();
    let closure = Arc::new(Mutex::new(Some((go_rx, emitted_tx, release_rx))));
    let stray_emitter = emitter.clone();
    linker
        .on("A")
        .subscribe(move || {
            let (closure, emitter) = (closure.clone(), stray_emitter.clone());
            async move {
                let Some((go, emitted, release)) = closure.lock().unwrap().take() else {
                    return;
                };
                // Detached: not awaited, so `emit("A")` returns without it.
                drop(tokio::task::spawn_blocking(move || {
                    go.recv().unwrap();
                    emitter.emit("B").unwrap();
                    emitted.send(()).unwrap();
                    let _ = release.recv();
                }));
            }
        })
        .unwrap();

    // One thread for both: it keeps its sync-context runtime between emissions.
    let report = support::within_for(
        "a later sync emission",
        Duration::from_secs(10),
        move || {
            emitter.emit("A").unwrap();
            go_tx.send(()).unwrap();
            emitted_rx
                .recv_timeout(Duration::from_secs(10))
                .expect("the stray emission was made");
            emitter.emit("C").unwrap().wait().unwrap()
        },
    );
    release_tx.send(()).unwrap();
    assert_eq!(report.counts().succeeded, 1);
    // `B` ran when `C` drove the runtime, or was cancelled with the runtime's tasks:
    // never twice.
    assert!(ran_b.get() <= 1);
}
