//! ventus-axum's logs and spans over real HTTP. Each test installs a thread-local
//! `tracing` subscriber, so they live in a binary of their own and run one at a time:
//! `tracing` caches each callsite's interest for the whole process, and a test thread
//! without a subscriber hitting a callsite first must not decide what these see.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::sync::mpsc;
use ventus::{EventLinker, TokioEventEmitter};
use ventus_axum::{Background, BackgroundEmitter, VentusLayer};

use support::{request, within, Client, Server};

/// Held by each test for its whole run.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn linker() -> EventLinker {
    EventLinker::builder().build().expect("linker")
}

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

async fn boom(emitter: BackgroundEmitter, Json(order): Json<Order>) -> (StatusCode, String) {
    emitter.emit_with("Boom", order.id).unwrap();
    (StatusCode::ACCEPTED, format!("order {}", order.id))
}

async fn fail(emitter: BackgroundEmitter) -> StatusCode {
    emitter.emit_with("Tagged", "fail".to_string()).unwrap();
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn emit_then_panic(emitter: BackgroundEmitter) -> &'static str {
    emitter.emit("Never").expect("held");
    panic!("the handler failed before producing a response");
}

/// Records, for every span made, its name and those of its ancestors.
#[derive(Clone, Default)]
struct Ancestry(Arc<Mutex<Vec<Vec<&'static str>>>>);

impl<S> tracing_subscriber::Layer<S> for Ancestry
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        _attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id) {
            let names = span.scope().map(|s| s.name()).collect();
            self.0.lock().unwrap().push(names);
        }
    }
}

async fn in_request_span(req: Request, next: Next) -> Response {
    use tracing::Instrument;
    let span = tracing::info_span!("request", path = %req.uri().path());
    next.run(req).instrument(span).await
}

#[tokio::test]
async fn the_request_span_is_the_ancestor_of_the_emission_and_handler_spans() {
    let _one = ONE_AT_A_TIME.lock().await;
    use tracing_subscriber::layer::SubscriberExt;
    let spans = Ancestry::default();
    let _default =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));
    // Callsites first seen by a test thread without a subscriber cached no interest.
    tracing::callsite::rebuild_interest_cache();

    let linker = linker();
    let (ran_tx, mut ran) = mpsc::unbounded_channel();
    linker
        .on("Traced")
        .name("traced-handler")
        .subscribe(move || ran_tx.send(()).unwrap())
        .unwrap();
    let background = Background::new(TokioEventEmitter::with_linker(&linker));
    let app = Router::new()
        .route(
            "/",
            get(|emitter: BackgroundEmitter| async move {
                emitter.emit("Traced").unwrap();
                "traced"
            }),
        )
        .layer(VentusLayer::new())
        .layer(middleware::from_fn(in_request_span))
        .with_state(background.clone());
    let server = Server::start(app).await;
    let mut client = Client::connect(server.addr).await;
    assert_eq!(client.get("/").await.0, StatusCode::OK);
    within("handler ran", ran.recv()).await.unwrap();
    background.shutdown(Duration::from_secs(5)).await;
    client.disconnect().await;
    server.stop().await;

    let spans = spans.0.lock().unwrap();
    let handler = spans
        .iter()
        .find(|names| names.first() == Some(&"ventus.handler"))
        .unwrap_or_else(|| panic!("no handler span among {spans:?}"));
    assert_eq!(
        handler[..],
        [
            "ventus.handler",
            "ventus.emission",
            "ventus_axum.emission",
            "request"
        ],
        "{spans:?}"
    );
}

/// One recorded event: its fields, then those of the spans around it.
type Line = Vec<(String, String)>;

/// Records every event with its own fields and those of the spans around it.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<Line>>>);

/// A span's fields, kept in its extensions.
struct Fields(Vec<(String, String)>);

struct Collect<'a>(&'a mut Vec<(String, String)>);

impl tracing::field::Visit for Collect<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0
            .push((field.name().to_string(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_string(), value.to_string()));
    }
}

impl<S> tracing_subscriber::Layer<S> for Lines
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = Vec::new();
        attrs.record(&mut Collect(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Fields(fields));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = Vec::new();
        event.record(&mut Collect(&mut fields));
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(Fields(more)) = span.extensions().get::<Fields>() {
                    fields.extend(more.iter().cloned());
                }
            }
        }
        self.0.lock().unwrap().push(fields);
    }
}

