//! A model-based test of the linker and the tokio emitter.
//!
//! Random sequences of subscribe, once-subscribe, unsubscribe, `remove`, `remove_event`,
//! `remove_all` and emit (sync context, async context with `wait_for_tasks`, `run`, and
//! several threads emitting at once) go to one linker with a few event names and to a plain model of what is linked. After
//! every step the handlers' runs and every registry query are compared with the model;
//! proptest shrinks a failure to a minimal sequence.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use ventus::{EventLinker, EventTarget, SubscribeError, Subscription, TokioEventEmitter};

mod support;

/// The named events of the model; `Target::Any` is the fourth target.
const NAMES: [&str; 3] = ["A", "B", "C"];
/// The linker's `max_subscribers`: small, so sequences reach it.
const MAX_SUBSCRIBERS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Named(usize),
    Any,
}

impl Target {
    fn to_event_target(self) -> EventTarget {
        match self {
            Target::Named(i) => EventTarget::named(NAMES[i]),
            Target::Any => EventTarget::Any,
        }
    }

    fn all() -> impl Iterator<Item = Target> {
        (0..NAMES.len()).map(Target::Named).chain([Target::Any])
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `|| ..`: runs to its end when reached.
    Sync,
    /// `|| async { .. }` that yields once before it ends.
    Async,
    /// A sync handler on tokio's blocking pool.
    Blocking,
}

#[derive(Debug, Clone, Copy)]
enum Context {
    /// `emit` on a thread with no runtime: returns after every handler ended.
    Sync,
    /// `emit` inside a runtime, then `wait_for_tasks().await`.
    Scheduled,
    /// `run(..).await` inside a runtime.
    Run,
}

#[derive(Debug, Clone)]
enum Op {
    Subscribe {
        targets: Vec<Target>,
        once: bool,
        kind: Kind,
    },
    Unsubscribe(Index),
    Remove(Target, Index),
    RemoveEvent(Target),
    RemoveAll,
    Emit(usize, Context),
    /// The event emitted at once from this many threads, each a sync context.
    EmitConcurrently(usize, usize),
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        4 => (0..NAMES.len()).prop_map(Target::Named),
        1 => Just(Target::Any),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let kind = prop_oneof![Just(Kind::Sync), Just(Kind::Async), Just(Kind::Blocking)];
    let context = prop_oneof![
        Just(Context::Sync),
        Just(Context::Scheduled),
        Just(Context::Run)
    ];
    prop_oneof![
        4 => (prop::collection::vec(target(), 1..4), any::<bool>(), kind)
            .prop_map(|(targets, once, kind)| Op::Subscribe { targets, once, kind }),
        1 => any::<Index>().prop_map(Op::Unsubscribe),
        1 => (target(), any::<Index>()).prop_map(|(t, i)| Op::Remove(t, i)),
        1 => target().prop_map(Op::RemoveEvent),
        1 => Just(Op::RemoveAll),
        4 => (0..NAMES.len(), context).prop_map(|(e, c)| Op::Emit(e, c)),
        1 => (0..NAMES.len(), 2..4_usize).prop_map(|(e, n)| Op::EmitConcurrently(e, n)),
    ]
}

/// One subscription as the model sees it.
#[derive(Debug)]
struct ModelSub {
    /// Its targets in the order given, duplicates dropped.
    given: Vec<Target>,
    /// The targets it is still linked to.
    linked: BTreeSet<Target>,
    once: bool,
    kind: Kind,
}

impl ModelSub {
    fn is_linked(&self) -> bool {
        !self.linked.is_empty()
    }
}

/// The reference: what is linked, and how often each handler must have run.
#[derive(Debug, Default)]
struct Model {
    subs: Vec<ModelSub>,
    runs: Vec<usize>,
}

impl Model {
    fn subscribers_of(&self, target: Target) -> impl Iterator<Item = usize> + '_ {
        self.subs
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.linked.contains(&target))
            .map(|(i, _)| i)
    }

    /// The handlers an emission of `event` runs, in subscription order; claims and
    /// unlinks the once-subscriptions among them.
    fn emit(&mut self, event: usize) -> Vec<usize> {
        let ran: Vec<usize> = self
            .subs
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.linked.contains(&Target::Named(event)) || s.linked.contains(&Target::Any)
            })
            .map(|(i, _)| i)
            .collect();
        for &i in &ran {
            self.runs[i] += 1;
            if self.subs[i].once {
                self.subs[i].linked.clear();
            }
        }
        ran
    }
}

