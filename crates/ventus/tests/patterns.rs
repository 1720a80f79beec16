//! Event patterns (`"order.*"`, `"order.**"`) and priorities, the way users use them: an
//! emission reaches the name's own subscribers, the matching patterns' and "any event"'s,
//! each once, by priority then subscription order; bad patterns are refused; the names'
//! resolved lists follow every subscribe and unsubscribe.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use ventus::{AnyEvent, EventTarget, SubscribeError, Subscription, TokioEventEmitter};

mod support;

use support::{linker, multi_thread, within};

type Log = Arc<Mutex<Vec<&'static str>>>;

fn logs(log: &Log, label: &'static str) -> impl Fn() + Send + Sync + 'static {
    let log = log.clone();
    move || log.lock().unwrap().push(label)
}

fn taken(log: &Log) -> Vec<&'static str> {
    std::mem::take(&mut *log.lock().unwrap())
}

#[test]
fn an_emission_reaches_exact_pattern_and_any_subscribers_once_each_in_start_order() {
    let linker = linker();
    let log: Log = Arc::default();
    linker
        .on("order.created")
        .subscribe(logs(&log, "exact"))
        ._ok();
    linker.on("order.*").subscribe(logs(&log, "one"))._ok();
    linker.on("order.**").subscribe(logs(&log, "many"))._ok();
    linker.on_any().subscribe(logs(&log, "any"))._ok();
    linker
        .on("*.created")
        .priority(5)
        .subscribe(logs(&log, "first"))
        ._ok();
    // Linked to the name, to two patterns and to "any event": still once.
    linker
        .on([
            EventTarget::from("order.created"),
            EventTarget::from("order.*"),
            EventTarget::from("**"),
            EventTarget::Any,
        ])
        .subscribe(logs(&log, "everywhere"))
        ._ok();
    linker.on("user.*").subscribe(logs(&log, "user"))._ok();
    let emitter = TokioEventEmitter::with_linker(&linker);

    let report = emitter.emit("order.created").unwrap().wait().unwrap();
    assert_eq!(
        taken(&log),
        ["first", "exact", "one", "many", "any", "everywhere"]
    );
    assert_eq!(report.counts().succeeded, 6);
    assert_eq!(
        report.event(),
        "order.created",
        "reports name what was emitted"
    );

    emitter.emit("order.shipped.eu").unwrap();
    assert_eq!(taken(&log), ["many", "any", "everywhere"]);
    emitter.emit("user.created").unwrap();
    assert_eq!(taken(&log), ["first", "any", "everywhere", "user"]);
    emitter.emit("order").unwrap();
    assert_eq!(
        taken(&log),
        ["any", "everywhere"],
        "`**` takes one segment or more"
    );
}

/// Unwraps a subscription the test expects to be made.
trait OkOrPanic {
    fn _ok(self);
}

impl OkOrPanic for Result<Subscription, SubscribeError> {
    fn _ok(self) {
        self.expect("the subscription is valid");
    }
}

#[test]
fn bad_patterns_are_refused_with_the_reason_and_link_nothing() {
    let linker = linker();
    for bad in ["order*", "order..*", "order.*.", "*x.created", "***"] {
        let err = linker
            .on(["fine", bad])
            .subscribe(|| ())
            .expect_err("a malformed pattern is refused");
        let SubscribeError::InvalidPattern { pattern, reason } = &err else {
            panic!("{bad}: {err:?}");
        };
        assert_eq!(pattern, bad);
        assert!(!reason.is_empty());
        assert!(err.to_string().contains(bad), "{err}");
    }
    assert!(
        linker.is_empty(),
        "nothing is linked when one target is refused"
    );
}

