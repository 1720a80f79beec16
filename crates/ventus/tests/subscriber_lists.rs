//! An event's subscriber list as emissions see it while subscribes append to it: each
//! emission runs the handlers linked when it was emitted, in subscription order, however
//! many subscribes, unsubscribes and once-removals came before or come meanwhile.
//!
//! The registry lets consecutive snapshots of an event share one buffer and appends a new
//! subscriber in its spare room; these tests pick list lengths on both sides of the
//! buffer's growth points (1, 4, 8, ...), so that a subscribe made during an emission
//! lands both in a slot past that emission's end and in a copied buffer.

use std::sync::{Arc, Mutex};

use ventus::{EventTarget, Subscription, TokioEventEmitter};

mod support;

use support::linker;

type Log = Arc<Mutex<Vec<usize>>>;

fn taken(log: &Log) -> Vec<usize> {
    std::mem::take(&mut *log.lock().unwrap())
}

/// A handler that logs `label`.
fn logs(log: &Log, label: usize) -> impl Fn() + Send + Sync + 'static {
    let log = log.clone();
    move || log.lock().unwrap().push(label)
}

/// Subscriptions made by the first and the last handler of an emission, `added` in all,
/// do not run in it, whether they fit in the list's buffer or make it grow; the next
/// emission runs everyone in subscription order.
fn subscribed_mid_walk(first: usize, added: usize, on_any: bool) {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let log: Log = Arc::default();
    let armed = Arc::new(Mutex::new(true));
    for label in 0..first {
        let log = log.clone();
        let inner = linker.clone();
        let armed = armed.clone();
        let adds = if label == 0 {
            added / 2
        } else if label == first - 1 {
            added - added / 2
        } else {
            0
        };
        let base = if label == 0 { first } else { first + added / 2 };
        let handler = move || {
            log.lock().unwrap().push(label);
            if *armed.lock().unwrap() {
                for n in 0..adds {
                    inner.on("Tick").subscribe(logs(&log, base + n)).unwrap();
                }
            }
        };
        if on_any && label % 2 == 1 {
            linker.on(EventTarget::Any).subscribe(handler).unwrap();
        } else {
            linker.on("Tick").subscribe(handler).unwrap();
        }
    }
    let all: Vec<usize> = if first == 1 {
        // One handler both starts and ends the walk: it adds everything, once.
        (first..first + added / 2).collect()
    } else {
        (first..first + added).collect()
    };
    emitter.emit("Tick").unwrap();
    assert_eq!(
        taken(&log),
        (0..first).collect::<Vec<_>>(),
        "{first} handlers, {added} subscribed mid-emission (any: {on_any})"
    );
    *armed.lock().unwrap() = false;
    emitter.emit("Tick").unwrap();
    let expected: Vec<usize> = (0..first).chain(all.iter().copied()).collect();
    assert_eq!(
        taken(&log),
        expected,
        "{first} handlers, {added} subscribed mid-emission (any: {on_any})"
    );
}

#[test]
fn subscriptions_made_while_an_emission_walks_the_list_do_not_run_in_it() {
    for first in 1..=9 {
        for added in [1, 2, 3, 5, 9] {
            subscribed_mid_walk(first, added, false);
        }
    }
}

/// The same with an any-event subscriber between each two: the emission walks two lists
/// merged in subscription order.
#[test]
fn subscriptions_made_while_a_merged_walk_runs_do_not_run_in_it() {
    for first in 2..=9 {
        for added in [1, 4, 7] {
            subscribed_mid_walk(first, added, true);
        }
    }
}

/// An emission scheduled on a runtime runs the handlers linked when it was emitted,
/// not those subscribed between `emit` and its run (which go into the same buffer).
#[tokio::test(flavor = "current_thread")]
async fn a_scheduled_emission_runs_the_handlers_linked_when_it_was_emitted() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let log: Log = Arc::default();
    for label in 0..3 {
        linker.on("Tick").subscribe(logs(&log, label)).unwrap();
    }
    let first = emitter.emit("Tick").unwrap();
    for label in 3..10 {
        linker.on("Tick").subscribe(logs(&log, label)).unwrap();
    }
    let second = emitter.emit("Tick").unwrap();
    for label in 10..12 {
        linker.on("Tick").subscribe(logs(&log, label)).unwrap();
    }
    assert_eq!(first.await.counts().succeeded, 3);
    assert_eq!(second.await.counts().succeeded, 10);
    // Both may have run by now, in either order: each label as often as the emissions
    // that had it linked.
    let mut ran = taken(&log);
    ran.sort_unstable();
    let mut expected: Vec<usize> = (0..3).chain(0..10).collect();
    expected.sort_unstable();
    assert_eq!(ran, expected);
    emitter.emit("Tick").unwrap().await;
    assert_eq!(taken(&log), (0..12).collect::<Vec<_>>());
}

/// A small deterministic generator, so that a failure replays.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// After thousands of subscribes, unsubscribes and fired once-subscribers, in every
/// order, each emission runs exactly the linked handlers, in subscription order.
#[test]
fn emission_order_stays_subscription_order_through_subscribes_and_unsubscribes() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let log: Log = Arc::default();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    // The model: what is linked, in subscription order, and whether it is once.
    let mut linked: Vec<(usize, bool, Subscription)> = Vec::new();
    let mut next = 0;
    for step in 0..4_000 {
        match rng.below(10) {
            0..=5 => {
                let once = rng.below(8) == 0;
                let on = linker.on("Tick");
                let on = if once { on.once() } else { on };
                linked.push((next, once, on.subscribe(logs(&log, next)).unwrap()));
                next += 1;
            }
            6..=8 if !linked.is_empty() => {
                let (_, _, sub) = linked.remove(rng.below(linked.len()));
                assert!(sub.unsubscribe());
            }
            _ => {
                emitter.emit("Tick").unwrap();
                let expected: Vec<usize> = linked.iter().map(|(label, ..)| *label).collect();
                assert_eq!(taken(&log), expected, "step {step}");
                linked.retain(|(_, once, _)| !once);
                assert_eq!(linker.subscriber_count(), linked.len(), "step {step}");
            }
        }
    }
    emitter.emit("Tick").unwrap();
    let expected: Vec<usize> = linked.iter().map(|(label, ..)| *label).collect();
    assert!(expected.len() > 100, "the list grew: {}", expected.len());
    assert_eq!(taken(&log), expected);
}
