//! A fuzz target run as a proptest, so it runs in CI: arbitrary event names (any
//! Unicode, empty, very long, control characters) and pairs of payload types (the type a
//! handler takes, the type the emitter sends) through the public API, in the sync
//! context, the async context and `run`.
//!
//! Properties:
//! - no panic escapes a ventus call, whatever the input (handlers may panic too);
//! - an empty name is `SubscribeError::EmptyEventName` / `EmitError::EmptyEventName`;
//! - a name with a `*` that is not a well-formed pattern is
//!   `SubscribeError::InvalidPattern`, and links nothing; a well-formed one reaches the
//!   names it matches, and its handlers take no part in the payload check (a mismatched
//!   one fails alone, reported);
//! - a handler whose payload type matches runs exactly once;
//! - a mismatched handler never runs, and the mismatch is reported: either `emit`
//!   returned `EmitError::PayloadType` (no handler takes the payload) naming the types,
//!   with the payload handed back and no handler run, or the handler's failure callback
//!   got `HandlerErrorKind::PayloadType` with both types. Never silently.

use std::any::type_name;
use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, Once};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use ventus::{
    EmissionReport, EmitError, EventLinker, HandlerError, HandlerErrorKind, SubscribeBuilder,
    SubscribeError, Subscription, TokioEventEmitter,
};

mod support;

/// The panic message of handlers told to panic; the panic hook keeps these quiet.
const HANDLER_PANIC: &str = "fuzz handler panics on purpose";

/// A payload type of a handler or an emission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    I32,
    U64,
    F32,
    F64,
    String,
    StaticStr,
    Unit,
    Point,
}

/// A user struct as a payload.
#[derive(Debug, Clone, PartialEq)]
struct Point {
    x: i64,
    y: i64,
}

/// Runs `$body` with `$t` the Rust type of `$ty`.
macro_rules! with_ty {
    ($ty:expr, $t:ident => $body:expr) => {
        match $ty {
            Ty::I32 => {
                type $t = i32;
                $body
            }
            Ty::U64 => {
                type $t = u64;
                $body
            }
            Ty::F32 => {
                type $t = f32;
                $body
            }
            Ty::F64 => {
                type $t = f64;
                $body
            }
            Ty::String => {
                type $t = String;
                $body
            }
            Ty::StaticStr => {
                type $t = &'static str;
                $body
            }
            Ty::Unit => {
                type $t = ();
                $body
            }
            Ty::Point => {
                type $t = Point;
                $body
            }
        }
    };
}

fn ty_name(ty: Ty) -> &'static str {
    with_ty!(ty, T => type_name::<T>())
}

/// A value of a payload type, made from the case's seed.
trait Sample: Clone + std::fmt::Debug + Send + Sync + 'static {
    fn sample(seed: u64, text: &str) -> Self;
}

impl Sample for i32 {
    fn sample(seed: u64, _: &str) -> Self {
        seed as i32
    }
}

impl Sample for u64 {
    fn sample(seed: u64, _: &str) -> Self {
        seed
    }
}

impl Sample for f32 {
    fn sample(seed: u64, _: &str) -> Self {
        f32::from_bits(seed as u32)
    }
}

impl Sample for f64 {
    fn sample(seed: u64, _: &str) -> Self {
        f64::from_bits(seed)
    }
}

impl Sample for String {
    fn sample(_: u64, text: &str) -> Self {
        text.to_owned()
    }
}

impl Sample for &'static str {
    fn sample(seed: u64, _: &str) -> Self {
        ["", "static payload", "\u{0}\u{7f}\n", "ünï©ødé"][(seed % 4) as usize]
    }
}

impl Sample for () {
    fn sample(_: u64, _: &str) -> Self {}
}

impl Sample for Point {
    fn sample(seed: u64, _: &str) -> Self {
        Point {
            x: seed as i64,
            y: !seed as i64,
        }
    }
}

/// The argument a handler takes.
#[derive(Debug, Clone, Copy)]
enum Arg {
    /// No argument: takes any emission.
    None,
    /// `|p: &T| ..`, sync.
    Ref(Ty),
    /// `|p: T| async move { .. }`.
    Owned(Ty),
}

impl Arg {
    fn ty(self) -> Option<Ty> {
        match self {
            Arg::None => None,
            Arg::Ref(ty) | Arg::Owned(ty) => Some(ty),
        }
    }