#[test]
fn payloads_and_names_reach_pattern_handlers() {
    let linker = linker();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    linker
        .on("temp.*")
        .subscribe(move |celsius: &f64| sink.lock().unwrap().push(*celsius))
        ._ok();
    let names = Arc::new(Mutex::new(Vec::new()));
    let sink = names.clone();
    linker
        .on("temp.**")
        .subscribe(move |e: &AnyEvent| sink.lock().unwrap().push(e.name().to_string()))
        ._ok();
    let emitter = TokioEventEmitter::with_linker(&linker);
    emitter.emit_with("temp.kitchen", 21.5_f64).unwrap();
    emitter.emit_with("temp.cellar", 12.0_f64).unwrap();
    assert_eq!(*seen.lock().unwrap(), [21.5, 12.0]);
    assert_eq!(*names.lock().unwrap(), ["temp.kitchen", "temp.cellar"]);
    assert!(
        linker.contains_event("temp.*"),
        "patterns are listed like events"
    );
}

#[test]
fn subscribing_and_unsubscribing_patterns_takes_effect_at_once() {
    let linker = linker();
    let log: Log = Arc::default();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let exact = linker
        .on("job.done")
        .subscribe(logs(&log, "exact"))
        .unwrap();
    emitter.emit("job.done").unwrap();
    assert_eq!(taken(&log), ["exact"]);

    let pattern = linker.on("job.*").subscribe(logs(&log, "pattern")).unwrap();
    emitter.emit("job.done").unwrap();
    emitter.emit("job.failed").unwrap();
    assert_eq!(taken(&log), ["exact", "pattern", "pattern"]);

    let late = linker.on("job.done").subscribe(logs(&log, "late")).unwrap();
    emitter.emit("job.done").unwrap();
    assert_eq!(taken(&log), ["exact", "pattern", "late"]);

    assert!(pattern.unsubscribe());
    emitter.emit("job.done").unwrap();
    emitter.emit("job.failed").unwrap();
    assert_eq!(taken(&log), ["exact", "late"]);

    let once = linker
        .on("job.**")
        .once()
        .subscribe(logs(&log, "once"))
        .unwrap();
    emitter.emit("job.failed").unwrap();
    emitter.emit("job.failed.retry").unwrap();
    assert_eq!(
        taken(&log),
        ["once"],
        "a once-pattern runs for one emission"
    );
    assert!(!once.is_linked());
    assert!(exact.unsubscribe() && late.unsubscribe());
    assert!(linker.is_empty());
}

#[test]
fn next_and_streams_take_patterns() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let rt = multi_thread(2);
    rt.block_on(async {
        let next = linker.next("sensor.*");
        let mut stream = linker
            .stream("sensor.**", 8, ventus::StreamOverflow::DropOldest)
            .unwrap();
        emitter.emit_with("sensor.door", 1_u8).unwrap();
        emitter.emit_with("sensor.door.front", 2_u8).unwrap();
        let first = next.await.unwrap();
        assert_eq!(first.name(), "sensor.door");
        let a = stream.recv().await.unwrap().unwrap();
        let b = stream.recv().await.unwrap().unwrap();
        assert_eq!(
            (&**a.name(), &**b.name()),
            ("sensor.door", "sensor.door.front")
        );
    });
}

#[test]
fn async_handlers_on_patterns_run_in_both_contexts() {
    let linker = linker();
    let total = Arc::new(Mutex::new(0_u64));
    let sink = total.clone();
    linker
        .on("pay.*")
        .subscribe(move |cents: u64| {
            let sink = sink.clone();
            async move { *sink.lock().unwrap() += cents }
        })
        ._ok();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let sync = emitter.clone();
    within("a sync-context emission", move || {
        sync.emit_with("pay.card", 5_u64).unwrap().wait().unwrap();
    });
    multi_thread(2).block_on(async {
        emitter.emit_with("pay.cash", 7_u64).unwrap();
        emitter.run_with("pay.wire", 11_u64).await.unwrap();
        emitter.wait_for_tasks().await;
    });
    assert_eq!(*total.lock().unwrap(), 23);
}