/// What the handlers of the real linker did: model ids in the order handlers started,
/// and how many times each ended.
#[derive(Clone, Default)]
struct Runs(Arc<Mutex<RunLog>>);

#[derive(Default)]
struct RunLog {
    started: Vec<usize>,
    ended: BTreeMap<usize, usize>,
}

impl Runs {
    fn started(&self, id: usize) {
        self.0.lock().unwrap().started.push(id);
    }

    fn ended(&self, id: usize) {
        *self.0.lock().unwrap().ended.entry(id).or_default() += 1;
    }

    fn take_started(&self) -> Vec<usize> {
        std::mem::take(&mut self.0.lock().unwrap().started)
    }

    fn ended_counts(&self) -> BTreeMap<usize, usize> {
        self.0.lock().unwrap().ended.clone()
    }
}

/// The real side: the linker, its emitter, and each model id's subscription handle.
struct Real {
    linker: EventLinker,
    emitter: TokioEventEmitter,
    subs: Vec<Option<Subscription>>,
    ids: HashMap<u64, usize>,
    runs: Runs,
}

fn subscribe(
    real: &mut Real,
    targets: &[Target],
    once: bool,
    kind: Kind,
) -> Result<Subscription, SubscribeError> {
    let id = real.subs.len();
    let events: Vec<EventTarget> = targets.iter().map(|t| t.to_event_target()).collect();
    let mut builder = real.linker.on(events);
    if once {
        builder = builder.once();
    }
    let runs = real.runs.clone();
    match kind {
        Kind::Sync => builder.subscribe(move || {
            runs.started(id);
            runs.ended(id);
        }),
        Kind::Blocking => builder.blocking().subscribe(move || {
            runs.started(id);
            runs.ended(id);
        }),
        Kind::Async => builder.subscribe(move || {
            runs.started(id);
            let runs = runs.clone();
            async move {
                tokio::task::yield_now().await;
                runs.ended(id);
            }
        }),
    }
}

fn pick(index: &Index, len: usize) -> Option<usize> {
    (len > 0).then(|| index.index(len))
}

