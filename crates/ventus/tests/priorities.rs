//! Priorities: handlers start by priority (higher first), then subscription order, in
//! every context and whatever subscribes meanwhile.

use std::sync::{Arc, Mutex};

use ventus::{Subscription, TokioEventEmitter};

mod support;

use support::{linker, multi_thread, within};

type Log = Arc<Mutex<Vec<i32>>>;

#[test]
fn sync_handlers_run_by_priority_then_subscription_order() {
    let linker = linker();
    let log: Log = Arc::default();
    // (label, priority): labels sorted by where they must run.
    for (label, priority) in [
        (3, 0),
        (5, -1),
        (1, 10),
        (4, 0),
        (2, 10),
        (6, i32::MIN),
        (0, i32::MAX),
    ] {
        let log = log.clone();
        linker
            .on("Tick")
            .priority(priority)
            .subscribe(move || log.lock().unwrap().push(label))
            .unwrap();
    }
    let any_log = log.clone();
    linker
        .on_any()
        .priority(7)
        .subscribe(move || any_log.lock().unwrap().push(100))
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit("Tick").unwrap();
    assert_eq!(*log.lock().unwrap(), [0, 1, 2, 100, 3, 4, 5, 6]);
}

#[test]
fn async_handlers_start_by_priority() {
    let linker = linker();
    let log: Log = Arc::default();
    for (label, priority) in [(2, 0), (0, 5), (1, 1), (3, -5)] {
        let log = log.clone();
        linker
            .on("Job")
            .priority(priority)
            .subscribe(move || {
                // Logged when the handler starts, before its first await.
                log.lock().unwrap().push(label);
                async { tokio::task::yield_now().await }
            })
            .unwrap();
    }
    let emitter = TokioEventEmitter::with_linker(&linker);
    multi_thread(2).block_on(async {
        emitter.run("Job").await.unwrap();
        assert_eq!(std::mem::take(&mut *log.lock().unwrap()), [0, 1, 2, 3]);
        emitter.emit("Job").unwrap();
        emitter.wait_for_tasks().await;
        assert_eq!(std::mem::take(&mut *log.lock().unwrap()), [0, 1, 2, 3]);
    });
    let sync = emitter.clone();
    within("a sync-context emission", move || {
        sync.emit("Job").unwrap().wait().unwrap();
    });
    assert_eq!(*log.lock().unwrap(), [0, 1, 2, 3]);
}

/// Threads emit while another subscribes with random priorities (inserting in the
/// middle of the list, or appending) and unsubscribes: every emission runs a list in
/// start order, each handler once.
#[test]
fn concurrent_subscribes_with_priorities_keep_each_emission_in_order() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    // (emission, priority, label)
    let log = Arc::new(Mutex::new(Vec::<(u64, i32, usize)>::new()));
    within("emitting while priorities change", {
        let linker = linker.clone();
        let log = log.clone();
        move || {
            std::thread::scope(|scope| {
                for t in 0..2_u64 {
                    let emitter = emitter.clone();
                    scope.spawn(move || {
                        for i in 0..2_000_u64 {
                            emitter.emit_with("E", t * 1_000_000 + i).unwrap();
                        }
                    });
                }
                let mut linked: Vec<Subscription> = Vec::new();
                let mut seed = 0x9e37_79b9_u32;
                for label in 0..500_usize {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    let priority = (seed % 7) as i32 - 3;
                    let log = log.clone();
                    linked.push(
                        linker
                            .on("E")
                            .priority(priority)
                            .subscribe(move |n: &u64| {
                                log.lock().unwrap().push((*n, priority, label))
                            })
                            .unwrap(),
                    );
                    if label % 4 == 3 {
                        let at = seed as usize % linked.len();
                        assert!(linked.remove(at).unsubscribe());
                    }
                }
            });
        }
    });
    let log = std::mem::take(&mut *log.lock().unwrap());
    let mut runs: std::collections::HashMap<u64, Vec<(i32, usize)>> = Default::default();
    for (n, priority, label) in log {
        runs.entry(n).or_default().push((priority, label));
    }
    assert!(runs.len() > 100, "emissions overlapped the subscribes");
    for (n, ran) in runs {
        let mut sorted = ran.clone();
        sorted.sort_by_key(|&(priority, label)| (std::cmp::Reverse(priority), label));
        sorted.dedup();
        assert_eq!(
            ran, sorted,
            "emission {n} out of start order (or ran a handler twice)"
        );
    }
}
