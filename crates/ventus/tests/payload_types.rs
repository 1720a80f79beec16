//! Payload types checked at emit: an emission whose payload none of the event's typed
//! handlers take is refused with a typed error, before any handler runs, and the payload
//! is handed back. Mixed-type events, handlers without an argument and `AnyEvent`
//! handlers keep working.

mod support;

use support::{linker, within, Counter, FailureKind, Failures};
use ventus::{AnyEvent, EmitError, EventLinker, PayloadMismatch, TokioEventEmitter};

/// The mismatch in `result`, or a failure naming what came instead.
fn mismatch<T: std::fmt::Debug>(result: Result<T, EmitError>) -> PayloadMismatch {
    match result {
        Err(EmitError::PayloadType(mismatch)) => mismatch,
        other => panic!("expected a payload mismatch, got {other:?}"),
    }
}

/// A `u64` handler on "Int", counted.
fn int_handler(linker: &EventLinker) -> Counter {
    let ran = Counter::new();
    let r = ran.clone();
    linker.on("Int").subscribe(move |_: &u64| r.incr()).unwrap();
    ran
}

#[test]
fn an_integer_literal_emitted_to_a_u64_handler_is_refused_with_both_types_and_handed_back() {
    let linker = linker();
    let ran = int_handler(&linker);
    let emitter = TokioEventEmitter::with_linker(&linker);
    let m = within("sync emit", move || mismatch(emitter.emit_with("Int", 7)));
    assert_eq!(m.event().as_str(), "Int");
    assert_eq!(m.expected(), ["u64"]);
    assert_eq!(m.given(), Some("i32"));
    let shown = m.to_string();
    assert!(
        shown.contains("`u64`") && shown.contains("`i32`"),
        "{shown}"
    );
    assert!(
        shown.contains("7_u64"),
        "the message says how to write the literal: {shown}"
    );
    assert_eq!(m.into_payload::<i32>(), Some(7));
    assert_eq!(ran.get(), 0, "no handler ran");
}

#[tokio::test(flavor = "current_thread")]
async fn async_context_and_run_refuse_a_mismatched_payload_too() {
    let linker = linker();
    let ran = int_handler(&linker);
    let emitter = TokioEventEmitter::with_linker(&linker);
    let m = mismatch(emitter.emit_with("Int", 7));
    assert_eq!((m.expected(), m.given()), (&["u64"][..], Some("i32")));
    let m = mismatch(emitter.run_with("Int", 7).await);
    assert_eq!(m.into_payload::<i32>(), Some(7));
    emitter.wait_for_tasks().await;
    assert_eq!(ran.get(), 0, "no handler ran");
    assert_eq!(
        emitter.metrics().emitted,
        0,
        "a refused emission is not counted"
    );
}

#[test]
fn a_float_literal_to_f32_and_a_str_to_string_are_refused_with_advice() {
    let linker = linker();
    linker.on("Temperature").subscribe(|_: &f32| ()).unwrap();
    linker.on("Greet").subscribe(|_: &String| ()).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let (float, text) = within("sync emits", move || {
        (
            mismatch(emitter.emit_with("Temperature", 21.5)),
            mismatch(emitter.emit_with("Greet", "world")),
        )
    });
    assert_eq!(
        (float.expected(), float.given()),
        (&["f32"][..], Some("f64"))
    );
    assert!(float.to_string().contains("21.5_f32"), "{float}");
    assert_eq!(text.expected(), ["alloc::string::String"]);
    assert_eq!(text.given(), Some("&str"));
    assert!(text.to_string().contains(".to_string()"), "{text}");
}

#[test]
fn an_event_emitted_without_a_payload_to_typed_handlers_is_refused_but_unit_handlers_take_it() {
    let linker = linker();
    let ran = int_handler(&linker);
    let unit = Counter::new();
    let u = unit.clone();
    linker.on("Unit").subscribe(move |_: &()| u.incr()).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let (m, unit_report) = within("sync emits", move || {
        (
            mismatch(emitter.emit("Int")),
            emitter.emit("Unit").unwrap().wait().unwrap(),
        )
    });
    assert_eq!((m.expected(), m.given()), (&["u64"][..], None));
    assert!(m.to_string().contains("emit_with"), "{m}");
    assert_eq!(ran.get(), 0);
    assert_eq!((unit.get(), unit_report.counts().succeeded), (1, 1));
}

#[test]
fn mixed_type_events_run_the_handlers_of_the_emitted_type_and_fail_the_others() {
    let linker = linker();
    let failures = Failures::new();
    let (ints, texts, untyped, any) = (
        Counter::new(),
        Counter::new(),
        Counter::new(),
        Counter::new(),
    );
    let (i, t, n, a) = (ints.clone(), texts.clone(), untyped.clone(), any.clone());
    linker
        .on("Mixed")
        .on_failure(failures.callback())
        .subscribe(move |_: &u64| i.incr())
        .unwrap();
    linker
        .on("Mixed")
        .on_failure(failures.callback())
        .subscribe(move |_: &String| t.incr())
        .unwrap();
    linker.on("Mixed").subscribe(move || n.incr()).unwrap();
    linker
        .on("Mixed")
        .subscribe(move |_: &AnyEvent| a.incr())
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let check = failures.clone();
    within("sync emits", move || {
        let report = emitter.emit_with("Mixed", 7_u64).unwrap().wait().unwrap();
        assert_eq!((report.counts().succeeded, report.counts().failed), (3, 1));
        match &check.all()[..] {
            [only] => assert!(
                matches!(&only.kind, FailureKind::PayloadType { expected, .. } if expected.contains("String")),
                "{only:?}"
            ),
            all => panic!("one failure expected, got {all:?}"),
        }
        let m = mismatch(emitter.emit_with("Mixed", 7_i32));
        let mut expected = m.expected().to_vec();
        expected.sort_unstable();
        assert_eq!(expected, ["alloc::string::String", "u64"]);
    });
    assert_eq!(
        (ints.get(), texts.get(), untyped.get(), any.get()),
        (1, 0, 1, 1)
    );
}

#[test]
fn events_whose_handlers_take_no_typed_payload_accept_any_payload() {
    let linker = linker();
    let ran = Counter::new();
    let (r1, r2) = (ran.clone(), ran.clone());
    linker.on("Loose").subscribe(move || r1.incr()).unwrap();
    linker.on_any().subscribe(move |_: &u64| r2.incr()).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let report = within("sync emit", move || {
        emitter
            .emit_with("Loose", "anything")
            .unwrap()
            .wait()
            .unwrap()
    });
    // The any-event handler takes `u64`: it fails on its own, the emission goes ahead.
    assert_eq!((report.counts().succeeded, report.counts().failed), (1, 1));
    assert_eq!(ran.get(), 1);
}

#[test]
fn a_refused_emission_leaves_once_subscriptions_linked() {
    let linker = linker();
    let ran = Counter::new();
    let r = ran.clone();
    let once = linker
        .on("Int")
        .once()
        .subscribe(move |_: &u64| r.incr())
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let linked = within("sync emits", move || {
        mismatch(emitter.emit_with("Int", 7));
        let linked = once.is_linked();
        emitter.emit_with("Int", 7_u64).unwrap();
        linked
    });
    assert!(
        linked,
        "the once-subscription is still there after the refusal"
    );
    assert_eq!(ran.get(), 1);
}
