//! H1, H2 (`--axum`): an axum handler that emits one event through ventus-axum, against
//! the same handler without ventus.
//!
//! Three servers on loopback ports of one 2-worker multi-thread runtime: the ventus app
//! (`BackgroundEmitter` extractor, `VentusLayer`, one `emit_with("Hit", 1_u64)` per
//! request, whose sync handler adds to a counter after the response); the inline floor
//! (no layer, no extractor; the handler adds to the counter itself, before the response:
//! the least such a handler can cost); and the spawn floor (the handler `tokio::spawn`s
//! the addition, what axum code does today to run work after answering). A round sends N
//! requests over C keep-alive HTTP/1 connections of a hyper client on the same runtime,
//! each connection one request after the other, and measures the round's wall time
//! (H1, H1s: ns per request, the inverse of requests/s) and the 99th percentile of the
//! requests' latencies (H2, H2s). Rounds rotate which server goes first; the first round
//! is a warm-up. After every round the server's counter must have grown by exactly N
//! (after `Background::wait_for_tasks` for ventus, and once the spawned tasks ran for the
//! spawn floor).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use ventus::{EventLinker, TokioEventEmitter};
use ventus_axum::{Background, BackgroundEmitter, VentusLayer};

use crate::harness::{fail, failure_count, leak_counter, median, Samples, Settings};
use crate::report::{Row, Target};

/// Connections of the client.
const CONNECTIONS: usize = 8;

async fn hit(emitter: BackgroundEmitter) -> &'static str {
    if emitter.emit_with("Hit", 1_u64).is_err() {
        fail("H: an emission was refused");
    }
    "ok"
}

