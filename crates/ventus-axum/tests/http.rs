//! ventus-axum over real HTTP: an axum server on a loopback port, a hyper client.

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use tokio::sync::{mpsc, Notify};
use ventus::{EventEmitter, EventLinker, TokioEventEmitter};
use ventus_axum::{
    Background, BackgroundEmitter, BackgroundMetrics, HoldError, RunPolicy, VentusLayer,
};

use support::{poll_once, request, within, Client, Server};

/// Sends a signal when dropped.
struct OnDrop(Option<mpsc::UnboundedSender<()>>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

fn linker() -> EventLinker {
    EventLinker::builder().build().expect("linker")
}

async fn emit_slow(emitter: BackgroundEmitter) -> &'static str {
    emitter.emit("Slow").expect("held");
    "done"
}

#[tokio::test]
async fn the_response_reaches_the_client_before_the_handler_finishes() {
    let linker = linker();
    let release = Arc::new(Notify::new());
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let gate = release.clone();
    linker
        .on("Slow")
        .subscribe(move || {
            let (gate, started, done) = (gate.clone(), started_tx.clone(), done_tx.clone());
            async move {
                started.send(()).unwrap();
                gate.notified().await;
                done.send(()).unwrap();
            }
        })
        .unwrap();
    let background = Background::new(TokioEventEmitter::with_linker(&linker));
    let app = Router::new()
        .route("/", get(emit_slow))
        .layer(VentusLayer::new())
        .with_state(background.clone());
    let server = Server::start(app).await;
    let mut client = Client::connect(server.addr).await;

    let (status, body) = client.get("/").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "done"));
    // The whole response is read, and the emission's handler has not finished: it
    // waits for `release`, which only now fires.
    assert!(
        done.try_recv().is_err(),
        "the handler finished before the response was read"
    );
    within("handler started", started.recv()).await.unwrap();
    let mut idle = Box::pin(background.wait_for_tasks());
    assert!(
        poll_once(&mut idle).await.is_pending(),
        "the emission is in flight"
    );
    assert_eq!(background.metrics().in_flight, 1);
    release.notify_one();
    within("wait_for_tasks", idle).await;
    assert!(
        done.try_recv().is_ok(),
        "wait_for_tasks returned before the handler ended"
    );
    let m = background.metrics();
    assert_eq!(
        (m.held, m.handed_off, m.finished, m.failed, m.in_flight),
        (1, 1, 1, 0, 0)
    );
    assert!(!background.is_closed());

    let report = background.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.finished, report.cancelled), (0, 0));
    client.disconnect().await;
    server.stop().await;
}

/// A body that sends `head`, then stays open until `end` fires, and signals when the
/// server drops it.
fn held_open_body(end: Arc<Notify>, dropped: mpsc::UnboundedSender<()>) -> Body {
    let guard = OnDrop(Some(dropped));
    let chunks = futures_util::stream::unfold(0_u8, move |step| {
        let end = end.clone();
        let _guard = &guard;
        async move {
            match step {
                0 => Some((Ok::<_, std::io::Error>(Bytes::from_static(b"head")), 1)),
                1 => {
                    end.notified().await;
                    None
                }
                _ => None,
            }
        }
    });
    Body::from_stream(chunks)
}

#[derive(Clone)]
struct Streaming {
    background: Background,
    end: Arc<Notify>,
    dropped: mpsc::UnboundedSender<()>,
}

impl axum::extract::FromRef<Streaming> for Background {
    fn from_ref(state: &Streaming) -> Self {
        state.background.clone()
    }
}

async fn emit_then_stream(emitter: BackgroundEmitter, State(state): State<Streaming>) -> Body {
    emitter.emit("Mail").expect("held");
    held_open_body(state.end.clone(), state.dropped.clone())
}

