//! The broker fails: stopped (T4), killed with emits in flight (T4b), and a stream
//! at its cap (T7) — DISTRIBUTED.md.

mod support;

use support::fixture::{drained, envs, test_emitter};

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::fixture::{spawn_worker, Job};
use support::{wait, Journal, RedisServer};
use ventus_redis::{EmissionId, RedisEmitter, RemoteEmitError};

#[test]
fn fixture_worker() {
    support::fixture::maybe_run_worker();
}

/// Waits until the journal has a `done` line for every id of `ids`.
async fn handled(journal: &Journal, ids: &HashSet<String>, timeout: Duration) {
    wait::until("every Ok emission to be handled", timeout, || async {
        let done = journal.ids("done");
        let missing = ids.difference(&done).count();
        if missing == 0 {
            Ok(())
        } else {
            Err(format!("{missing} of {} not handled yet", ids.len()))
        }
    })
    .await;
}

fn strings(ids: &[EmissionId]) -> HashSet<String> {
    ids.iter().map(ToString::to_string).collect()
}

/// T4: with the broker stopped every emit fails within the timeout; after the restart
/// everything emitted before is handled by the same worker, which reconnected by
/// itself, and the emitter works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t4_a_stopped_broker_fails_every_emit_fast_and_the_worker_resumes_by_itself() {
    let mut server = RedisServer::start_with_aof();
    let journal = Journal::new();
    let emitter = test_emitter(&server.url()).await;
    // One place, taken by a long job: the jobs after it wait on the stream, so the
    // broker stops with one entry in flight and the rest not yet delivered.
    let worker = spawn_worker(&envs(&server, &journal, &[("VT_CONCURRENCY", "1")]));
    let worker_pid = worker.pid();

    let mut before = vec![emitter
        .emit_with("job", &Job::sleep(0, 1_500))
        .await
        .unwrap()];
    tokio::task::block_in_place(|| worker.wait_for_line("VT_START", Duration::from_secs(10)));
    for n in 1..=20 {
        before.push(emitter.emit_with("job", &Job::new(n, "ok")).await.unwrap());
    }
    let stats = emitter.queue_stats().await.unwrap();
    assert_eq!((stats.pending, stats.lag), (1, 20), "{stats:?}");
    tokio::task::block_in_place(|| server.stop());

    let all = Instant::now();
    let mut slowest = Duration::ZERO;
    for n in 0..100 {
        let started = Instant::now();
        let r = emitter.emit_with("job", &Job::new(1000 + n, "ok")).await;
        let took = started.elapsed();
        slowest = slowest.max(took);
        let e = r.expect_err("an emit with the broker down");
        if n == 0 {
            eprintln!("t4: the first error: {e}");
        }
        assert!(
            took < Duration::from_millis(2500),
            "emit {n} took {took:?}: {e}"
        );
    }
    eprintln!(
        "t4: 100 emits against a stopped broker in {:?}, slowest {slowest:?}",
        all.elapsed()
    );
    assert_eq!(emitter.metrics().failed, 100);

    tokio::task::block_in_place(|| server.restart());
    let restarted = Instant::now();
    let before = strings(&before);
    handled(&journal, &before, Duration::from_secs(20)).await;
    eprintln!(
        "t4: everything emitted before the stop handled {:?} after the restart",
        restarted.elapsed()
    );

    // The emitter reconnects too.
    let after = emitter
        .emit_with("job", &Job::new(2000, "ok"))
        .await
        .expect("an emit after the restart")
        .to_string();
    handled(
        &journal,
        &HashSet::from([after.clone()]),
        Duration::from_secs(20),
    )
    .await;
    drained(&emitter, Duration::from_secs(20)).await;

    assert!(worker.is_running(), "the worker was never restarted");
    assert_eq!(worker.pid(), worker_pid);
    let lines = journal.read();
    assert!(lines.iter().all(|l| l.pid == worker_pid), "{lines:?}");
    let done = journal.ids("done");
    assert!(done.is_superset(&before));
    assert!(done.contains(&after));
    // Nothing emitted while the broker was down was enqueued.
    assert_eq!(done.len(), before.len() + 1, "{done:?}");
    drop(worker);
}