/// Threads emit names that patterns match while another subscribes and unsubscribes
/// patterns: no handler runs twice in one emission, a pattern's handler runs only for
/// names it matches, and once every change is done, every emission sees the final set.
#[test]
fn emissions_stay_consistent_while_patterns_change() {
    let linker = linker();
    let emitter = TokioEventEmitter::with_linker(&linker);
    // Each handler logs (emission value, its own label).
    let log = Arc::new(Mutex::new(Vec::<(u64, usize)>::new()));
    let subscribe = {
        let (log, linker) = (log.clone(), linker.clone());
        move |label: usize, pattern: &'static str| {
            let log = log.clone();
            linker
                .on(pattern)
                .subscribe(move |n: &u64| log.lock().unwrap().push((*n, label)))
                .unwrap()
        }
    };
    let stable = subscribe(0, "a.*");
    let patterns = ["a.*", "a.**", "*.b", "**", "a.b", "x.*"];
    within("emitting while patterns change", move || {
        std::thread::scope(|scope| {
            for t in 0..2_u64 {
                let emitter = emitter.clone();
                scope.spawn(move || {
                    for i in 0..2_000_u64 {
                        emitter.emit_with("a.b", t * 1_000_000 + i).unwrap();
                    }
                });
            }
            let mut linked: Vec<Subscription> = Vec::new();
            for round in 0..400_usize {
                let label = round + 1;
                linked.push(subscribe(label, patterns[round % patterns.len()]));
                if round % 3 == 2 {
                    assert!(linked.remove(round % linked.len()).unsubscribe());
                }
            }
            for sub in linked {
                sub.unsubscribe();
            }
        });
        let log = std::mem::take(&mut *log.lock().unwrap());
        let mut per_emission: std::collections::HashMap<u64, Vec<usize>> = Default::default();
        for (n, label) in log {
            per_emission.entry(n).or_default().push(label);
        }
        assert_eq!(
            per_emission.len(),
            4_000,
            "every emission ran the stable handler"
        );
        for (n, labels) in per_emission {
            let unique: BTreeSet<_> = labels.iter().collect();
            assert_eq!(
                unique.len(),
                labels.len(),
                "emission {n} ran a handler twice"
            );
            assert!(
                labels.contains(&0),
                "emission {n} missed the stable handler"
            );
            for label in labels.iter().filter(|l| **l > 0) {
                let pattern = patterns[(label - 1) % patterns.len()];
                assert_ne!(pattern, "x.*", "emission {n} ran a handler of `x.*`");
            }
            let mut sorted = labels.clone();
            sorted.sort_unstable();
            assert_eq!(labels, sorted, "emission {n}: not in subscription order");
        }
        assert!(stable.is_linked());
    });
}

/// One step of the model test.
#[derive(Debug, Clone)]
enum Op {
    Subscribe {
        target: usize,
        priority: i32,
        once: bool,
    },
    Unsubscribe(usize),
    Emit(usize),
}

/// Targets subscribed to, `None` for "any event".
const TARGETS: [Option<&str>; 9] = [
    Some("a.b"),
    Some("a.c"),
    Some("a.b.c"),
    Some("x"),
    Some("a.*"),
    Some("*.b"),
    Some("a.**"),
    Some("**"),
    None,
];
const NAMES: [&str; 6] = ["a.b", "a.c", "a.b.c", "x", "a", "q.b"];

fn matches(target: Option<&str>, name: &str) -> bool {
    target.is_none_or(|pattern| support::pattern_matches(pattern, name))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..TARGETS.len(), -2..3_i32, proptest::bool::weighted(0.2))
            .prop_map(|(target, priority, once)| Op::Subscribe { target, priority, once }),
        1 => (0..64_usize).prop_map(Op::Unsubscribe),
        3 => (0..NAMES.len()).prop_map(Op::Emit),
    ]
}