#[tokio::test]
async fn emissions_are_handed_on_when_the_response_future_resolves_not_when_the_body_ends() {
    let linker = linker();
    let (ran_tx, mut ran) = mpsc::unbounded_channel();
    linker
        .on("Mail")
        .subscribe(move || ran_tx.send(()).unwrap())
        .unwrap();
    let background = Background::new(TokioEventEmitter::with_linker(&linker));
    let end = Arc::new(Notify::new());
    let (dropped_tx, mut dropped) = mpsc::unbounded_channel();
    let state = Streaming {
        background: background.clone(),
        end: end.clone(),
        dropped: dropped_tx,
    };
    let app = Router::new()
        .route("/", get(emit_then_stream))
        .layer(VentusLayer::new())
        .with_state(state);
    let server = Server::start(app).await;
    let mut client = Client::connect(server.addr).await;

    let response = client.send(request("GET", "/", "")).await;
    assert_eq!(response.status(), StatusCode::OK);
    // The body is still open (it ends only when `end` fires), and the emission ran.
    within("emission ran while the body was open", ran.recv())
        .await
        .unwrap();
    end.notify_one();
    let body = within(
        "body",
        http_body_util::BodyExt::collect(response.into_body()),
    )
    .await
    .unwrap()
    .to_bytes();
    assert_eq!(&body[..], b"head");
    within("body dropped", dropped.recv()).await.unwrap();

    background.shutdown(Duration::from_secs(5)).await;
    assert_eq!(background.metrics().finished, 1);
    client.disconnect().await;
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_disconnects_after_the_response_does_not_stop_the_emission() {
    let linker = linker();
    let release = Arc::new(Notify::new());
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let gate = release.clone();
    linker
        .on("Mail")
        .subscribe(move || {
            let (gate, started, done) = (gate.clone(), started_tx.clone(), done_tx.clone());
            async move {
                started.send(()).unwrap();
                gate.notified().await;
                done.send(()).unwrap();
            }
        })
        .unwrap();
    let background = Background::new(TokioEventEmitter::with_linker(&linker));
    let (dropped_tx, mut dropped) = mpsc::unbounded_channel();
    let state = Streaming {
        background: background.clone(),
        end: Arc::new(Notify::new()), // never fires: only the disconnect ends the body
        dropped: dropped_tx,
    };
    let app = Router::new()
        .route("/", get(emit_then_stream))
        .layer(VentusLayer::new())
        .with_state(state);
    let server = Server::start(app).await;
    let mut client = Client::connect(server.addr).await;

    let response = client.send(request("GET", "/", "")).await;
    assert_eq!(response.status(), StatusCode::OK);
    within("handler started", started.recv()).await.unwrap();
    drop(response);
    client.disconnect().await;
    // The server saw the client go: it dropped the response body mid-stream.
    within("server dropped the body", dropped.recv())
        .await
        .unwrap();
    assert!(done.try_recv().is_err());
    release.notify_one();
    within("handler finished after the disconnect", done.recv())
        .await
        .unwrap();

    let report = background.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.cancelled, 0);
    let m = background.metrics();
    assert_eq!((m.handed_off, m.finished, m.dropped), (1, 1, 0));
    server.stop().await;
}

#[derive(Clone)]
struct Cancelling {
    background: Background,
    emitted: mpsc::UnboundedSender<()>,
    cancel: Arc<Notify>,
}

impl axum::extract::FromRef<Cancelling> for Background {
    fn from_ref(state: &Cancelling) -> Self {
        state.background.clone()
    }
}

/// Stands for a timeout layer: drops the inner service's future when `cancel` fires.
async fn cancel_on_signal(State(state): State<Cancelling>, req: Request, next: Next) -> Response {
    tokio::select! {
        response = next.run(req) => response,
        () = state.cancel.notified() => StatusCode::GATEWAY_TIMEOUT.into_response(),
    }
}

async fn emit_then_hang(
    emitter: BackgroundEmitter,
    State(state): State<Cancelling>,
) -> &'static str {
    emitter.emit("Never").expect("held");
    emitter.emit_with("Never", 7_u32).expect("held");
    state.emitted.send(()).unwrap();
    std::future::pending::<()>().await;
    "unreachable"
}