/// T4b: the broker SIGKILLed while 1 000 emits are in flight. Each emit resolves; what
/// returned `Ok` is handled after the restart; no handler completes twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t4b_a_killed_broker_resolves_every_emit_and_loses_nothing_acknowledged() {
    const EMITS: usize = 1_000;
    const TASKS: usize = 10;
    const KILL_AFTER: usize = 200;
    let server = Arc::new(Mutex::new(RedisServer::start_with_aof()));
    let url = server.lock().unwrap().url();
    let journal = Journal::new();
    let emitter = test_emitter(&url).await;
    let worker = spawn_worker(&envs(&server.lock().unwrap(), &journal, &[]));

    let oks = Arc::new(AtomicUsize::new(0));
    let (kill_tx, kill_rx) = tokio::sync::oneshot::channel::<()>();
    let kill_tx = Arc::new(Mutex::new(Some(kill_tx)));
    let killer = {
        let server = server.clone();
        tokio::spawn(async move {
            kill_rx.await.unwrap();
            tokio::task::spawn_blocking(move || server.lock().unwrap().kill())
                .await
                .unwrap();
        })
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (emitter, oks, kill_tx) = (emitter.clone(), oks.clone(), kill_tx.clone());
        tasks.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for i in 0..EMITS / TASKS {
                let n = (t * EMITS / TASKS + i) as u64;
                let r = emitter.emit_with("job", &Job::new(n, "ok")).await;
                if r.is_ok() && oks.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                    if let Some(tx) = kill_tx.lock().unwrap().take() {
                        let _ = tx.send(());
                    }
                }
                results.push(r);
            }
            results
        }));
    }
    let results: Vec<Result<EmissionId, RemoteEmitError>> =
        tokio::time::timeout(Duration::from_secs(25), async {
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap());
            }
            all
        })
        .await
        .expect("every emit resolves, none hangs");
    tokio::time::timeout(Duration::from_secs(10), killer)
        .await
        .expect("the broker was killed")
        .unwrap();
    assert_eq!(results.len(), EMITS);
    let ok: Vec<EmissionId> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().copied())
        .collect();
    let errs = results.iter().filter(|r| r.is_err()).count();
    let ambiguous = results
        .iter()
        .filter(|r| r.as_ref().is_err_and(RemoteEmitError::may_be_enqueued))
        .count();
    eprintln!(
        "t4b: {} Ok, {errs} Err ({ambiguous} of them may have been enqueued), all resolved in {:?}",
        ok.len(),
        started.elapsed()
    );
    assert!(ok.len() >= KILL_AFTER, "{} Ok", ok.len());
    assert!(errs > 0, "the kill landed while emits were in flight");

    tokio::task::block_in_place(|| server.lock().unwrap().restart());
    let ok = strings(&ok);
    handled(&journal, &ok, Duration::from_secs(20)).await;
    drained(&emitter, Duration::from_secs(20)).await;

    let mut done: HashMap<String, usize> = HashMap::new();
    for l in journal.read().iter().filter(|l| l.kind == "done") {
        *done.entry(l.id.clone()).or_default() += 1;
    }
    let done_ids: HashSet<String> = done.keys().cloned().collect();
    assert!(done_ids.is_superset(&ok), "handled ⊇ Ok");
    let twice: Vec<_> = done.iter().filter(|(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "completed more than once: {twice:?}");
    assert!(worker.is_running());
    drop(worker);
}

/// T7, trimming: a cap of 100 with 1 000 emitted and no worker running reports 900
/// lost to the trim, and a worker started then handles exactly the last 100.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t7_a_capped_stream_reports_what_it_trimmed() {
    let server = RedisServer::start();
    let journal = Journal::new();
    let emitter = RedisEmitter::builder(server.url())
        .queue("test")
        .max_len(100)
        .build()
        .await
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..1_000 {
        ids.push(emitter.emit_with("job", &Job::new(n, "ok")).await.unwrap());
    }
    let stats = emitter.queue_stats().await.unwrap();
    assert_eq!(stats.lost_to_trim, 900, "{stats:?}");
    assert_eq!(stats.lag, 100, "{stats:?}");

    let worker = spawn_worker(&envs(&server, &journal, &[]));
    let last = strings(&ids[900..]);
    handled(&journal, &last, Duration::from_secs(20)).await;
    drained(&emitter, Duration::from_secs(20)).await;
    assert_eq!(journal.ids("done"), last, "exactly the last 100");
    assert_eq!(journal.ids("start"), last);
    let stats = emitter.queue_stats().await.unwrap();
    assert_eq!(stats.pending, 0);
    assert_eq!(stats.lost_to_trim, 900);
    drop(worker);
}

/// T7, strict: at the cap the emit is refused and nothing is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t7_a_strict_capped_stream_refuses_emits_at_the_cap() {
    let server = RedisServer::start();
    let emitter = RedisEmitter::builder(server.url())
        .queue("test")
        .strict(true)
        .max_len(100)
        .build()
        .await
        .unwrap();
    for n in 0..100 {
        emitter
            .emit_with("job", &Job::new(n, "ok"))
            .await
            .unwrap_or_else(|e| panic!("emit {n} below the cap: {e}"));
    }
    match emitter.emit_with("job", &Job::new(100, "ok")).await {
        Err(RemoteEmitError::Full { stream, len }) => {
            assert_eq!(stream, "ventus:{test}:s");
            assert_eq!(len, 100);
        }
        other => panic!("the 101st emit returned {other:?}"),
    }
    let stats = emitter.queue_stats().await.unwrap();
    assert_eq!(stats.lost_to_trim, 0, "{stats:?}");
    assert_eq!(stats.lag, 100, "nothing was trimmed: {stats:?}");
}