/// A model of who is linked: `(label, target, priority, once)` in subscription order.
type Model = Vec<(usize, usize, i32, bool)>;

fn expected(model: &Model, name: &str) -> Vec<usize> {
    let mut reached: Vec<&(usize, usize, i32, bool)> = model
        .iter()
        .filter(|(_, target, _, _)| matches(TARGETS[*target], name))
        .collect();
    // Stable: equal priorities keep subscription order.
    reached.sort_by_key(|(_, _, priority, _)| std::cmp::Reverse(*priority));
    reached.iter().map(|(label, ..)| *label).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Any sequence of subscribes (exact, pattern, any; priorities; once), unsubscribes
    /// and emissions: each emission runs exactly the handlers the model says, in its
    /// order, in the sync context, and in `run` on a runtime.
    #[test]
    fn emissions_follow_the_model(ops in proptest::collection::vec(op(), 1..48)) {
        let linker = linker();
        let emitter = TokioEventEmitter::with_linker(&linker);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let ran = Arc::new(Mutex::new(Vec::<usize>::new()));
        let mut model: Model = Vec::new();
        let mut subs: Vec<(usize, Subscription)> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Subscribe { target, priority, once } => {
                    let ran = ran.clone();
                    let builder = match TARGETS[target] {
                        Some(name) => linker.on(name),
                        None => linker.on_any(),
                    };
                    let builder = builder.priority(priority);
                    let builder = if once { builder.once() } else { builder };
                    let sub = builder.subscribe(move || ran.lock().unwrap().push(step)).unwrap();
                    model.push((step, target, priority, once));
                    subs.push((step, sub));
                }
                Op::Unsubscribe(i) if !subs.is_empty() => {
                    let (label, sub) = subs.remove(i % subs.len());
                    let linked = model.iter().any(|(l, ..)| *l == label);
                    prop_assert_eq!(sub.unsubscribe(), linked);
                    model.retain(|(l, ..)| *l != label);
                }
                Op::Unsubscribe(_) => {}
                Op::Emit(name) => {
                    let name = NAMES[name];
                    let want = expected(&model, name);
                    if step % 2 == 0 {
                        emitter.emit(name).unwrap();
                    } else {
                        rt.block_on(emitter.run(name)).unwrap();
                    }
                    let got = std::mem::take(&mut *ran.lock().unwrap());
                    prop_assert_eq!(&got, &want, "emitting {}", name);
                    // Once-subscribers that ran are gone.
                    model.retain(|(label, _, _, once)| !(*once && got.contains(label)));
                }
            }
        }
    }
}

/// A pattern's handlers take no part in the payload check, as "any event"'s do not: one
/// that takes another type fails on its own (and is reported), and never makes an
/// emission of a name it matches refused. The name's own handlers still are checked.
#[test]
fn a_pattern_handler_of_another_payload_type_fails_alone() {
    let linker = linker();
    let failures = Arc::new(Mutex::new(Vec::new()));
    let sink = failures.clone();
    linker
        .on("temp.*")
        .on_failure(move |err: &ventus::HandlerError| {
            sink.lock().unwrap().push(err.event().to_string())
        })
        .subscribe(|_: &f64| ())
        ._ok();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let report = emitter.emit("temp.reset").unwrap().wait().unwrap();
    assert_eq!((report.counts().total(), report.counts().failed), (1, 1));
    assert_eq!(*failures.lock().unwrap(), ["temp.reset"]);

    linker.on("temp.kitchen").subscribe(|_: &u8| ())._ok();
    let report = emitter
        .emit_with("temp.kitchen", 3_u8)
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!((report.counts().succeeded, report.counts().failed), (1, 1));
    let refused = emitter.emit_with("temp.kitchen", 1.5_f64);
    assert!(
        matches!(refused, Err(ventus::EmitError::PayloadType(_))),
        "the name's own handler decides: {refused:?}"
    );
}
