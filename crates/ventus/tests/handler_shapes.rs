//! A newcomer's first handlers, as the README suggests them: each either works or is
//! refused with a message that says what to write instead. Shapes that cannot compile are
//! in `tests/handlers_ui.rs`; this file covers those that compile, and the names that tell
//! handlers apart in errors, reports and logs.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use support::{linker, setup, Counter, FailureKind, Failures};
use ventus::{HandlerErrorKind, Outcome, SubscribeError, TokioEventEmitter};

#[derive(Debug, Clone, PartialEq)]
struct Order {
    id: u64,
    total: u64,
}

fn order(id: u64) -> Order {
    Order { id, total: 10 * id }
}

// ---------------------------------------------------------------------------------------
// The five first handlers
// ---------------------------------------------------------------------------------------

#[test]
fn a_closure_capturing_state_counts_the_orders() {
    let (linker, emitter) = setup();
    let total = Arc::new(AtomicU64::new(0));
    let sum = total.clone();
    linker
        .on("OrderPlaced")
        .subscribe(move |order: &Order| {
            // Relaxed: read after `emit` returned, which joined the handler.
            sum.fetch_add(order.total, Ordering::Relaxed);
        })
        .unwrap();
    emitter.emit_with("OrderPlaced", order(1)).unwrap();
    emitter.emit_with("OrderPlaced", order(2)).unwrap();
    assert_eq!(total.load(Ordering::Relaxed), 30);
}

async fn on_order_by_value(order: Order) -> u64 {
    tokio::task::yield_now().await;
    order.id
}

#[test]
fn an_async_fn_taking_the_struct_by_value_gets_a_clone() {
    let (linker, emitter) = setup();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    linker
        .on("OrderPlaced")
        .on_success(move |id: &u64| s.lock().unwrap().push(*id))
        .subscribe(on_order_by_value)
        .unwrap();
    emitter.emit_with("OrderPlaced", order(7)).unwrap();
    assert_eq!(*seen.lock().unwrap(), [7]);
}

async fn on_order_by_reference(order: &Order) {
    let _ = order.id;
}

#[test]
fn an_async_fn_borrowing_the_payload_is_refused_at_subscribe() {
    let linker = linker();
    let err = linker
        .on("OrderPlaced")
        .subscribe(on_order_by_reference)
        .unwrap_err();
    let SubscribeError::AsyncHandlerBorrowsPayload { handler, payload } = &err else {
        panic!("expected AsyncHandlerBorrowsPayload, got {err:?}");
    };
    assert!(handler.contains("on_order_by_reference"), "{handler}");
    assert!(payload.ends_with("Order"), "{payload}");
    let message = err.to_string();
    for hint in ["by value", "Clone", "sync", "fn(&"] {
        assert!(message.contains(hint), "`{hint}` missing from: {message}");
    }
    assert_eq!(linker.subscriber_count(), 0, "nothing is linked");
    assert!(!linker.contains_event("OrderPlaced"));
}

#[test]
fn an_async_handler_of_a_static_str_payload_is_still_accepted() {
    let (linker, emitter) = setup();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    linker
        .on("Greet")
        .subscribe(move |name: &'static str| {
            let s = s.clone();
            async move { s.lock().unwrap().push(name) }
        })
        .unwrap();
    emitter.emit_with("Greet", "world").unwrap();
    assert_eq!(*seen.lock().unwrap(), ["world"]);
}

struct Billing {
    charged: AtomicU64,
}

impl Billing {
    fn on_paid(&self, order: &Order) {
        // Relaxed: read after `emit` returned.
        self.charged.fetch_add(order.total, Ordering::Relaxed);
    }
}

#[test]
fn a_method_is_linked_through_a_closure_that_owns_its_receiver() {
    let (linker, emitter) = setup();
    let billing = Arc::new(Billing {
        charged: AtomicU64::new(0),
    });
    let b = billing.clone();
    linker
        .on("OrderPaid")
        .subscribe(move |order: &Order| b.on_paid(order))
        .unwrap();
    emitter.emit_with("OrderPaid", order(3)).unwrap();
    assert_eq!(billing.charged.load(Ordering::Relaxed), 30);
}

fn check_stock(order: &Order) -> anyhow::Result<u64> {
    anyhow::ensure!(order.id != 0, "order {} has no items", order.id);
    Ok(order.id)
}

#[test]
fn an_anyhow_result_handler_succeeds_and_fails() {
    let (linker, emitter) = setup();
    let failures = Failures::new();
    let ok = Counter::new();
    let o = ok.clone();
    linker
        .on("OrderPlaced")
        .on_success(move |_: &u64| o.incr())
        .on_failure(failures.callback())
        .subscribe(check_stock)
        .unwrap();
    emitter.emit_with("OrderPlaced", order(4)).unwrap();
    emitter.emit_with("OrderPlaced", order(0)).unwrap();
    assert_eq!(ok.get(), 1);
    assert_eq!(
        failures.of_handler("check_stock").kind,
        FailureKind::Failed("order 0 has no items".into())
    );
}

