//! Held emissions go through the application's emitter and its processor: a thread
//! pool's workers run them, a submission-ordered emitter keeps their order, a bound
//! refuses what does not fit, the emitter's own counts see them, and shutdown is bounded.

mod support;

use std::future::IntoFuture;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use tokio::sync::{mpsc, Notify};
use ventus::{EventEmitter, EventLinker, Overflow, ThreadPoolEventEmitter, TokioEventEmitter};
use ventus_axum::{Background, BackgroundEmitter, VentusLayer};

use support::{poll_once, within, Client, Server};

fn linker() -> EventLinker {
    EventLinker::builder().build().expect("linker")
}

async fn job(emitter: BackgroundEmitter, Json(n): Json<u32>) -> StatusCode {
    match emitter.emit_with("Job", n) {
        Ok(()) => StatusCode::ACCEPTED,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Links a `Job` handler that signals `started` and then waits for `release`.
fn gated_job(linker: &EventLinker) -> (Arc<Notify>, mpsc::UnboundedReceiver<()>) {
    let release = Arc::new(Notify::new());
    let (started_tx, started) = mpsc::unbounded_channel();
    let gate = release.clone();
    linker
        .on("Job")
        .subscribe(move |_: u32| {
            let (gate, started) = (gate.clone(), started_tx.clone());
            async move {
                started.send(()).unwrap();
                gate.notified().await;
            }
        })
        .unwrap();
    (release, started)
}

fn app(background: &Background) -> Router {
    Router::new()
        .route("/job", post(job))
        .layer(VentusLayer::new())
        .with_state(background.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_pool_emitter_runs_held_emissions_on_its_workers() {
    let linker = linker();
    let threads = Arc::new(Mutex::new(Vec::new()));
    let seen = threads.clone();
    linker
        .on("Job")
        .subscribe(move |n: &u32| {
            let name = std::thread::current().name().map(str::to_owned);
            seen.lock().unwrap().push((*n, name));
        })
        .unwrap();
    let pool = ThreadPoolEventEmitter::with_linker(&linker, 2);
    let background = Background::new(pool);
    let server = Server::start(app(&background)).await;
    let mut client = Client::connect(server.addr).await;
    for n in 0..20 {
        assert_eq!(
            client.post_json("/job", &n.to_string()).await.0,
            StatusCode::ACCEPTED
        );
    }
    within("drain", background.wait_for_tasks()).await;
    client.disconnect().await;
    server.stop().await;

    let threads = threads.lock().unwrap();
    assert_eq!(threads.len(), 20);
    for (n, name) in threads.iter() {
        let name = name.as_deref().unwrap_or("");
        assert!(
            name.starts_with("ventus-worker-"),
            "emission {n} ran on `{name}`, not on a worker of the pool"
        );
    }
    assert_eq!(background.metrics().finished, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_ordered_emitter_runs_them_in_hand_off_order() {
    let linker = linker();
    let order = Arc::new(Mutex::new(Vec::new()));
    let seen = order.clone();
    linker
        .on("Job")
        .subscribe(move |n: u32| {
            let seen = seen.clone();
            async move {
                // Each one takes a while: without the order, later ones would overtake.
                tokio::task::yield_now().await;
                seen.lock().unwrap().push(n);
            }
        })
        .unwrap();
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .submission_order(true)
        .build();
    let background = Background::new(emitter);
    let server = Server::start(app(&background)).await;
    let mut client = Client::connect(server.addr).await;
    // One connection, one request after the other: hand-off order is request order.
    for n in 0..50 {
        client.post_json("/job", &n.to_string()).await;
    }
    within("drain", background.wait_for_tasks()).await;
    client.disconnect().await;
    server.stop().await;
    assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_emitters_own_counts_see_held_emissions() {
    let linker = linker();
    let (release, mut started) = gated_job(&linker);
    let emitter = TokioEventEmitter::with_linker(&linker);
    let background = Background::new(emitter.clone());
    let server = Server::start(app(&background)).await;
    let mut client = Client::connect(server.addr).await;
    assert_eq!(client.post_json("/job", "1").await.0, StatusCode::ACCEPTED);
    within("started", started.recv()).await.unwrap();

    assert_eq!(emitter.metrics().in_flight, 1, "the emitter counts it");
    let mut drained = Box::pin(emitter.wait_for_tasks());
    assert!(poll_once(&mut drained).await.is_pending());
    release.notify_one();
    within("the emitter's wait", drained).await;
    within("the background's wait", background.wait_for_tasks()).await;
    assert_eq!(background.metrics().finished, 1);
    client.disconnect().await;
    server.stop().await;
}

#[tokio::test]
async fn a_full_bounded_emitter_refuses_at_hand_off_and_the_refusal_is_counted() {
    let linker = linker();
    let (release, mut started) = gated_job(&linker);
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .max_in_flight(1, Overflow::Reject)
        .build();
    let background = Background::new(emitter);
    let server = Server::start(app(&background)).await;
    let mut client = Client::connect(server.addr).await;
    assert_eq!(client.post_json("/job", "1").await.0, StatusCode::ACCEPTED);
    within("started", started.recv()).await.unwrap();
    // Held with the request and refused at hand-off: the bound is full. The response
    // was produced already; the refusal is counted, not silent.
    assert_eq!(client.post_json("/job", "2").await.0, StatusCode::ACCEPTED);
    let m = background.metrics();
    assert_eq!((m.held, m.handed_off, m.refused), (2, 2, 1));
    release.notify_one();
    within("drain", background.wait_for_tasks()).await;
    assert_eq!(background.metrics().finished, 1);
    client.disconnect().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_returns_by_its_bound_when_a_cancelled_emission_waits_for_its_turn() {
    let linker = linker();
    let release = Arc::new(Notify::new());
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let gate = release.clone();
    linker
        .on("Long")
        .subscribe(move || {
            let (gate, started) = (gate.clone(), started_tx.clone());
            async move {
                started.send(()).unwrap();
                gate.notified().await;
            }
        })
        .unwrap();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let seen = ran.clone();
    linker
        .on("Job")
        .subscribe(move |n: &u32| seen.lock().unwrap().push(*n))
        .unwrap();
    let emitter = EventEmitter::builder()
        .linker(&linker)
        .submission_order(true)
        .build();
    // The application's own emission, ahead of the request's in the emitter's order.
    let long = emitter.emit("Long").unwrap();
    within("long started", started.recv()).await.unwrap();
    let background = Background::new(emitter.clone());
    let server = Server::start(app(&background)).await;
    let mut client = Client::connect(server.addr).await;
    assert_eq!(client.post_json("/job", "7").await.0, StatusCode::ACCEPTED);
    client.disconnect().await;
    server.stop().await;

    // Bounded: 50 ms, then at most a second for the cancelled emission to end. It cannot:
    // it waits behind `Long`.
    let report = within("shutdown", background.shutdown(Duration::from_millis(50))).await;
    assert_eq!(
        (report.finished, report.cancelled, report.abandoned),
        (0, 0, 1)
    );
    release.notify_one();
    assert_eq!(
        within("long", long.into_future()).await.counts().succeeded,
        1
    );
    within("drain", background.wait_for_tasks()).await;
    assert_eq!(
        background.metrics().cancelled,
        1,
        "it ended cancelled at its turn"
    );
    assert!(ran.lock().unwrap().is_empty(), "and started no handler");
}