/// Applies `op` to both sides and checks what it returned.
fn step(
    rt: &tokio::runtime::Runtime,
    model: &mut Model,
    real: &mut Real,
    op: &Op,
) -> Result<(), TestCaseError> {
    match op {
        Op::Subscribe {
            targets,
            once,
            kind,
        } => {
            let mut given = Vec::new();
            for t in targets {
                if !given.contains(t) {
                    given.push(*t);
                }
            }
            let full = given
                .iter()
                .any(|t| model.subscribers_of(*t).count() >= MAX_SUBSCRIBERS);
            let result = subscribe(real, targets, *once, *kind);
            if full {
                prop_assert!(
                    matches!(result, Err(SubscribeError::TooManySubscribers { .. })),
                    "subscribing past max_subscribers gave {result:?}"
                );
                return Ok(());
            }
            let sub = result.map_err(|e| TestCaseError::fail(format!("subscribe failed: {e}")))?;
            let id = model.subs.len();
            real.ids.insert(sub.id().as_u64(), id);
            real.subs.push(Some(sub));
            model.subs.push(ModelSub {
                linked: given.iter().copied().collect(),
                given,
                once: *once,
                kind: *kind,
            });
            model.runs.push(0);
        }
        Op::Unsubscribe(index) => {
            if let Some(i) = pick(index, model.subs.len()) {
                let expected = model.subs[i].is_linked();
                model.subs[i].linked.clear();
                let sub = real.subs[i].as_ref().expect("every model sub has a handle");
                prop_assert_eq!(sub.unsubscribe(), expected, "unsubscribe of sub {}", i);
            }
        }
        Op::Remove(target, index) => {
            if let Some(i) = pick(index, model.subs.len()) {
                let expected = model.subs[i].linked.remove(target);
                let sub = real.subs[i].as_ref().expect("every model sub has a handle");
                let removed = real.linker.remove(target.to_event_target(), sub);
                prop_assert_eq!(removed, expected, "remove({:?}, sub {})", target, i);
            }
        }
        Op::RemoveEvent(target) => {
            let mut expected = false;
            for s in &mut model.subs {
                expected |= s.linked.remove(target);
            }
            let removed = real.linker.remove_event(target.to_event_target());
            prop_assert_eq!(removed, expected, "remove_event({:?})", target);
        }
        Op::RemoveAll => {
            for s in &mut model.subs {
                s.linked.clear();
            }
            real.linker.remove_all();
        }
        Op::Emit(event, context) => {
            let expected = model.emit(*event);
            let name = NAMES[*event];
            match context {
                Context::Sync => {
                    real.emitter
                        .emit(name)
                        .map_err(|e| TestCaseError::fail(format!("sync emit failed: {e}")))?;
                }
                Context::Scheduled => rt
                    .block_on(async {
                        let emitted = real.emitter.emit(name);
                        support::within_async("wait_for_tasks", real.emitter.wait_for_tasks())
                            .await;
                        emitted.map(drop)
                    })
                    .map_err(|e| TestCaseError::fail(format!("async emit failed: {e}")))?,
                Context::Run => {
                    let report = rt
                        .block_on(support::within_async("run", real.emitter.run(name)))
                        .map_err(|e| TestCaseError::fail(format!("run failed: {e}")))?;
                    let counts = report.counts();
                    prop_assert_eq!(counts.total() as usize, expected.len(), "run's report");
                    prop_assert_eq!(counts.succeeded as usize, expected.len(), "run's report");
                }
            }
            // Handlers start in subscription order; a blocking one starts on another
            // thread, so only the others' order is fixed.
            let started = real.runs.take_started();
            let mut sorted = started.clone();
            sorted.sort_unstable();
            prop_assert_eq!(
                &sorted,
                &expected,
                "handlers that started for emit({})",
                name
            );
            let in_order = |ids: &[usize]| -> Vec<usize> {
                ids.iter()
                    .copied()
                    .filter(|&i| !matches!(model.subs[i].kind, Kind::Blocking))
                    .collect()
            };
            prop_assert_eq!(in_order(&started), in_order(&expected), "start order");
        }
        Op::EmitConcurrently(event, threads) => {
            // As many emissions one after the other: a once-subscription runs in exactly
            // one of them, every other handler in each.
            let mut expected: Vec<usize> = (0..*threads).flat_map(|_| model.emit(*event)).collect();
            expected.sort_unstable();
            let name = NAMES[*event];
            let barrier = std::sync::Barrier::new(*threads);
            let emitter = &real.emitter;
            let results: Vec<_> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..*threads)
                    .map(|_| {
                        scope.spawn(|| {
                            barrier.wait();
                            emitter.emit(name).map(drop)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join()).collect()
            });
            for result in results {
                match result {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        return Err(TestCaseError::fail(format!("sync emit failed: {e}")))
                    }
                    Err(_) => return Err(TestCaseError::fail("a panic escaped a concurrent emit")),
                }
            }
            let mut started = real.runs.take_started();
            started.sort_unstable();
            prop_assert_eq!(
                started,
                expected,
                "handlers that started for concurrent emits"
            );
        }
    }
    check(model, real)
}

