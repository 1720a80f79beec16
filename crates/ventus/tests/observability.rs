//! Observability: an emission's story in `tracing` spans. Each emission opens a
//! `ventus.emission` span (fields `event`, `emission`) and each handler a `ventus.handler`
//! span inside it (fields `handler`, `subscription`, then `outcome` and `duration_us`
//! recorded when it ends). A recording `Layer`, installed for one test at a time with a
//! thread-local default subscriber, captures them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::Subscriber;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use ventus::{EmissionReport, EventEmitter, EventLinker, Subscription, TokioEventEmitter};

// ---------------------------------------------------------------------------------------
// A recording layer
// ---------------------------------------------------------------------------------------

/// One span as the layer saw it, from creation to close.
#[derive(Debug, Clone)]
struct SpanRecord {
    /// A number of this layer's own: tracing reuses span ids once a span closes.
    seq: u64,
    parent: Option<u64>,
    name: &'static str,
    fields: BTreeMap<&'static str, String>,
}

/// The layer's number for a span, kept in the span's extensions.
struct Seq(u64);

#[derive(Clone, Default)]
struct Recording {
    next: Arc<AtomicU64>,
    open: Arc<Mutex<HashMap<u64, SpanRecord>>>,
    closed: Arc<Mutex<Vec<SpanRecord>>>,
}

impl Recording {
    /// Every closed span named `name`, in the order they closed.
    fn closed_named(&self, name: &str) -> Vec<SpanRecord> {
        self.closed
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.name == name)
            .cloned()
            .collect()
    }
}

struct Fields<'a>(&'a mut BTreeMap<&'static str, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_owned());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name(), value.to_string());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Recording {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        let span = ctx.span(id).expect("the registry knows a new span");
        let parent = span
            .parent()
            .and_then(|p| p.extensions().get::<Seq>().map(|s| s.0));
        span.extensions_mut().insert(Seq(seq));
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        self.open.lock().unwrap().insert(
            seq,
            SpanRecord {
                seq,
                parent,
                name: attrs.metadata().name(),
                fields,
            },
        );
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(seq) = ctx
            .span(id)
            .and_then(|s| s.extensions().get::<Seq>().map(|s| s.0))
        else {
            return;
        };
        if let Some(record) = self.open.lock().unwrap().get_mut(&seq) {
            values.record(&mut Fields(&mut record.fields));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(seq) = ctx
            .span(&id)
            .and_then(|s| s.extensions().get::<Seq>().map(|s| s.0))
        else {
            return;
        };
        if let Some(record) = self.open.lock().unwrap().remove(&seq) {
            self.closed.lock().unwrap().push(record);
        }
    }
}

/// Runs `f` with a subscriber that records every span on this thread, and returns what
/// `f` returned and what was recorded.
fn recorded<T>(f: impl FnOnce() -> T) -> (T, Recording) {
    let recording = Recording::default();
    let subscriber = tracing_subscriber::registry().with(recording.clone());
    let out = tracing::subscriber::with_default(subscriber, f);
    (out, recording)
}

/// A current-thread runtime: its tasks run on the thread that drives it, where the
/// thread-local subscriber of [`recorded`] is installed.
fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn spin_for(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        std::hint::spin_loop();
    }
}

// ---------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------

/// The one emission span of `report`; it names the event `event` and the emission id.
fn emission_span(rec: &Recording, report: &EmissionReport, event: &str) -> SpanRecord {
    let id = report.id().as_u64().to_string();
    let spans: Vec<_> = rec
        .closed_named("ventus.emission")
        .into_iter()
        .filter(|s| s.fields.get("emission") == Some(&id))
        .collect();
    assert_eq!(
        spans.len(),
        1,
        "one `ventus.emission` span for emission {id}: {:#?}",
        rec.closed.lock().unwrap()
    );
    let span = spans[0].clone();
    assert_eq!(
        span.fields.get("event").map(String::as_str),
        Some(event),
        "{span:?}"
    );
    assert_eq!(
        report.event().as_str(),
        event,
        "the report names the same event"
    );
    span
}

/// The handler spans inside `emission`, by subscription id.
fn handler_spans(rec: &Recording, emission: &SpanRecord) -> BTreeMap<u64, SpanRecord> {
    let mut by_sub = BTreeMap::new();
    for span in rec.closed_named("ventus.handler") {
        if span.parent != Some(emission.seq) {
            continue;
        }
        let sub: u64 = span.fields["subscription"].parse().unwrap();
        assert!(
            by_sub.insert(sub, span).is_none(),
            "one handler span per handler"
        );
    }
    by_sub
}

/// `sub`'s span: its handler name, the outcome recorded, and a duration in µs.
fn check_handler(spans: &BTreeMap<u64, SpanRecord>, sub: &Subscription, outcome: &str) -> Duration {
    let span = spans
        .get(&sub.id().as_u64())
        .unwrap_or_else(|| panic!("no `ventus.handler` span for {}: {spans:#?}", sub.id()));
    assert_eq!(span.fields["handler"], sub.handler_name(), "{span:?}");
    assert_eq!(
        span.fields.get("outcome").map(String::as_str),
        Some(outcome),
        "{span:?}"
    );
    let micros: u64 = span
        .fields
        .get("duration_us")
        .unwrap_or_else(|| panic!("no duration recorded: {span:?}"))
        .parse()
        .expect("duration_us is a number");
    Duration::from_micros(micros)
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[test]
fn an_async_context_emission_has_an_emission_span_and_one_handler_span_per_handler() {
    let linker = EventLinker::builder().build().unwrap();
    let spinning = linker
        .on("Job")
        .subscribe(|| spin_for(Duration::from_millis(3)))
        .unwrap();
    let asynchronous = linker
        .on("Job")
        .subscribe(|| async { tokio::task::yield_now().await })
        .unwrap();
    let failing = linker
        .on("Job")
        .on_failure(|_| ())
        .subscribe(|| async { Err::<(), _>("no") })
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);

    let (report, rec) = recorded(|| {
        current_thread().block_on(async { emitter.emit("Job").unwrap().into_future().await })
    });

    let emission = emission_span(&rec, &report, "Job");
    let spans = handler_spans(&rec, &emission);
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let spun = check_handler(&spans, &spinning, "succeeded");
    assert!(spun >= Duration::from_millis(3), "{spun:?}");
    check_handler(&spans, &asynchronous, "succeeded");
    check_handler(&spans, &failing, "failed");
}