#[test]
fn a_string_handler_emitted_with_a_str_says_to_emit_a_string() {
    let (linker, emitter) = setup();
    let failures = Failures::new();
    let greeted = Arc::new(Mutex::new(Vec::new()));
    let g = greeted.clone();
    linker
        .on("Greet")
        .on_failure(failures.callback())
        .subscribe(move |name: &String| g.lock().unwrap().push(name.clone()))
        .unwrap();
    // Another handler takes the literal, so the emission goes ahead and the `String`
    // handler alone fails (with no handler taking it, `emit_with` refuses the payload).
    linker.on("Greet").subscribe(|_: &&'static str| ()).unwrap();
    emitter.emit_with("Greet", "world").unwrap();
    let failure = failures.of_handler("closure");
    assert!(
        failure
            .display
            .contains(r#"emit a `String` (e.g. `"world".to_string()`), not a `&str`"#),
        "{}",
        failure.display
    );
    assert_eq!(failures.all().len(), 1, "{:#?}", failures.all());
    emitter.emit_with("Greet", "world".to_string()).unwrap();
    assert_eq!(*greeted.lock().unwrap(), ["world"]);
}

// ---------------------------------------------------------------------------------------
// Panicking and unfinished async handlers
// ---------------------------------------------------------------------------------------

#[test]
#[allow(clippy::todo)]
fn a_handler_that_only_panics_compiles_and_takes_the_failure_path() {
    let (linker, emitter) = setup();
    let failures = Failures::new();
    let ok = Counter::new();
    linker
        .on("E")
        .on_failure(failures.callback())
        .subscribe(|| async { panic!("x") })
        .unwrap();
    linker
        .on("E")
        .on_failure(failures.callback())
        .subscribe(|| async { todo!() })
        .unwrap();
    linker
        .on("E")
        .on_failure(failures.callback())
        .subscribe(|| panic!("sync"))
        .unwrap();
    linker
        .on("E")
        .on_failure(failures.callback())
        .subscribe(|_: &()| todo!())
        .unwrap();
    linker
        .on("E")
        .on_failure(failures.callback())
        .subscribe(|_: ()| async move { todo!() })
        .unwrap();
    let o = ok.clone();
    linker.on("E").subscribe(move || o.incr()).unwrap();
    emitter.emit("E").unwrap();
    let mut kinds: Vec<_> = failures.all().into_iter().map(|f| f.kind).collect();
    kinds.sort_by_key(|k| format!("{k:?}"));
    let todo = || FailureKind::Panicked("not yet implemented".into());
    assert_eq!(
        kinds,
        [
            todo(),
            todo(),
            todo(),
            FailureKind::Panicked("sync".into()),
            FailureKind::Panicked("x".into()),
        ]
    );
    assert_eq!(ok.get(), 1, "the other handler still ran");
}

// ---------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------

#[test]
fn a_named_closure_is_named_in_its_error_and_in_a_detailed_report() {
    let linker = linker();
    let failures = Failures::new();
    let failing = linker
        .on("E")
        .name("reject-order")
        .on_failure(failures.callback())
        .subscribe(|| Err::<(), _>("no stock"))
        .unwrap();
    let passing = linker
        .on("E")
        .name("log-order")
        .subscribe(|| async {})
        .unwrap();
    assert_eq!(failing.handler_name(), "reject-order");
    assert_eq!(passing.handler_name(), "log-order");

    let emitter = TokioEventEmitter::builder()
        .linker(&linker)
        .detailed_reports(true)
        .build();
    let report = emitter.emit("E").unwrap().wait().unwrap();

    let failure = failures.of_handler("reject-order");
    assert_eq!(failure.handler, "reject-order");
    assert!(
        failure.display.contains("`reject-order`"),
        "{}",
        failure.display
    );
    let names: Vec<_> = report.handlers().iter().map(|h| h.handler).collect();
    assert_eq!(names, ["reject-order", "log-order"]);
    let Outcome::Failed(err) = &report.handlers()[0].outcome else {
        panic!("the first handler failed: {report:?}");
    };
    assert_eq!(err.handler(), "reject-order");
    assert!(matches!(err.kind(), HandlerErrorKind::Failed(_)));
}

#[test]
fn an_unnamed_handler_keeps_its_type_name() {
    let linker = linker();
    let sub = linker.on("E").subscribe(check_stock).unwrap();
    assert!(
        sub.handler_name().ends_with("check_stock"),
        "{}",
        sub.handler_name()
    );
}

#[test]
fn an_empty_handler_name_is_refused_and_links_nothing() {
    let linker = linker();
    let err = linker.on("E").name("").subscribe(|| ()).unwrap_err();
    assert_eq!(err, SubscribeError::EmptyHandlerName);
    assert!(err.to_string().contains("name"), "{err}");
    assert_eq!(linker.subscriber_count(), 0);
}