/// Every query against the model, and every handler's run count.
fn check(model: &Model, real: &Real) -> Result<(), TestCaseError> {
    let linker = &real.linker;
    let ended = real.runs.ended_counts();
    for (i, &runs) in model.runs.iter().enumerate() {
        prop_assert_eq!(
            ended.get(&i).copied().unwrap_or(0),
            runs,
            "runs of sub {}",
            i
        );
    }

    let events: Vec<EventTarget> = Target::all()
        .filter(|t| model.subscribers_of(*t).next().is_some())
        .map(Target::to_event_target)
        .collect();
    prop_assert_eq!(linker.events(), events.clone(), "events()");
    prop_assert_eq!(linker.event_count(), events.len(), "event_count()");
    prop_assert_eq!(linker.is_empty(), events.is_empty(), "is_empty()");

    let linked: Vec<usize> = (0..model.subs.len())
        .filter(|&i| model.subs[i].is_linked())
        .collect();
    let ids = |subs: Vec<Subscription>| -> Vec<Option<usize>> {
        subs.iter()
            .map(|s| real.ids.get(&s.id().as_u64()).copied())
            .collect()
    };
    let some = |v: &[usize]| v.iter().map(|&i| Some(i)).collect::<Vec<_>>();
    prop_assert_eq!(ids(linker.subscribers()), some(&linked), "subscribers()");
    prop_assert_eq!(
        linker.subscriber_count(),
        linked.len(),
        "subscriber_count()"
    );

    for t in Target::all() {
        let of: Vec<usize> = model.subscribers_of(t).collect();
        let et = t.to_event_target();
        prop_assert_eq!(
            ids(linker.subscribers_of(et.clone())),
            some(&of),
            "subscribers_of({:?})",
            t
        );
        prop_assert_eq!(
            linker.subscriber_count_of(et.clone()),
            of.len(),
            "subscriber_count_of({:?})",
            t
        );
        prop_assert_eq!(
            linker.contains(et.clone()),
            !of.is_empty(),
            "contains({:?})",
            t
        );
        if let Target::Named(n) = t {
            prop_assert_eq!(
                linker.contains_event(NAMES[n]),
                !of.is_empty(),
                "contains_event({:?})",
                t
            );
        }
    }
    let pairs: Vec<Target> = vec![Target::Named(0), Target::Named(1)];
    prop_assert_eq!(
        ids(linker.subscribers_of(
            pairs
                .iter()
                .map(|t| t.to_event_target())
                .collect::<Vec<_>>()
        )),
        some(
            &(0..model.subs.len())
                .filter(|&i| pairs.iter().any(|t| model.subs[i].linked.contains(t)))
                .collect::<Vec<_>>()
        ),
        "subscribers_of([A, B])"
    );

    for (i, s) in model.subs.iter().enumerate() {
        let sub = real.subs[i].as_ref().expect("every model sub has a handle");
        prop_assert_eq!(sub.is_linked(), s.is_linked(), "is_linked of sub {}", i);
        prop_assert_eq!(
            linker.contains_subscriber(sub),
            s.is_linked(),
            "contains_subscriber({})",
            i
        );
        prop_assert_eq!(
            linker.event_count_of(sub),
            s.linked.len(),
            "event_count_of({})",
            i
        );
        let events_of: Vec<EventTarget> = s
            .given
            .iter()
            .filter(|t| s.linked.contains(t))
            .map(|t| t.to_event_target())
            .collect();
        prop_assert_eq!(linker.events_of(sub), events_of, "events_of({})", i);
        for t in Target::all() {
            prop_assert_eq!(
                linker.are_linked(t.to_event_target(), sub),
                s.linked.contains(&t),
                "are_linked({:?}, {})",
                t,
                i
            );
        }
    }
    Ok(())
}

fn run_sequence(rt: &tokio::runtime::Runtime, ops: &[Op]) -> Result<(), TestCaseError> {
    let linker = EventLinker::builder()
        .max_subscribers(MAX_SUBSCRIBERS)
        .build()
        .expect("a linker with a non-zero limit builds");
    let mut real = Real {
        emitter: TokioEventEmitter::with_linker(&linker),
        linker,
        subs: Vec::new(),
        ids: HashMap::new(),
        runs: Runs::default(),
    };
    let mut model = Model::default();
    for op in ops {
        step(rt, &mut model, &mut real, op)?;
    }
    Ok(())
}

/// The linker and the emitter agree with the model after every step of any sequence.
#[test]
fn linker_and_emitter_follow_the_model() {
    support::within("the model-based test", || {
        let rt = support::multi_thread(2);
        let config = Config {
            cases: 256,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        let result = runner.run(&prop::collection::vec(op(), 1..60), |ops| {
            run_sequence(&rt, &ops)
        });
        if let Err(err) = result {
            panic!("{err}");
        }
    });
}