#[tokio::test]
async fn emissions_of_a_handler_cancelled_before_its_response_are_dropped_and_counted() {
    let linker = linker();
    let runs = Arc::new(AtomicUsize::new(0));
    let count = runs.clone();
    linker
        .on("Never")
        .subscribe(move || {
            count.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let background = Background::new(TokioEventEmitter::with_linker(&linker));
    let (emitted_tx, mut emitted) = mpsc::unbounded_channel();
    let state = Cancelling {
        background: background.clone(),
        emitted: emitted_tx,
        cancel: Arc::new(Notify::new()),
    };
    let app = Router::new()
        .route("/", get(emit_then_hang))
        .layer(VentusLayer::new().policy(RunPolicy::Always))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            cancel_on_signal,
        ))
        .with_state(state.clone());
    let server = Server::start(app).await;
    let mut client = Client::connect(server.addr).await;

    let call = tokio::spawn(async move {
        let out = client.get("/").await;
        client.disconnect().await;
        out
    });
    within("handler emitted", emitted.recv()).await.unwrap();
    state.cancel.notify_one();
    let (status, _) = within("response", call).await.unwrap();
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    let m = background.metrics();
    assert_eq!((m.held, m.dropped, m.handed_off), (2, 2, 0), "{m:?}");

    let report = background.shutdown(Duration::from_secs(5)).await;
    assert_eq!((report.finished, report.cancelled), (0, 0));
    assert_eq!(runs.load(Ordering::SeqCst), 0, "a dropped emission ran");
    server.stop().await;
}

// ---- the policy for non-2xx responses ----

#[derive(Clone)]
struct Policy {
    background: Background,
}

impl axum::extract::FromRef<Policy> for Background {
    fn from_ref(state: &Policy) -> Self {
        state.background.clone()
    }
}

async fn ok(emitter: BackgroundEmitter) -> StatusCode {
    emitter.emit_with("Tagged", "ok".to_string()).unwrap();
    StatusCode::OK
}

