//! Declarative registration: `#[ventus::on]`, `#[ventus::once]`, `#[derive(Event)]` and
//! `ventus::linker!`.
//!
//! Every test of this binary shares the global linker, which links all the handlers
//! declared here on its first use: each test uses event names of its own.

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};

use ventus::{AnyEvent, Event, EventKey, EventLinker, HandlerError, TokioEventEmitter};

fn emitter() -> TokioEventEmitter {
    TokioEventEmitter::new()
}

fn global() -> &'static EventLinker {
    EventLinker::global()
}

// ---------------------------------------------------------------------------------------
// Each form registers exactly once and runs.

static SYNC_NO_ARG: AtomicUsize = AtomicUsize::new(0);

#[ventus::on("MacroSyncNoArg")]
fn sync_no_arg() {
    SYNC_NO_ARG.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn sync_handler_without_argument() {
    assert_eq!(global().subscriber_count_of("MacroSyncNoArg"), 1);
    emitter().emit("MacroSyncNoArg").unwrap();
    emitter().emit("MacroSyncNoArg").unwrap();
    assert_eq!(SYNC_NO_ARG.load(Ordering::SeqCst), 2);
    assert_eq!(global().subscriber_count_of("MacroSyncNoArg"), 1);
}

static SYNC_PAYLOAD: AtomicU64 = AtomicU64::new(0);

#[ventus::on("MacroSyncPayload")]
fn sync_payload(amount: &u64) {
    SYNC_PAYLOAD.fetch_add(*amount, Ordering::SeqCst);
}

#[test]
fn sync_handler_with_payload() {
    assert_eq!(global().subscriber_count_of("MacroSyncPayload"), 1);
    emitter().emit_with("MacroSyncPayload", 5_u64).unwrap();
    emitter().emit_with("MacroSyncPayload", 7_u64).unwrap();
    assert_eq!(SYNC_PAYLOAD.load(Ordering::SeqCst), 12);
}

static ASYNC_NO_ARG: AtomicUsize = AtomicUsize::new(0);

#[ventus::on("MacroAsyncNoArg")]
async fn async_no_arg() {
    tokio::task::yield_now().await;
    ASYNC_NO_ARG.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn async_handler_without_argument() {
    assert_eq!(global().subscriber_count_of("MacroAsyncNoArg"), 1);
    emitter().emit("MacroAsyncNoArg").unwrap();
    assert_eq!(ASYNC_NO_ARG.load(Ordering::SeqCst), 1);
}

static ASYNC_PAYLOAD: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[ventus::on("MacroAsyncPayload")]
async fn async_payload(text: String) {
    tokio::task::yield_now().await;
    ASYNC_PAYLOAD.lock().unwrap().push(text);
}

#[test]
fn async_handler_with_payload() {
    assert_eq!(global().subscriber_count_of("MacroAsyncPayload"), 1);
    emitter()
        .emit_with("MacroAsyncPayload", "hello".to_string())
        .unwrap();
    assert_eq!(*ASYNC_PAYLOAD.lock().unwrap(), ["hello"]);
}

#[tokio::test]
async fn async_handler_from_an_async_context() {
    static RAN: AtomicUsize = AtomicUsize::new(0);

    #[ventus::on("MacroAsyncContext")]
    async fn in_async_context(n: usize) {
        RAN.fetch_add(n, Ordering::SeqCst);
    }

    let emitter = emitter();
    emitter.emit_with("MacroAsyncContext", 3_usize).unwrap();
    emitter.wait_for_tasks().await;
    assert_eq!(RAN.load(Ordering::SeqCst), 3);
}

static MULTI: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[ventus::on("MacroMultiA", "MacroMultiB")]
fn multi(event: &AnyEvent) {
    MULTI.lock().unwrap().push(event.name().to_string());
}

#[test]
fn several_names_make_one_subscription() {
    let subs = global().subscribers_of(["MacroMultiA", "MacroMultiB"]);
    assert_eq!(subs.len(), 1);
    assert_eq!(global().event_count_of(&subs[0]), 2);
    emitter().emit("MacroMultiA").unwrap();
    emitter().emit("MacroMultiB").unwrap();
    assert_eq!(*MULTI.lock().unwrap(), ["MacroMultiA", "MacroMultiB"]);
}

#[derive(Debug, Clone, Event)]
struct MacroOrderPlaced {
    id: u64,
}

static ORDERS_SYNC: AtomicU64 = AtomicU64::new(0);
static ORDERS_ASYNC: AtomicU64 = AtomicU64::new(0);

#[ventus::on(MacroOrderPlaced)]
fn order_placed(order: &MacroOrderPlaced) {
    ORDERS_SYNC.fetch_add(order.id, Ordering::SeqCst);
}

#[ventus::on(MacroOrderPlaced)]
async fn order_placed_async(order: MacroOrderPlaced) {
    ORDERS_ASYNC.fetch_add(order.id, Ordering::SeqCst);
}

#[test]
fn typed_event() {
    assert_eq!(MacroOrderPlaced::name(), "MacroOrderPlaced");
    assert_eq!(global().subscriber_count_of("MacroOrderPlaced"), 2);
    emitter().emit_event(MacroOrderPlaced { id: 4 }).unwrap();
    assert_eq!(ORDERS_SYNC.load(Ordering::SeqCst), 4);
    assert_eq!(ORDERS_ASYNC.load(Ordering::SeqCst), 4);
}

#[derive(Debug, Clone, Event)]
#[event(name = "macros.renamed")]
struct Renamed;

static RENAMED: AtomicUsize = AtomicUsize::new(0);

#[ventus::on(Renamed)]
fn renamed() {
    RENAMED.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn derived_event_with_a_name_of_its_own() {
    assert_eq!(Renamed::name(), "macros.renamed");
    assert_eq!(global().subscriber_count_of("macros.renamed"), 1);
    emitter().emit_event(Renamed).unwrap();
    assert_eq!(RENAMED.load(Ordering::SeqCst), 1);
}

#[test]
fn derive_on_a_generic_type() {
    #[derive(Event)]
    struct Wrapper<T>(#[allow(dead_code)] T);
    #[derive(Event)]
    #[event(name = "Pair")]
    enum Pair<A: Clone> {
        #[allow(dead_code)]
        Left(A),
    }
    assert_eq!(Wrapper::<u8>::name(), "Wrapper<u8>");
    assert_eq!(Pair::<u8>::name(), "Pair");
}

#[derive(Debug)]
struct MacroError(&'static str);

impl std::fmt::Display for MacroError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for MacroError {}

static ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[ventus::on(error = MacroError)]
fn on_macro_error(err: &MacroError) {
    ERRORS.lock().unwrap().push(err.to_string());
}

#[test]
fn error_event() {
    let target = ventus::EventTarget::error::<MacroError>();
    assert_eq!(global().subscriber_count_of(target), 1);
    emitter().emit_error(MacroError("disk full")).unwrap();
    assert_eq!(*ERRORS.lock().unwrap(), ["disk full"]);
}

const MACRO_KEY: EventKey<u16> = EventKey::new("MacroKey");
static KEYED: AtomicUsize = AtomicUsize::new(0);

#[ventus::on(key = MACRO_KEY)]
fn keyed(value: &u16) {
    KEYED.fetch_add(usize::from(*value), Ordering::SeqCst);
}

#[test]
fn typed_key() {
    assert_eq!(global().subscriber_count_of("MacroKey"), 1);
    emitter().emit_key(MACRO_KEY, 9).unwrap();
    assert_eq!(KEYED.load(Ordering::SeqCst), 9);
}

ventus::linker! {
    /// A namespace of its own for the "any event" handler, so that it sees only the
    /// emissions of its test.
    static ANY_LINKER = EventLinker::builder().name("macros-any");
}

static ANY_SEEN: Mutex<Vec<(String, Option<u8>)>> = Mutex::new(Vec::new());

#[ventus::on(any, linker = ANY_LINKER)]
fn any_event(event: &AnyEvent) {
    ANY_SEEN
        .lock()
        .unwrap()
        .push((event.name().to_string(), event.payload::<u8>().copied()));
}

#[test]
fn any_event_handler() {
    assert_eq!(ANY_LINKER.subscriber_count(), 1);
    assert!(ANY_LINKER.contains(ventus::EventTarget::Any));
    let emitter = TokioEventEmitter::with_linker(&ANY_LINKER);
    emitter.emit("First").unwrap();
    emitter.emit_with("Second", 2_u8).unwrap();
    assert_eq!(
        *ANY_SEEN.lock().unwrap(),
        [("First".to_string(), None), ("Second".to_string(), Some(2))]
    );
}

#[test]
fn the_function_stays_callable() {
    static CALLED: AtomicU64 = AtomicU64::new(0);

    #[ventus::on("MacroCallable")]
    fn double(n: &u64) -> u64 {
        CALLED.fetch_add(1, Ordering::SeqCst);
        n * 2
    }

    assert_eq!(double(&21), 42);
    assert_eq!(CALLED.load(Ordering::SeqCst), 1);
    emitter().emit_with("MacroCallable", 1_u64).unwrap();
    assert_eq!(CALLED.load(Ordering::SeqCst), 2);
}

static STACKED: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[ventus::on("MacroStackedA")]
#[ventus::once("MacroStackedB")]
fn stacked(event: &AnyEvent) {
    STACKED.lock().unwrap().push(event.name().to_string());
}

#[test]
fn stacked_attributes_make_one_subscription_each() {
    let a = global().subscribers_of("MacroStackedA");
    let b = global().subscribers_of("MacroStackedB");
    assert_eq!((a.len(), b.len()), (1, 1));
    assert_ne!(a[0], b[0]);
    assert!(!a[0].is_once());
    assert!(b[0].is_once());
    for _ in 0..2 {
        emitter().emit("MacroStackedA").unwrap();
        emitter().emit("MacroStackedB").unwrap();
    }
    assert_eq!(
        *STACKED.lock().unwrap(),
        ["MacroStackedA", "MacroStackedB", "MacroStackedA"]
    );
}

mod nested {
    pub(crate) static RAN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    #[ventus::on("MacroNested")]
    pub(crate) fn in_a_module() {
        RAN.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn handler_in_a_module() {
    emitter().emit("MacroNested").unwrap();
    assert_eq!(nested::RAN.load(Ordering::SeqCst), 1);
}

#[ventus::on("MacroOrder")]
fn order_first() {}

#[ventus::on("MacroOrder")]
fn order_second() {}

#[ventus::on("MacroOrder")]
fn order_third() {}

#[test]
fn registrations_subscribe_in_source_order() {
    let names: Vec<_> = global()
        .subscribers_of("MacroOrder")
        .iter()
        .map(|s| {
            s.handler_name()
                .rsplit("::")
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(names, ["order_first", "order_second", "order_third"]);
}

// ---------------------------------------------------------------------------------------
// Once.

static ONCE_SYNC: AtomicUsize = AtomicUsize::new(0);
static ONCE_ASYNC: AtomicUsize = AtomicUsize::new(0);

#[ventus::once("MacroOnce")]
fn once_sync() {
    ONCE_SYNC.fetch_add(1, Ordering::SeqCst);
}

#[ventus::once("MacroOnce")]
async fn once_async(n: usize) {
    ONCE_ASYNC.fetch_add(n, Ordering::SeqCst);
}

#[test]
fn once_attributes_run_once() {
    let subs = global().subscribers_of("MacroOnce");
    assert_eq!(subs.len(), 2);
    assert!(subs.iter().all(|s| s.is_once()));
    for _ in 0..3 {
        emitter().emit_with("MacroOnce", 1_usize).unwrap();
    }
    assert_eq!(ONCE_SYNC.load(Ordering::SeqCst), 1);
    assert_eq!(ONCE_ASYNC.load(Ordering::SeqCst), 1);
    assert!(!global().contains_event("MacroOnce"));
}

#[test]
fn once_under_concurrent_emitters() {
    static RAN: AtomicUsize = AtomicUsize::new(0);

    #[ventus::once("MacroOnceConcurrent")]
    fn once_concurrent() {
        RAN.fetch_add(1, Ordering::SeqCst);
    }

    let threads: Vec<_> = (0..8)
        .map(|_| thread::spawn(|| emitter().emit("MacroOnceConcurrent").unwrap()))
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(RAN.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------------------
// Named linkers and the global one do not see each other's handlers.

ventus::linker! {
    /// A namespace for the isolation test.
    pub(crate) static ISOLATED = EventLinker::builder().name("macros-isolated");
}

static IN_GLOBAL: AtomicUsize = AtomicUsize::new(0);
static IN_NAMED: AtomicUsize = AtomicUsize::new(0);

#[ventus::on("MacroShared")]
fn shared_in_global() {
    IN_GLOBAL.fetch_add(1, Ordering::SeqCst);
}

#[ventus::on("MacroShared", linker = ISOLATED)]
fn shared_in_named() {
    IN_NAMED.fetch_add(1, Ordering::SeqCst);
}

#[ventus::on("MacroOnlyNamed", linker = ISOLATED)]
fn only_named() {
    IN_NAMED.fetch_add(10, Ordering::SeqCst);
}

#[test]
fn named_and_global_linkers_are_separate() {
    assert_eq!(ISOLATED.name(), Some("macros-isolated"));
    assert_eq!(ISOLATED.subscriber_count(), 2);
    assert_eq!(ISOLATED.subscriber_count_of("MacroShared"), 1);
    assert_eq!(global().subscriber_count_of("MacroShared"), 1);
    assert!(!global().contains_event("MacroOnlyNamed"));
    assert!(!ISOLATED.same_as(global()));

    emitter().emit("MacroShared").unwrap();
    assert_eq!(IN_GLOBAL.load(Ordering::SeqCst), 1);
    assert_eq!(IN_NAMED.load(Ordering::SeqCst), 0);

    TokioEventEmitter::with_linker(&ISOLATED)
        .emit("MacroShared")
        .unwrap();
    assert_eq!(IN_GLOBAL.load(Ordering::SeqCst), 1);
    assert_eq!(IN_NAMED.load(Ordering::SeqCst), 1);

    emitter().emit("MacroOnlyNamed").unwrap();
    assert_eq!(IN_NAMED.load(Ordering::SeqCst), 1);
}

#[test]
fn named_linker_is_built_on_first_use() {
    ventus::linker! {
        static LAZY = EventLinker::builder().name("macros-lazy");
    }
    assert!(!LAZY.is_built());
    assert!(LAZY.path().ends_with("::LAZY"));
    assert_eq!(LAZY.linker().name(), Some("macros-lazy"));
    assert!(LAZY.is_built());
    assert!(format!("{LAZY:?}").contains("macros-lazy"));
}

#[test]
#[should_panic(expected = "cannot be built: max_subscribers must be at least 1")]
fn named_linker_with_a_computed_zero_panics_on_first_use() {
    fn configured_max() -> usize {
        0
    }
    ventus::linker! {
        static ZERO = EventLinker::builder().max_subscribers(configured_max());
    }
    let _ = ZERO.is_empty();
}

ventus::linker! {
    /// At most one subscriber per event: the second declared handler cannot be linked.
    static LIMITED = EventLinker::builder().name("macros-limited").max_subscribers(1);
}

#[ventus::on("MacroLimited", linker = LIMITED)]
fn limited_first() {}

#[ventus::on("MacroLimited", linker = LIMITED)]
fn limited_second() {}

/// Collects what `tracing` writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_registration_that_fails_is_logged_not_a_panic() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let count = tracing::subscriber::with_default(subscriber, || {
        LIMITED.subscriber_count_of("MacroLimited")
    });
    assert_eq!(count, 1, "the first in source order is linked");
    assert!(LIMITED.subscribers()[0]
        .handler_name()
        .ends_with("limited_first"));
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("ERROR"), "{log}");
    assert!(log.contains("limited_second"), "{log}");
    assert!(log.contains("max_subscribers"), "{log}");
}

// ---------------------------------------------------------------------------------------
// Options.

static BLOCKING_THREAD: Mutex<Option<ThreadId>> = Mutex::new(None);

#[ventus::on("MacroBlocking", blocking)]
fn on_blocking_pool() {
    *BLOCKING_THREAD.lock().unwrap() = Some(thread::current().id());
}

#[test]
fn blocking_runs_on_another_thread() {
    // Without `blocking`, an all-sync emission in a sync context runs on this thread.
    static INLINE_THREAD: Mutex<Option<ThreadId>> = Mutex::new(None);

    #[ventus::on("MacroNotBlocking")]
    fn inline() {
        *INLINE_THREAD.lock().unwrap() = Some(thread::current().id());
    }

    emitter().emit("MacroNotBlocking").unwrap();
    assert_eq!(*INLINE_THREAD.lock().unwrap(), Some(thread::current().id()));

    emitter().emit("MacroBlocking").unwrap();
    let ran_on = BLOCKING_THREAD.lock().unwrap().expect("the handler ran");
    assert_ne!(ran_on, thread::current().id());
}

static SUCCESSES: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn record_success(value: &u32) {
    SUCCESSES.lock().unwrap().push(*value);
}

#[ventus::on("MacroSuccess", on_success = record_success)]
fn succeeds(n: &u32) -> u32 {
    n + 1
}

#[ventus::on("MacroSuccessAsync", on_success = record_success)]
async fn succeeds_async(n: u32) -> Result<u32, io::Error> {
    Ok(n * 10)
}

#[test]
fn on_success_receives_the_value() {
    emitter().emit_with("MacroSuccess", 1_u32).unwrap();
    emitter().emit_with("MacroSuccessAsync", 2_u32).unwrap();
    assert_eq!(*SUCCESSES.lock().unwrap(), [2, 20]);
}

static FAILURES: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record_failure(err: &HandlerError) {
    FAILURES
        .lock()
        .unwrap()
        .push(format!("{}: {err}", err.event()));
}

#[ventus::on("MacroFailure", on_failure = record_failure)]
fn fails() -> Result<(), &'static str> {
    Err("no luck")
}

#[ventus::on("MacroFailurePanic", on_failure = |err: &HandlerError| {
    FAILURES.lock().unwrap().push(format!("closure: panic={}", err.is_panic()));
})]
fn panics() {
    panic!("handler panicked on purpose");
}

#[test]
fn on_failure_receives_the_error() {
    emitter().emit("MacroFailure").unwrap();
    emitter().emit("MacroFailurePanic").unwrap();
    let failures = FAILURES.lock().unwrap();
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(failures[0].starts_with("MacroFailure: "), "{failures:?}");
    assert!(failures[0].contains("no luck"), "{failures:?}");
    assert_eq!(failures[1], "closure: panic=true");
}

#[test]
fn options_combine() {
    static DONE: Mutex<Vec<u8>> = Mutex::new(Vec::new());

    fn done(value: &u8) {
        DONE.lock().unwrap().push(*value);
    }

    #[ventus::once("MacroCombined", blocking, on_success = done, on_failure = record_failure)]
    fn combined(n: &u8) -> u8 {
        n + 1
    }

    emitter().emit_with("MacroCombined", 1_u8).unwrap();
    emitter().emit_with("MacroCombined", 1_u8).unwrap();
    assert_eq!(*DONE.lock().unwrap(), [2]);
}

// ---------------------------------------------------------------------------------------
// `name = ".."` names the handler; the function's path is the default.

#[ventus::on("MacroNamed", name = "audit-order")]
fn named_handler() -> Result<(), &'static str> {
    Err("refused")
}

#[ventus::on("MacroNamed")]
fn unnamed_handler() {}

#[test]
fn a_handler_is_named_by_the_attribute_or_by_its_function() {
    let names = Arc::new(Mutex::new(Vec::new()));
    let seen = names.clone();
    let linker = global();
    let _guard = linker
        .on("MacroNamed")
        .on_failure(move |_| ())
        .subscribe(move |_: &AnyEvent| seen.lock().unwrap().push(()))
        .unwrap()
        .guard();
    let report = TokioEventEmitter::builder()
        .detailed_reports(true)
        .build()
        .emit("MacroNamed")
        .unwrap()
        .wait()
        .unwrap();
    let handlers: Vec<_> = report.handlers().iter().map(|h| h.handler).collect();
    assert_eq!(handlers.len(), 3, "{handlers:?}");
    assert_eq!(handlers[0], "audit-order");
    assert!(
        handlers[1].ends_with("::unnamed_handler"),
        "{}",
        handlers[1]
    );
    assert_eq!(names.lock().unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------
// `priority = ..` orders the declared handlers, whatever their order in the file.

static PRIORITY_LOG: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

const LATE: i32 = -3;

#[ventus::on("MacroPriority", priority = LATE)]
fn priority_last() {
    PRIORITY_LOG.lock().unwrap().push("last");
}

#[ventus::on("MacroPriority")]
fn priority_default() {
    PRIORITY_LOG.lock().unwrap().push("default");
}

#[ventus::on("MacroPriority", priority = 10)]
fn priority_first() {
    PRIORITY_LOG.lock().unwrap().push("first");
}

#[ventus::on("MacroPattern.*", priority = 1, name = "pattern")]
fn priority_pattern() {
    PRIORITY_LOG.lock().unwrap().push("pattern");
}

#[test]
fn priorities_and_patterns_in_attributes() {
    emitter().emit("MacroPriority").unwrap();
    assert_eq!(*PRIORITY_LOG.lock().unwrap(), ["first", "default", "last"]);
    let subs = global().subscribers_of("MacroPattern.*");
    assert_eq!(subs.len(), 1);
    assert_eq!((subs[0].priority(), subs[0].handler_name()), (1, "pattern"));
    PRIORITY_LOG.lock().unwrap().clear();
    emitter().emit("MacroPattern.anything").unwrap();
    assert_eq!(*PRIORITY_LOG.lock().unwrap(), ["pattern"]);
}