async fn hit_spawn(State(count): State<&'static AtomicU64>) -> &'static str {
    tokio::spawn(async move {
        count.fetch_add(1, Ordering::Relaxed);
    });
    "ok"
}

async fn hit_floor(State(count): State<&'static AtomicU64>) -> &'static str {
    count.fetch_add(1, Ordering::Relaxed);
    "ok"
}

async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// One round: `n` GETs over [`CONNECTIONS`] connections. Returns (ns per request, p99
/// latency in ns).
async fn round(addr: SocketAddr, n: usize) -> (f64, f64) {
    let mut senders = Vec::with_capacity(CONNECTIONS);
    let mut conns = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        conns.push(tokio::spawn(async move {
            let _ = conn.await;
        }));
        senders.push(sender);
    }
    let started = Instant::now();
    let mut clients = Vec::with_capacity(CONNECTIONS);
    for (c, mut sender) in senders.into_iter().enumerate() {
        let share = n / CONNECTIONS + usize::from(c < n % CONNECTIONS);
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for _ in 0..share {
                let t = Instant::now();
                let request = hyper::Request::get("/hit")
                    .header("host", "127.0.0.1")
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                let ok = match sender.ready().await {
                    Ok(()) => match sender.send_request(request).await {
                        Ok(response) => {
                            let status = response.status();
                            response.into_body().collect().await.is_ok() && status.is_success()
                        }
                        Err(_) => false,
                    },
                    Err(_) => false,
                };
                if !ok {
                    fail("H: a request failed");
                }
                latencies.push(t.elapsed().as_nanos() as f64);
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(n);
    for client in clients {
        latencies.extend(client.await.expect("client task"));
    }
    let elapsed = started.elapsed();
    for conn in conns {
        conn.abort();
    }
    latencies.sort_by(f64::total_cmp);
    let p99 = latencies
        .get((latencies.len() * 99 / 100).min(latencies.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN);
    (elapsed.as_nanos() as f64 / n as f64, p99)
}

/// Waits, outside the timing, until `counter` has grown by `n` since `before` (the floor
/// whose handler spawns its work answers before that work ran), for a bounded number of
/// yields; the round's check then fails if it has not.
async fn settle(counter: &AtomicU64, before: u64, n: usize) {
    for _ in 0..1_000_000 {
        if counter.load(Ordering::Relaxed) - before >= n as u64 {
            return;
        }
        tokio::task::yield_now().await;
    }
}

/// The three servers of a round.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Ventus,
    Inline,
    Spawn,
}

/// H1, H2 against the inline floor; H1s, H2s against the spawning floor.
pub(crate) fn rows(s: &Settings) -> Vec<Row> {
    let failures_before = failure_count();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let n = if s.quick { 800 } else { 16_000 };
    let (tp, tp_spawn, p99, p99_spawn) = runtime.block_on(async {
        let linker = EventLinker::builder().build().expect("linker");
        let ventus_count = leak_counter();
        linker
            .on("Hit")
            .subscribe(move |k: &u64| {
                ventus_count.fetch_add(*k, Ordering::Relaxed);
            })
            .expect("subscribe");
        let background = Background::new(TokioEventEmitter::with_linker(&linker));
        let ventus_app = Router::new()
            .route("/hit", get(hit))
            .layer(VentusLayer::new())
            .with_state(background.clone());
        let inline_count = leak_counter();
        let inline_app = Router::new()
            .route("/hit", get(hit_floor))
            .with_state(inline_count);
        let spawn_count = leak_counter();
        let spawn_app = Router::new()
            .route("/hit", get(hit_spawn))
            .with_state(spawn_count);
        let sides = [
            (
                Side::Ventus,
                serve(ventus_app).await,
                ventus_count,
                "ventus",
            ),
            (
                Side::Inline,
                serve(inline_app).await,
                inline_count,
                "inline floor",
            ),
            (
                Side::Spawn,
                serve(spawn_app).await,
                spawn_count,
                "spawn floor",
            ),
        ];

        let mut tp = Samples::default();
        let mut tp_spawn = Samples::default();
        let mut p99 = Samples::default();
        let mut p99_spawn = Samples::default();
        // Round 0 is a warm-up, checked like the others and not kept.
        for r in 0..=s.rounds {
            for k in 0..sides.len() {
                let (side, addr, counter, what) = sides[(r + k) % sides.len()];
                let before = counter.load(Ordering::Relaxed);
                let (ns, tail) = round(addr, n).await;
                match side {
                    Side::Ventus => background.wait_for_tasks().await,
                    Side::Spawn => settle(counter, before, n).await,
                    Side::Inline => {}
                }
                let ran = counter.load(Ordering::Relaxed) - before;
                if ran != n as u64 {
                    fail(format!("H ({what}): {ran} handler runs for {n} requests"));
                }
                if r == 0 {
                    continue;
                }
                match side {
                    Side::Ventus => {
                        tp.ventus.push(ns);
                        p99.ventus.push(tail);
                    }
                    Side::Inline => {
                        tp.floor.push(ns);
                        p99.floor.push(tail);
                    }
                    Side::Spawn => {
                        tp_spawn.floor.push(ns);
                        p99_spawn.floor.push(tail);
                    }
                }
            }
        }
        tp_spawn.ventus = tp.ventus.clone();
        p99_spawn.ventus = p99.ventus.clone();
        let report = background.shutdown(Duration::from_secs(10)).await;
        if report.cancelled != 0 {
            fail(format!(
                "H: {} emissions cancelled at shutdown",
                report.cancelled
            ));
        }
        let m = background.metrics();
        if m.skipped + m.dropped + m.refused + m.failed != 0 {
            fail(format!("H: emissions lost or failed: {m:?}"));
        }
        (tp, tp_spawn, p99, p99_spawn)
    });
    let valid = failure_count() == failures_before;
    let param = format!("1 event/request, {CONNECTIONS} conns, N={n}");
    let inline = "axum handler doing the work inline, no ventus";
    let spawn = "axum handler tokio::spawn-ing the work, no ventus";
    let rps = |ns: f64| 1e9 / ns;
    let per_request = |samples: &Samples| {
        format!(
            "ns per request (requests/s: ventus {:.0}, floor {:.0}); loopback hyper client on the same 2-worker runtime",
            rps(median(&samples.ventus)),
            rps(median(&samples.floor))
        )
    };
    let tail = "p99 latency of one request (per round, median over rounds)";
    let mut rows = vec![
        Row::timing("H1", param.clone(), &tp, inline, Target::RatioAtMost(1.1))
            .note(per_request(&tp)),
        Row::timing("H1s", param.clone(), &tp_spawn, spawn, Target::None)
            .note(per_request(&tp_spawn)),
        Row::timing("H2", param.clone(), &p99, inline, Target::None).note(tail),
        Row::timing("H2s", param, &p99_spawn, spawn, Target::None).note(tail),
    ];
    for row in &mut rows {
        row.valid = valid;
    }
    rows
}