async fn fail(emitter: BackgroundEmitter) -> StatusCode {
    emitter.emit_with("Tagged", "fail".to_string()).unwrap();
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn fail_but_always(emitter: BackgroundEmitter) -> StatusCode {
    emitter
        .with_policy(RunPolicy::Always)
        .emit_with("Tagged", "fail, always".to_string())
        .unwrap();
    emitter
        .emit_with("Tagged", "fail, router".to_string())
        .unwrap();
    StatusCode::BAD_REQUEST
}

async fn ok_but_never(emitter: BackgroundEmitter) -> StatusCode {
    emitter
        .with_policy(RunPolicy::Never)
        .emit_with("Tagged", "ok, never".to_string())
        .unwrap();
    StatusCode::CREATED
}

fn routes(policy: Option<RunPolicy>) -> Router<Policy> {
    let routes = Router::new()
        .route("/ok", get(ok))
        .route("/fail", get(fail))
        .route("/fail-but-always", get(fail_but_always))
        .route("/ok-but-never", get(ok_but_never));
    match policy {
        Some(policy) => routes.layer(VentusLayer::new().policy(policy)),
        None => routes.layer(VentusLayer::new()),
    }
}

/// Runs every route under `policy` (`None`: the layer's default) and returns the tags of
/// the emissions that ran, and the metrics.
async fn run_policy(policy: Option<RunPolicy>) -> (Vec<String>, BackgroundMetrics) {
    let linker = linker();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let seen = ran.clone();
    linker
        .on("Tagged")
        .subscribe(move |tag: &String| seen.lock().unwrap().push(tag.clone()))
        .unwrap();
    let background = Background::new(TokioEventEmitter::with_linker(&linker));
    let app = routes(policy).with_state(Policy {
        background: background.clone(),
    });
    let server = Server::start(app).await;
    let mut client = Client::connect(server.addr).await;
    assert_eq!(client.get("/ok").await.0, StatusCode::OK);
    assert_eq!(
        client.get("/fail").await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        client.get("/fail-but-always").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(client.get("/ok-but-never").await.0, StatusCode::CREATED);
    // Every emission has been handed on or skipped once its response is out; the drain
    // waits for those that run.
    let report = background.shutdown(Duration::from_secs(5)).await;
    assert_eq!(report.cancelled, 0);
    client.disconnect().await;
    server.stop().await;
    let mut tags = ran.lock().unwrap().clone();
    tags.sort();
    (tags, background.metrics())
}

#[tokio::test]
async fn on_success_is_the_default_and_runs_only_after_2xx() {
    for policy in [None, Some(RunPolicy::OnSuccess)] {
        let (tags, m) = run_policy(policy).await;
        assert_eq!(tags, ["fail, always", "ok"], "{policy:?}");
        assert_eq!((m.held, m.handed_off, m.skipped, m.finished), (5, 2, 3, 2));
    }
}

#[tokio::test]
async fn always_runs_after_any_status_unless_the_emission_says_never() {
    let (tags, m) = run_policy(Some(RunPolicy::Always)).await;
    assert_eq!(tags, ["fail", "fail, always", "fail, router", "ok"]);
    assert_eq!((m.handed_off, m.skipped), (4, 1));
}

#[tokio::test]
async fn never_skips_everything_but_what_the_emission_runs_always() {
    let (tags, m) = run_policy(Some(RunPolicy::Never)).await;
    assert_eq!(tags, ["fail, always"]);
    assert_eq!((m.handed_off, m.skipped, m.dropped), (1, 4, 0));
}

// ---- failures ----

#[derive(serde::Deserialize)]
struct Order {
    id: u64,
}

async fn boom(emitter: BackgroundEmitter, Json(order): Json<Order>) -> (StatusCode, String) {
    emitter.emit_with("Boom", order.id).unwrap();
    (StatusCode::ACCEPTED, format!("order {}", order.id))
}

#[tokio::test]
async fn a_panicking_handler_does_not_touch_the_response_and_is_reported() {
    let linker = linker();
    let (ok_tx, mut ok_rx) = mpsc::unbounded_channel();
    linker
        .on("Boom")
        .name("explodes")
        .subscribe(|id: &u64| -> u64 { panic!("order {id} exploded") })
        .unwrap();
    linker
        .on("Boom")
        .subscribe(move |id: &u64| ok_tx.send(*id).unwrap())
        .unwrap();
    let (failed_tx, mut failed) = mpsc::unbounded_channel();
    let emitter: EventEmitter = EventEmitter::builder()
        .linker(&linker)
        .detailed_reports(true)
        .build()
        .into();
    let background = Background::builder(emitter)
        .on_failure(move |failure| {
            let handlers: Vec<_> = failure
                .report
                .handlers()
                .iter()
                .map(|h| h.handler)
                .collect();
            let counts = failure.report.counts();
            failed_tx
                .send((
                    failure.event.to_string(),
                    failure.method.to_string(),
                    failure.path.to_string(),
                    counts.panicked,
                    counts.succeeded,
                    handlers,
                ))
                .unwrap();
        })
        .build();
    let app = Router::new()
        .route("/orders", post(boom))
        .layer(VentusLayer::new())
        .with_state(background.clone());
    let server = Server::start(app).await;
    let mut client = Client::connect(server.addr).await;

    let (status, body) = client.post_json("/orders", r#"{"id": 42}"#).await;
    assert_eq!((status, body.as_str()), (StatusCode::ACCEPTED, "order 42"));
    let (event, method, path, panicked, succeeded, handlers) =
        within("failure reported", failed.recv()).await.unwrap();
    assert_eq!(
        (event.as_str(), method.as_str(), path.as_str()),
        ("Boom", "POST", "/orders")
    );
    assert_eq!((panicked, succeeded), (1, 1));
    assert!(handlers.contains(&"explodes"), "{handlers:?}");
    assert_eq!(within("other handler", ok_rx.recv()).await, Some(42));

    // The server is unharmed: the same connection serves the next request.
    let (status, _) = client.post_json("/orders", r#"{"id": 43}"#).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    within("second failure", failed.recv()).await.unwrap();
    background.shutdown(Duration::from_secs(5)).await;
    let m = background.metrics();
    assert_eq!((m.finished, m.failed), (2, 2));
    client.disconnect().await;
    server.stop().await;
}

async fn mismatched(emitter: BackgroundEmitter) -> StatusCode {
    // The handler takes `u64`; this `i32` is refused by the emitter at hand-off.
    emitter.emit_with("Typed", 7_i32).unwrap();
    StatusCode::OK
}

#[tokio::test]
async fn a_run_the_emitter_refuses_is_counted_as_refused() {
    let linker = linker();
    linker.on("Typed").subscribe(|_: &u64| ()).unwrap();
    let background = Background::new(TokioEventEmitter::with_linker(&linker));
    let app = Router::new()
        .route("/", get(mismatched))
        .layer(VentusLayer::new())
        .with_state(background.clone());
    let server = Server::start(app).await;
    let mut client = Client::connect(server.addr).await;
    assert_eq!(client.get("/").await.0, StatusCode::OK);
    background.shutdown(Duration::from_secs(5)).await;
    let m = background.metrics();
    assert_eq!((m.handed_off, m.refused, m.finished), (1, 1, 0));
    client.disconnect().await;
    server.stop().await;
}

#[tokio::test]
async fn a_route_without_the_layer_is_refused_with_a_500_naming_the_fix() {
    let background = Background::new(TokioEventEmitter::with_linker(&linker()));
    let app = Router::new()
        .route("/", get(emit_slow))
        .with_state(background.clone());
    let server = Server::start(app).await;
    let mut client = Client::connect(server.addr).await;
    let (status, body) = client.get("/").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("VentusLayer"), "{body}");
    assert_eq!(background.metrics().held, 0);
    client.disconnect().await;
    server.stop().await;
}

// ---- shutdown ----

async fn emit_named(
    emitter: BackgroundEmitter,
    axum::extract::Path(event): axum::extract::Path<String>,
) -> Response {
    match emitter.emit(&event) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(err @ HoldError::Closed { .. }) => {
            (StatusCode::SERVICE_UNAVAILABLE, err.to_string()).into_response()
        }
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

#[tokio::test]
async fn shutdown_drains_until_the_deadline_cancels_the_rest_and_reports() {
    let linker = linker();
    let release = Arc::new(Notify::new());
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let (stuck_dropped_tx, mut stuck_dropped) = mpsc::unbounded_channel();
    let gate = release.clone();
    let quick_started = started_tx.clone();
    linker
        .on("Quick")
        .subscribe(move || {
            let (gate, started) = (gate.clone(), quick_started.clone());
            async move {
                started.send("quick").unwrap();
                gate.notified().await;
            }
        })
        .unwrap();
    linker
        .on("Stuck")
        .subscribe(move || {
            let guard = OnDrop(Some(stuck_dropped_tx.clone()));
            let started = started_tx.clone();
            async move {
                let _guard = guard;
                started.send("stuck").unwrap();
                std::future::pending::<()>().await;
            }
        })
        .unwrap();
    let background = Background::new(TokioEventEmitter::with_linker(&linker));
    let app = Router::new()
        .route("/{event}", post(emit_named))
        .layer(VentusLayer::new())
        .with_state(background.clone());
    let server = Server::start(app).await;
    let mut client = Client::connect(server.addr).await;
    assert_eq!(client.post_json("/Quick", "").await.0, StatusCode::OK);
    assert_eq!(client.post_json("/Stuck", "").await.0, StatusCode::OK);
    let mut names = vec![
        within("started", started.recv()).await.unwrap(),
        within("started", started.recv()).await.unwrap(),
    ];
    names.sort();
    assert_eq!(names, ["quick", "stuck"]);

    let mut shutdown = Box::pin(background.shutdown(Duration::from_millis(500)));
    assert!(
        poll_once(&mut shutdown).await.is_pending(),
        "two emissions are in flight"
    );
    assert!(background.is_closed());
    // Closed: a new emission is refused, and the handler says so.
    let (status, body) = client.post_json("/Quick", "").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    release.notify_one();
    let report = within("shutdown", shutdown).await;
    assert_eq!(
        (report.finished, report.cancelled, report.refused),
        (1, 1, 1),
        "{report:?}"
    );
    within("stuck handler dropped", stuck_dropped.recv())
        .await
        .unwrap();
    let m = background.metrics();
    assert_eq!(
        (m.finished, m.cancelled, m.refused, m.in_flight),
        (1, 1, 1, 0)
    );
    client.disconnect().await;
    server.stop().await;
}

#[tokio::test]
async fn shutdown_composes_with_axum_graceful_shutdown() {
    let linker = linker();
    let release = Arc::new(Notify::new());
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let gate = release.clone();
    linker
        .on("Slow")
        .subscribe(move || {
            let (gate, started, done) = (gate.clone(), started_tx.clone(), done_tx.clone());
            async move {
                started.send(()).unwrap();
                gate.notified().await;
                done.send(()).unwrap();
            }
        })
        .unwrap();
    let background = Background::new(TokioEventEmitter::with_linker(&linker));
    let app = Router::new()
        .route("/", get(emit_slow))
        .layer(VentusLayer::new())
        .with_state(background.clone());
    let server = Server::start(app).await;
    let mut client = Client::connect(server.addr).await;
    assert_eq!(client.get("/").await.0, StatusCode::OK);
    client.disconnect().await;
    within("handler started", started.recv()).await.unwrap();
    // The server is gone; its emission is not.
    server.stop().await;
    let mut shutdown = Box::pin(background.shutdown(Duration::from_secs(10)));
    assert!(poll_once(&mut shutdown).await.is_pending());
    release.notify_one();
    let report = within("drain", shutdown).await;
    assert_eq!((report.finished, report.cancelled), (1, 0));
    assert!(done.try_recv().is_ok());
}

// ---- load ----

async fn count(emitter: BackgroundEmitter, Json(n): Json<u32>) -> StatusCode {
    emitter.emit_with("Count", n).unwrap();
    StatusCode::CREATED
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_requests_over_sixteen_connections_lose_no_emission() {
    const REQUESTS: u32 = 1_000;
    const CONNECTIONS: u32 = 16;
    let linker = linker();
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let runs = Arc::new(AtomicUsize::new(0));
    let (set, total) = (seen.clone(), runs.clone());
    linker
        .on("Count")
        .subscribe(move |n: u32| {
            let (set, total) = (set.clone(), total.clone());
            async move {
                tokio::task::yield_now().await;
                total.fetch_add(1, Ordering::SeqCst);
                assert!(set.lock().unwrap().insert(n), "{n} ran twice");
            }
        })
        .unwrap();
    let background = Background::new(TokioEventEmitter::with_linker(&linker));
    let app = Router::new()
        .route("/count", post(count))
        .layer(VentusLayer::new())
        .with_state(background.clone());
    let server = Server::start(app).await;

    let mut clients = Vec::new();
    for c in 0..CONNECTIONS {
        let addr = server.addr;
        clients.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await;
            let mut n = c;
            while n < REQUESTS {
                let (status, _) = client.post_json("/count", &n.to_string()).await;
                assert_eq!(status, StatusCode::CREATED);
                n += CONNECTIONS;
            }
            client.disconnect().await;
        }));
    }
    for client in clients {
        within("client", client).await.unwrap();
    }
    server.stop().await;
    within("wait_for_tasks", background.wait_for_tasks()).await;
    assert_eq!(runs.load(Ordering::SeqCst), REQUESTS as usize);
    let report = background.shutdown(Duration::from_secs(30)).await;
    assert_eq!(report.cancelled, 0);
    assert_eq!(runs.load(Ordering::SeqCst), REQUESTS as usize);
    assert_eq!(seen.lock().unwrap().len(), REQUESTS as usize);
    let m = background.metrics();
    let n = u64::from(REQUESTS);
    assert_eq!(
        (m.held, m.handed_off, m.finished, m.dropped, m.skipped),
        (n, n, n, 0, 0)
    );
}

// ---- extractor ----

#[tokio::test]
async fn an_extractor_kept_past_its_request_is_refused() {
    let (kept_tx, mut kept) = mpsc::unbounded_channel();
    let background = Background::new(TokioEventEmitter::with_linker(&linker()));
    let app = Router::new()
        .route(
            "/",
            get(move |emitter: BackgroundEmitter| {
                let kept = kept_tx.clone();
                async move {
                    kept.send(emitter).unwrap();
                    "ok"
                }
            }),
        )
        .layer(VentusLayer::new())
        .with_state(background.clone());
    let server = Server::start(app).await;
    let mut client = Client::connect(server.addr).await;
    assert_eq!(client.get("/").await.0, StatusCode::OK);
    let emitter = kept.recv().await.unwrap();
    match emitter.emit("Late") {
        Err(HoldError::RequestFinished { event, payload }) => {
            assert_eq!(event, "Late");
            assert!(payload.is_none());
        }
        other => panic!("expected RequestFinished, got {other:?}"),
    }
    assert!(matches!(
        emitter.emit(""),
        Err(HoldError::EmptyEventName { payload: None })
    ));
    // The payload comes back, whatever the refusal.
    let err = emitter.emit_with("Late", vec![1_u8, 2, 3]).unwrap_err();
    assert_eq!(err.event(), "Late");
    assert!(matches!(err, HoldError::RequestFinished { .. }));
    assert_eq!(err.into_payload::<Vec<u8>>(), Some(vec![1, 2, 3]));
    let err = emitter.emit_with("", 7_u64).unwrap_err();
    assert_eq!(err.into_payload::<String>(), None, "another type");
    let err = emitter.emit_with("", 7_u64).unwrap_err();
    assert_eq!(err.into_payload::<u64>(), Some(7));
    struct Created(u32);
    impl ventus::Event for Created {}
    let err = emitter.emit_event(Created(5)).unwrap_err();
    assert_eq!(err.event(), <Created as ventus::Event>::name());
    assert_eq!(err.into_payload::<Created>().map(|c| c.0), Some(5));
    assert_eq!(background.metrics().refused, 6);
    // Once the handle is shut down, the refusal says so, and still hands the payload back.
    background.shutdown(Duration::ZERO).await;
    let err = emitter
        .emit_with("Late", String::from("order 7"))
        .unwrap_err();
    assert!(matches!(err, HoldError::Closed { .. }), "{err:?}");
    assert_eq!(err.into_payload::<String>().as_deref(), Some("order 7"));
    client.disconnect().await;
    server.stop().await;
}

#[test]
fn public_handles_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<Background>();
    send_sync::<BackgroundEmitter>();
    send_sync::<VentusLayer>();
    send_sync::<ventus_axum::VentusService<Router>>();
    send_sync::<ventus_axum::BackgroundMetrics>();
    send_sync::<ventus_axum::DrainReport>();
    send_sync::<HoldError>();
    send_sync::<ventus_axum::MissingLayer>();
    let background = Background::new(TokioEventEmitter::with_linker(&linker()));
    send(&background.shutdown(Duration::ZERO));
}

// ---- tracing ----

#[derive(Clone)]
struct Hanging {
    background: Background,
    emitted: mpsc::UnboundedSender<()>,
    dropped: mpsc::UnboundedSender<()>,
}

impl axum::extract::FromRef<Hanging> for Background {
    fn from_ref(state: &Hanging) -> Self {
        state.background.clone()
    }
}

async fn emit_and_hang(emitter: BackgroundEmitter, State(state): State<Hanging>) -> &'static str {
    let _dropped = OnDrop(Some(state.dropped.clone()));
    emitter.emit("Never").expect("held");
    state.emitted.send(()).unwrap();
    std::future::pending::<()>().await;
    "unreachable"
}