    /// Whether an emission carrying `payload` (`None`: no payload) suits this handler.
    fn takes(self, payload: Option<Ty>) -> bool {
        match (self.ty(), payload) {
            (None, _) => true,
            // A handler of `()` accepts an emission without a payload (documented).
            (Some(Ty::Unit), None) => true,
            (Some(a), Some(b)) => a == b,
            (Some(_), None) => false,
        }
    }
}

#[derive(Debug, Clone)]
struct HandlerSpec {
    arg: Arg,
    panics: bool,
}

#[derive(Debug, Clone, Copy)]
enum Context {
    Sync,
    Scheduled,
    Run,
}

#[derive(Debug, Clone)]
struct Case {
    /// The name the handlers subscribe to.
    name: String,
    /// The name emitted, when it is not `name`.
    other: Option<String>,
    handlers: Vec<HandlerSpec>,
    payload: Option<Ty>,
    context: Context,
    seed: u64,
    text: String,
}

impl Case {
    fn emitted(&self) -> &str {
        self.other.as_deref().unwrap_or(&self.name)
    }
}

fn ty() -> impl Strategy<Value = Ty> {
    prop_oneof![
        Just(Ty::I32),
        Just(Ty::U64),
        Just(Ty::F32),
        Just(Ty::F64),
        Just(Ty::String),
        Just(Ty::StaticStr),
        Just(Ty::Unit),
        Just(Ty::Point),
    ]
}