#[tokio::test]
async fn a_failure_is_logged_with_its_event_handler_method_and_path_at_info_level() {
    let _one = ONE_AT_A_TIME.lock().await;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer as _;
    let lines = Lines::default();
    let subscriber = tracing_subscriber::registry().with(
        lines
            .clone()
            .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
    );
    let _default = tracing::subscriber::set_default(subscriber);
    // Callsites first seen by a test thread without a subscriber cached no interest.
    tracing::callsite::rebuild_interest_cache();

    let linker = linker();
    linker
        .on("Boom")
        .name("send-receipt")
        .subscribe(|_: &u64| -> Result<(), &'static str> { Err("smtp down") })
        .unwrap();
    // Plain reports: the handler is named by ventus's own log line.
    let background = Background::new(TokioEventEmitter::with_linker(&linker));
    let app = Router::new()
        .route("/orders", post(boom))
        .layer(VentusLayer::new())
        .with_state(background.clone());
    let server = Server::start(app).await;
    let mut client = Client::connect(server.addr).await;
    assert_eq!(
        client.post_json("/orders", r#"{"id": 9}"#).await.0,
        StatusCode::ACCEPTED
    );
    within("drain", background.wait_for_tasks()).await;
    client.disconnect().await;
    server.stop().await;
    assert_eq!(background.metrics().failed, 1);

    let lines = lines.0.lock().unwrap();
    let has = |line: &Line, key: &str, value: &str| {
        line.iter().any(|(k, v)| k == key && v.contains(value))
    };
    let failure = lines
        .iter()
        .find(|line| has(line, "handler", "send-receipt") && has(line, "error", "smtp down"))
        .unwrap_or_else(|| panic!("no failure line among {lines:?}"));
    for (key, value) in [("event", "Boom"), ("method", "POST"), ("path", "/orders")] {
        assert!(has(failure, key, value), "{key} missing from {failure:?}");
    }
}

#[tokio::test]
async fn skipped_and_dropped_emissions_are_logged_with_event_status_method_and_path() {
    let _one = ONE_AT_A_TIME.lock().await;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer as _;
    let lines = Lines::default();
    let subscriber = tracing_subscriber::registry().with(
        lines
            .clone()
            .with_filter(tracing_subscriber::filter::LevelFilter::INFO),
    );
    let _default = tracing::subscriber::set_default(subscriber);
    // Callsites first seen by a test thread without a subscriber cached no interest.
    tracing::callsite::rebuild_interest_cache();

    let linker = linker();
    linker.on("Tagged").subscribe(|_: &String| ()).unwrap();
    linker.on("Never").subscribe(|| ()).unwrap();
    let background = Background::new(TokioEventEmitter::with_linker(&linker));
    let app = Router::new()
        .route("/fail", get(fail))
        .layer(VentusLayer::new())
        .with_state(background.clone());
    let panicking = Router::new()
        .route("/panic", get(emit_then_panic))
        .layer(VentusLayer::new())
        .with_state(background.clone());
    let server = Server::start(app.merge(panicking)).await;
    let mut client = Client::connect(server.addr).await;
    assert_eq!(
        client.get("/fail").await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    let mut other = Client::connect(server.addr).await;
    assert!(other.try_send(request("GET", "/panic", "")).await.is_err());
    background.shutdown(Duration::from_secs(5)).await;
    client.disconnect().await;
    other.disconnect().await;
    server.stop().await;
    let m = background.metrics();
    assert_eq!((m.skipped, m.dropped), (1, 1));

    let lines = lines.0.lock().unwrap();
    let has = |line: &Line, key: &str, value: &str| {
        line.iter().any(|(k, v)| k == key && v.contains(value))
    };
    let find = |message: &str| {
        lines
            .iter()
            .find(|line| has(line, "message", message))
            .unwrap_or_else(|| panic!("no {message:?} line among {lines:?}"))
            .clone()
    };
    let skipped = find("emission skipped");
    for (key, value) in [
        ("event", "Tagged"),
        ("status", "500"),
        ("method", "GET"),
        ("path", "/fail"),
        ("policy", "on success"),
    ] {
        assert!(has(&skipped, key, value), "{key} missing from {skipped:?}");
    }
    let dropped = find("emission dropped");
    for (key, value) in [("event", "Never"), ("method", "GET"), ("path", "/panic")] {
        assert!(has(&dropped, key, value), "{key} missing from {dropped:?}");
    }
}