#[tokio::test]
async fn a_client_gone_before_the_response_drops_the_emissions_of_its_handler() {
    let linker = linker();
    let runs = Arc::new(AtomicUsize::new(0));
    let count = runs.clone();
    linker
        .on("Never")
        .subscribe(move || {
            count.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let background = Background::new(TokioEventEmitter::with_linker(&linker));
    let (emitted_tx, mut emitted) = mpsc::unbounded_channel();
    let (dropped_tx, mut dropped) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/", get(emit_and_hang))
        .layer(VentusLayer::new().policy(RunPolicy::Always))
        .with_state(Hanging {
            background: background.clone(),
            emitted: emitted_tx,
            dropped: dropped_tx,
        });
    let server = Server::start(app).await;
    let mut client = Client::connect(server.addr).await;
    let call = tokio::spawn(async move {
        let _ = client.send(request("GET", "/", "")).await;
    });
    within("handler emitted", emitted.recv()).await.unwrap();
    // The client goes away while the handler runs: the server drops the handler.
    call.abort();
    let _ = call.await;
    within("handler dropped by the server", dropped.recv())
        .await
        .unwrap();
    let m = background.metrics();
    assert_eq!((m.held, m.dropped, m.handed_off), (1, 1, 0), "{m:?}");
    background.shutdown(Duration::from_secs(5)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    server.stop().await;
}

async fn emit_then_panic(emitter: BackgroundEmitter) -> &'static str {
    emitter.emit("Never").expect("held");
    panic!("the handler failed before producing a response");
}

#[tokio::test]
async fn a_handler_that_panics_before_its_response_drops_its_emissions() {
    let linker = linker();
    let runs = Arc::new(AtomicUsize::new(0));
    let count = runs.clone();
    linker
        .on("Never")
        .subscribe(move || {
            count.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let background = Background::new(TokioEventEmitter::with_linker(&linker));
    let app = Router::new()
        .route("/", get(emit_then_panic))
        .layer(VentusLayer::new().policy(RunPolicy::Always))
        .with_state(background.clone());
    let server = Server::start(app).await;
    let mut client = Client::connect(server.addr).await;
    // The connection's task panics with the handler: no response comes.
    assert!(client.try_send(request("GET", "/", "")).await.is_err());
    let m = background.metrics();
    assert_eq!((m.held, m.dropped, m.handed_off), (1, 1, 0), "{m:?}");
    background.shutdown(Duration::from_secs(5)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    client.disconnect().await;
    server.stop().await;
}

#[tokio::test]
async fn with_nested_layers_the_innermost_holds_the_emissions_and_its_policy_applies() {
    let (tags, m) = {
        let linker = linker();
        let ran = Arc::new(Mutex::new(Vec::new()));
        let seen = ran.clone();
        linker
            .on("Tagged")
            .subscribe(move |tag: &String| seen.lock().unwrap().push(tag.clone()))
            .unwrap();
        let background = Background::new(TokioEventEmitter::with_linker(&linker));
        let inner: Router<Policy> = Router::new()
            .route("/fail", get(fail))
            .layer(VentusLayer::new().policy(RunPolicy::Always));
        let app = Router::new()
            .nest("/api", inner)
            .layer(VentusLayer::new().policy(RunPolicy::Never))
            .with_state(Policy {
                background: background.clone(),
            });
        let server = Server::start(app).await;
        let mut client = Client::connect(server.addr).await;
        assert_eq!(
            client.get("/api/fail").await.0,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        background.shutdown(Duration::from_secs(5)).await;
        client.disconnect().await;
        server.stop().await;
        let tags = ran.lock().unwrap().clone();
        (tags, background.metrics())
    };
    assert_eq!(tags, ["fail"]);
    assert_eq!((m.held, m.handed_off, m.skipped), (1, 1, 0));
}