fn name() -> impl Strategy<Value = String> {
    let chars = |range: std::ops::Range<usize>| {
        prop::collection::vec(any::<char>(), range).prop_map(String::from_iter)
    };
    prop_oneof![
        2 => Just(String::new()),
        4 => chars(1..12),
        2 => prop::collection::vec(prop::char::range('\0', '\u{1f}'), 1..8)
            .prop_map(String::from_iter),
        // Very long, from a short piece so that shrinking stays quick.
        1 => (chars(1..6), 500..2000_usize).prop_map(|(piece, n)| piece.repeat(n)),
        1 => Just("A".repeat(70_000)),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let arg = prop_oneof![
        1 => Just(Arg::None),
        3 => ty().prop_map(Arg::Ref),
        3 => ty().prop_map(Arg::Owned),
    ];
    let handler =
        (arg, prop::bool::weighted(0.2)).prop_map(|(arg, panics)| HandlerSpec { arg, panics });
    let context = prop_oneof![
        Just(Context::Sync),
        Just(Context::Scheduled),
        Just(Context::Run)
    ];
    (
        name(),
        prop::collection::vec(handler, 1..4),
        prop::option::weighted(0.85, ty()),
        context,
        any::<u64>(),
        prop::collection::vec(any::<char>(), 0..20).prop_map(String::from_iter),
        (0..10_u8, name()),
    )
        .prop_map(
            |(name, handlers, payload, context, seed, text, (pick, other))| Case {
                // Mostly the subscribed name; sometimes another, or a near miss of it.
                other: match pick {
                    0 => Some(other),
                    1 => Some(format!("{name}\0")),
                    2 => name.get(1..).map(str::to_owned),
                    _ => None,
                },
                name,
                handlers,
                payload,
                context,
                seed,
                text,
            },
        )
}

/// A failure as the failure callback saw it.
#[derive(Debug)]
enum Reported {
    PayloadType {
        expected: &'static str,
        found: Option<&'static str>,
    },
    Panicked(String),
    Other(#[allow(dead_code)] String),
}

/// What one handler saw: how often it ran, and its failures.
#[derive(Debug, Default)]
struct Seen {
    runs: usize,
    failures: Vec<Reported>,
}

type Board = Arc<Mutex<Vec<Seen>>>;

fn record_run(board: &Board, i: usize, panics: bool) {
    board.lock().unwrap()[i].runs += 1;
    if panics {
        panic!("{HANDLER_PANIC}");
    }
}

fn subscribe_as<T: Sample>(
    builder: SubscribeBuilder,
    owned: bool,
    board: Board,
    i: usize,
    panics: bool,
) -> Result<Subscription, SubscribeError> {
    if owned {
        builder.subscribe(move |_: T| {
            let board = board.clone();
            async move { record_run(&board, i, panics) }
        })
    } else {
        builder.subscribe(move |_: &T| record_run(&board, i, panics))
    }
}

fn subscribe(
    linker: &EventLinker,
    case: &Case,
    i: usize,
    board: &Board,
) -> Result<Subscription, SubscribeError> {
    let spec = &case.handlers[i];
    let failures = board.clone();
    let builder = linker
        .on(case.name.as_str())
        .on_failure(move |err: &HandlerError| {
            let kind = match err.kind() {
                HandlerErrorKind::PayloadType { expected, found } => Reported::PayloadType {
                    expected,
                    found: *found,
                },
                HandlerErrorKind::Panicked(msg) => Reported::Panicked(msg.clone()),
                other => Reported::Other(format!("{other:?}")),
            };
            failures.lock().unwrap()[i].failures.push(kind);
        });
    let (board, panics) = (board.clone(), spec.panics);
    match spec.arg {
        Arg::None => builder.subscribe(move || record_run(&board, i, panics)),
        Arg::Ref(ty) => with_ty!(ty, T => subscribe_as::<T>(builder, false, board, i, panics)),
        Arg::Owned(ty) => with_ty!(ty, T => subscribe_as::<T>(builder, true, board, i, panics)),
    }
}

/// What the emission returned: `Ok` with `run`'s report if there was one.
type Emitted = Result<Option<EmissionReport>, Refused>;

/// Why an emission was refused.
#[derive(Debug)]
enum Refused {
    /// `EmitError::PayloadType`, read out (its payload is taken to compare it).
    Mismatch {
        event: String,
        expected: Vec<&'static str>,
        given: Option<&'static str>,
        message: String,
        /// The payload came back as it was sent (or there was none, and none came back).
        handed_back: bool,
    },
    Other(EmitError),
}

impl Refused {
    /// `err` read out; `sent`: the payload emitted, to compare with the one handed back.
    fn of<T: Sample + std::fmt::Debug>(err: EmitError, sent: Option<&T>) -> Self {
        match err {
            EmitError::PayloadType(mismatch) => {
                let (event, expected, given, message) = (
                    mismatch.event().to_string(),
                    mismatch.expected().to_vec(),
                    mismatch.given(),
                    mismatch.to_string(),
                );
                // Debug, not `==`: a NaN payload is handed back unchanged all the same.
                let back = mismatch.into_payload::<T>().map(|p| format!("{p:?}"));
                Refused::Mismatch {
                    event,
                    expected,
                    given,
                    message,
                    handed_back: back == sent.map(|p| format!("{p:?}")),
                }
            }
            other => Refused::Other(other),
        }
    }
}

fn emit_as<T: Sample>(
    rt: &tokio::runtime::Runtime,
    emitter: &TokioEventEmitter,
    case: &Case,
) -> Emitted {
    let payload = T::sample(case.seed, &case.text);
    let sent = payload.clone();
    let name = case.emitted();
    let result = match case.context {
        Context::Sync => emitter.emit_with(name, payload).map(|_| None),
        Context::Scheduled => rt.block_on(async {
            let emitted = emitter.emit_with(name, payload);
            support::within_async("wait_for_tasks", emitter.wait_for_tasks()).await;
            emitted.map(|_| None)
        }),
        Context::Run => rt
            .block_on(support::within_async(
                "run_with",
                emitter.run_with(name, payload),
            ))
            .map(Some),
    };
    result.map_err(|err| Refused::of(err, Some(&sent)))
}

fn emit(rt: &tokio::runtime::Runtime, emitter: &TokioEventEmitter, case: &Case) -> Emitted {
    let name = case.emitted();
    let Some(ty) = case.payload else {
        let result = match case.context {
            Context::Sync => emitter.emit(name).map(|_| None),
            Context::Scheduled => rt.block_on(async {
                let emitted = emitter.emit(name);
                support::within_async("wait_for_tasks", emitter.wait_for_tasks()).await;
                emitted.map(|_| None)
            }),
            Context::Run => rt
                .block_on(support::within_async("run", emitter.run(name)))
                .map(Some),
        };
        return result.map_err(|err| Refused::of::<()>(err, None));
    };
    with_ty!(ty, T => emit_as::<T>(rt, emitter, case))
}

/// A name with a `*` that is not a pattern ventus accepts: `*` and `**` must be whole
/// `.`-separated segments, and no segment may be empty.
fn is_malformed_pattern(name: &str) -> bool {
    name.contains('*')
        && name
            .split('.')
            .any(|seg| seg.is_empty() || (seg.contains('*') && seg != "*" && seg != "**"))
}

/// `message` names the type `full` (by its full path or its last segment).
fn names_type(message: &str, full: &str) -> bool {
    let short = full.rsplit("::").next().unwrap_or(full);
    message.contains(full) || message.contains(short)
}

fn fail(what: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(what.to_string())
}

fn check(rt: &tokio::runtime::Runtime, case: &Case) -> Result<(), TestCaseError> {
    let linker = EventLinker::builder().build().map_err(fail)?;
    let emitter = TokioEventEmitter::with_linker(&linker);
    let board: Board = Arc::new(Mutex::new(
        case.handlers.iter().map(|_| Seen::default()).collect(),
    ));

    for i in 0..case.handlers.len() {
        let result = catch_unwind(AssertUnwindSafe(|| subscribe(&linker, case, i, &board)))
            .map_err(|_| fail("a panic escaped `subscribe`"))?;
        if case.name.is_empty() {
            prop_assert_eq!(result.err(), Some(SubscribeError::EmptyEventName));
        } else if is_malformed_pattern(&case.name) {
            let refused = matches!(result, Err(SubscribeError::InvalidPattern { .. }));
            prop_assert!(refused, "a malformed pattern was not refused: {:?}", result);
        } else {
            result.map_err(|e| fail(format!("subscribe to a non-empty name failed: {e}")))?;
        }
    }

    let result = catch_unwind(AssertUnwindSafe(|| emit(rt, &emitter, case)))
        .map_err(|_| fail("a panic escaped an emit call"))?;
    let nothing_ran = |board: &Board| {
        board
            .lock()
            .unwrap()
            .iter()
            .all(|s| s.runs == 0 && s.failures.is_empty())
    };
    if case.emitted().is_empty() {
        prop_assert!(
            matches!(result, Err(Refused::Other(EmitError::EmptyEventName))),
            "emit of an empty name gave {:?}",
            result
        );
        prop_assert!(nothing_ran(&board));
        return Ok(());
    }
    let reached = !case.name.is_empty()
        && !is_malformed_pattern(&case.name)
        && (case.emitted() == case.name || support::pattern_matches(&case.name, case.emitted()));
    if !reached {
        // No handler is linked to the emitted name (or to a pattern matching it).
        match result {
            Ok(report) => prop_assert_eq!(report.map_or(0, |r| r.counts().total()), 0),
            Err(err) => return Err(fail(format!("emit to an unlinked name failed: {err:?}"))),
        }
        prop_assert!(nothing_ran(&board), "a handler ran for another name");
        return Ok(());
    }

    let given = case.payload.map(ty_name);
    let seen = std::mem::take(&mut *board.lock().unwrap());
    let mismatched: Vec<&'static str> = case
        .handlers
        .iter()
        .filter(|h| !h.arg.takes(case.payload))
        .filter_map(|h| h.arg.ty().map(ty_name))
        .collect();

    let report = match result {
        Ok(report) => report,
        Err(Refused::Other(err)) => return Err(fail(format!("emit failed: {err:?} ({err})"))),
        Err(Refused::Mismatch {
            event,
            expected,
            given: refused_given,
            message,
            handed_back,
        }) => {
            // Refused because no typed handler takes the payload: it says which types
            // they take and which was given, hands the payload back, and nothing ran.
            // Handlers without an argument take no part in the check (see
            // `PayloadMismatch`): a refusal stands however many of them there are.
            // Never for a pattern's handlers, which take no part in it.
            prop_assert!(
                !case.name.contains('*'),
                "emit was refused over a pattern handler's payload type: {}",
                message
            );
            prop_assert!(
                case.handlers
                    .iter()
                    .filter(|h| !matches!(h.arg, Arg::None))
                    .all(|h| !h.arg.takes(case.payload)),
                "emit refused a payload that a handler takes: {}",
                message
            );
            prop_assert_eq!(&event, case.emitted());
            prop_assert_eq!(refused_given, given);
            let as_set = |v: &[&'static str]| v.iter().copied().collect::<BTreeSet<_>>();
            prop_assert_eq!(as_set(&expected), as_set(&mismatched), "{}", message);
            for t in expected.iter().chain(given.as_ref()) {
                prop_assert!(names_type(&message, t), "`{}` not in: {}", t, message);
            }
            prop_assert!(handed_back, "the payload was not handed back intact");
            for (i, s) in seen.iter().enumerate() {
                prop_assert_eq!(s.runs, 0, "handler {} ran though emit was refused", i);
                for f in &s.failures {
                    prop_assert!(
                        matches!(f, Reported::PayloadType { .. }),
                        "handler {} failed with {:?} though emit was refused",
                        i,
                        f
                    );
                }
            }
            return Ok(());
        }
    };

    // Accepted: some typed handler takes the payload, or none is typed, or they are a
    // pattern's, which take no part in the check (each mismatched one fails alone).
    let mut typed = case.handlers.iter().filter(|h| !matches!(h.arg, Arg::None));
    prop_assert!(
        case.name.contains('*')
            || case.handlers.iter().all(|h| matches!(h.arg, Arg::None))
            || typed.any(|h| h.arg.takes(case.payload)),
        "emit accepted a payload that no typed handler takes"
    );
    let (mut failed, mut panicked) = (0, 0);
    for (i, (spec, s)) in case.handlers.iter().zip(&seen).enumerate() {
        if spec.arg.takes(case.payload) {
            prop_assert_eq!(s.runs, 1, "matching handler {} ({:?})", i, spec);
            if spec.panics {
                panicked += 1;
                prop_assert!(
                    matches!(&s.failures[..], [Reported::Panicked(m)] if m == HANDLER_PANIC),
                    "panicking handler {} reported {:?}",
                    i,
                    s.failures
                );
            } else {
                prop_assert!(
                    s.failures.is_empty(),
                    "handler {} failed: {:?}",
                    i,
                    s.failures
                );
            }
        } else {
            failed += 1;
            prop_assert_eq!(s.runs, 0, "mismatched handler {} ({:?}) ran", i, spec);
            let expected = spec.arg.ty().map(ty_name).unwrap_or("");
            prop_assert!(
                matches!(
                    &s.failures[..],
                    [Reported::PayloadType { expected: e, found }]
                        if *e == expected && *found == given
                ),
                "mismatched handler {} ({:?}, given {:?}) reported {:?}",
                i,
                spec,
                given,
                s.failures
            );
        }
    }
    if let Some(report) = report {
        let counts = report.counts();
        prop_assert_eq!(counts.total() as usize, case.handlers.len(), "run's report");
        prop_assert_eq!(counts.failed as usize, failed, "run's report: failed");
        prop_assert_eq!(counts.panicked as usize, panicked, "run's report: panicked");
    }
    Ok(())
}

/// Handlers told to panic do it quietly; any other panic is printed as usual.
fn quiet_handler_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let ours =
                info.payload().downcast_ref::<String>().map(String::as_str) == Some(HANDLER_PANIC);
            if !ours {
                default(info);
            }
        }));
    });
}