#[test]
fn a_sync_context_emission_run_inline_has_the_same_spans() {
    let linker = EventLinker::builder().build().unwrap();
    let first = linker.on("Tick").subscribe(|n: &u32| *n).unwrap();
    let panicking = linker
        .on("Tick")
        .on_failure(|_| ())
        .subscribe(|n: &u32| assert!(*n == 0, "boom"))
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);

    // No runtime on this thread: every handler is sync, so the emission runs inline.
    let (report, rec) = recorded(|| emitter.emit_with("Tick", 4_u32).unwrap().wait().unwrap());

    let emission = emission_span(&rec, &report, "Tick");
    let spans = handler_spans(&rec, &emission);
    assert_eq!(spans.len(), 2, "{spans:#?}");
    check_handler(&spans, &first, "succeeded");
    check_handler(&spans, &panicking, "panicked");
}

#[test]
fn timed_out_and_cancelled_handlers_record_their_outcome() {
    let linker = EventLinker::builder().build().unwrap();
    let slow = linker
        .on("Job")
        .timeout(Duration::from_millis(10))
        .on_failure(|_| ())
        .subscribe(std::future::pending::<()>)
        .unwrap();
    let stuck = linker
        .on("Stuck")
        .subscribe(std::future::pending::<()>)
        .unwrap();
    let emitter = EventEmitter::builder().linker(&linker).build();

    let ((timed_out, cancelled), rec) = recorded(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let timed_out = emitter.run("Job").await.unwrap();
            let emitted = emitter.emit("Stuck").unwrap();
            // Let the emission start its handler before cancelling it.
            tokio::task::yield_now().await;
            assert!(emitted.cancel());
            (timed_out, emitted.into_future().await)
        })
    });

    let spans = handler_spans(&rec, &emission_span(&rec, &timed_out, "Job"));
    check_handler(&spans, &slow, "timed out");
    let spans = handler_spans(&rec, &emission_span(&rec, &cancelled, "Stuck"));
    check_handler(&spans, &stuck, "cancelled");
    assert_eq!(cancelled.counts().cancelled, 1);
}

#[test]
fn emissions_get_distinct_ids_in_their_spans() {
    let linker = EventLinker::builder().build().unwrap();
    linker.on("Tick").subscribe(|| ()).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let (reports, rec) = recorded(|| {
        (0..3)
            .map(|_| emitter.emit("Tick").unwrap().wait().unwrap())
            .collect::<Vec<_>>()
    });
    let ids: std::collections::BTreeSet<_> = reports
        .iter()
        .map(|r| emission_span(&rec, r, "Tick").fields["emission"].clone())
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
}

#[test]
fn a_named_handler_is_named_in_its_span() {
    let linker = EventLinker::builder().build().unwrap();
    let named = linker
        .on("Job")
        .name("charge-card")
        .subscribe(|| async {})
        .unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);

    let (report, rec) = recorded(|| {
        current_thread().block_on(async { emitter.emit("Job").unwrap().into_future().await })
    });

    let emission = emission_span(&rec, &report, "Job");
    let spans = handler_spans(&rec, &emission);
    check_handler(&spans, &named, "succeeded");
    assert_eq!(spans[&named.id().as_u64()].fields["handler"], "charge-card");
}

#[test]
fn a_scheduled_emission_is_a_child_of_the_span_it_was_made_in() {
    let linker = EventLinker::builder().build().unwrap();
    linker.on("Job").subscribe(|| async {}).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let (report, rec) = recorded(|| {
        current_thread().block_on(async {
            let emitted = {
                let request = tracing::info_span!("request");
                let _entered = request.enter();
                emitter.emit("Job").unwrap()
            };
            // It runs later, on a drainer task, outside the `request` span.
            emitted.into_future().await
        })
    });
    let emission = emission_span(&rec, &report, "Job");
    let request = rec.closed_named("request");
    assert_eq!(request.len(), 1);
    assert_eq!(
        emission.parent,
        Some(request[0].seq),
        "the emission's span continues the span it was made in"
    );
}

#[test]
fn the_span_an_emission_was_made_in_closes_when_it_ends_though_a_canceller_is_kept() {
    let linker = EventLinker::builder().build().unwrap();
    linker.on("Job").subscribe(|| async {}).unwrap();
    let emitter = TokioEventEmitter::with_linker(&linker);
    let (canceller, rec) = recorded(|| {
        current_thread().block_on(async {
            let emitted = {
                let request = tracing::info_span!("request");
                let _entered = request.enter();
                emitter.emit("Job").unwrap()
            };
            let canceller = emitted.canceller();
            emitted.into_future().await;
            canceller
        })
    });
    // The emission ended; its canceller is still held here.
    assert!(canceller.is_finished());
    assert_eq!(
        rec.closed_named("request").len(),
        1,
        "the request span is closed while a canceller of its emission lives"
    );
    drop(canceller);
}