/// Any name, any pair of payload types, any context: the properties above hold.
#[test]
fn arbitrary_names_and_payload_types_never_panic_and_never_go_unreported() {
    quiet_handler_panics();
    support::within("the fuzz target", || {
        let rt = support::multi_thread(2);
        let config = Config {
            cases: 512,
            failure_persistence: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        if let Err(err) = runner.run(&case(), |case| check(&rt, &case)) {
            panic!("{err}");
        }
    });
}

// ---------------------------------------------------------------------------------------
// The rule the fuzz target checks, in its two least obvious cases
// ---------------------------------------------------------------------------------------

/// An event with a handler of no argument and one of `&i32`: handlers without an
/// argument take no part in the payload check, so an emission the `i32` handler cannot
/// take is refused, and neither handler runs; one it takes runs both.
#[test]
fn an_untyped_handler_beside_a_typed_one_runs_only_when_the_typed_one_takes_the_payload() {
    let linker = support::linker();
    let (ran, bump) = support::counter();
    linker.on("A").subscribe(bump).unwrap();
    linker.on("A").subscribe(|_: &i32| ()).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);

    assert!(matches!(emitter.emit("A"), Err(EmitError::PayloadType(_))));
    assert!(matches!(
        emitter.emit_with("A", 1.5_f64),
        Err(EmitError::PayloadType(_))
    ));
    assert_eq!(support::count(&ran), 0);
    emitter.emit_with("A", 1_i32).unwrap();
    assert_eq!(support::count(&ran), 1);
}

/// An "any event" handler beside a `&i32` handler of "A": the check looks at the
/// event's own handlers, so an `f64` emission of "A" is refused and the any-event
/// handler does not see it; an event with no handler of its own reaches it with any
/// payload.
#[test]
fn an_any_event_handler_sees_only_the_emissions_that_are_made() {
    let linker = support::linker();
    let (ran, bump) = support::counter();
    linker
        .on_any()
        .subscribe(move |_: &ventus::AnyEvent| bump())
        .unwrap();
    linker.on("A").subscribe(|_: &i32| ()).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);

    assert!(matches!(
        emitter.emit_with("A", 1.5_f64),
        Err(EmitError::PayloadType(_))
    ));
    assert_eq!(support::count(&ran), 0);
    emitter.emit_with("B", 1.5_f64).unwrap();
    assert_eq!(support::count(&ran), 1);
}
