//! Delivery against real Redis: the worker in this process, and workers as child
//! processes that are killed (T1, T5, T8, T9 of DISTRIBUTED.md).

mod support;

use support::fixture::{drained, envs, test_emitter};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::fixture::{spawn_worker, Job};
use support::{Journal, RedisServer};
use ventus_redis::{Delivery, Worker};

#[test]
fn fixture_worker() {
    support::fixture::maybe_run_worker();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_in_this_process_runs_each_emission_once_with_its_payload() {
    let server = RedisServer::start();
    let emitter = test_emitter(&server.url()).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let linker = ventus::EventLinker::builder().build().unwrap();
    let s = seen.clone();
    linker
        .on("job")
        .subscribe(move |job: &Job| {
            let d = Delivery::current().expect("on a worker");
            s.lock().unwrap().push((job.n, d.attempt(), d.id()));
        })
        .unwrap();
    let worker = Worker::builder(server.url())
        .linker(&linker)
        .queue("test")
        .decode::<Job>("job")
        .build()
        .await
        .unwrap();
    let handle = worker.handle();
    let run = tokio::spawn(worker.run_until(std::future::pending()));
    let mut ids = Vec::new();
    for n in 0..50 {
        ids.push(emitter.emit_with("job", &Job::new(n, "ok")).await.unwrap());
    }
    let mut batch = emitter.batch();
    for n in 50..100 {
        ids.push(batch.add("job", &Job::new(n, "ok")).unwrap());
    }
    batch.send().await.unwrap();
    drained(&emitter, Duration::from_secs(20)).await;
    handle.shutdown();
    let report = run.await.unwrap();
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen.iter().map(|s| s.0).collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>()
    );
    assert!(seen.iter().all(|s| s.1 == 1), "every first delivery ran");
    let mut got: Vec<_> = seen.iter().map(|s| s.2).collect();
    got.sort();
    ids.sort();
    assert_eq!(got, ids, "handlers see the ids emit returned");
    assert_eq!(report.metrics.acked, 100);
    assert_eq!(report.metrics.handled, 100);
    assert!(report.left_pending.is_empty());
}

/// T1: a worker SIGKILLed mid-handler; another worker takes the entry over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t1_a_killed_workers_entry_is_redelivered_and_completes_once() {
    let server = RedisServer::start();
    let journal = Journal::new();
    let emitter = test_emitter(&server.url()).await;
    let a = spawn_worker(&envs(&server, &journal, &[]));
    let id = emitter
        .emit_with("job", &Job::new(1, "hang_first"))
        .await
        .unwrap();
    let line = tokio::task::block_in_place(|| a.wait_for_line("VT_START", Duration::from_secs(10)));
    assert!(line.contains(&id.to_string()), "{line}");
    a.kill();
    let b = spawn_worker(&envs(&server, &journal, &[]));
    drained(&emitter, Duration::from_secs(20)).await;
    let id = id.to_string();
    assert_eq!(
        journal.count("start", &id, "job"),
        2,
        "{:?}",
        journal.read()
    );
    assert_eq!(
        journal.count("done", &id, "job#0"),
        1,
        "{:?}",
        journal.read()
    );
    let stats = emitter.queue_stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead_letters), (0, 0));
    drop(b);
}

/// T5: 4 worker processes, 2 emitters, 10 000 emissions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t5_four_workers_two_emitters_ten_thousand_emissions_no_loss_no_duplicates() {
    let server = RedisServer::start();
    let journal = Journal::new();
    let e1 = test_emitter(&server.url()).await;
    let e2 = test_emitter(&server.url()).await;
    let workers: Vec<_> = (0..4)
        .map(|_| spawn_worker(&envs(&server, &journal, &[])))
        .collect();
    let mut tasks = Vec::new();
    for (k, e) in [e1.clone(), e2.clone()].into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for chunk in 0..50 {
                let mut batch = e.batch();
                for i in 0..100 {
                    let n = (k * 5000 + chunk * 100 + i) as u64;
                    ids.push(batch.add("job", &Job::new(n, "ok")).unwrap());
                }
                batch.send().await.unwrap();
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.extend(t.await.unwrap());
    }
    assert_eq!(ids.len(), 10_000);
    drained(&e1, Duration::from_secs(60)).await;
    let lines = journal.read();
    let mut done: HashMap<String, usize> = HashMap::new();
    let mut pids = std::collections::HashSet::new();
    for l in lines.iter().filter(|l| l.kind == "done") {
        *done.entry(l.id.clone()).or_default() += 1;
        pids.insert(l.pid);
    }
    let expected: std::collections::HashSet<String> = ids.iter().map(|i| i.to_string()).collect();
    let got: std::collections::HashSet<String> = done.keys().cloned().collect();
    assert_eq!(got.len(), 10_000, "distinct ids handled");
    assert_eq!(got, expected, "0 missing");
    assert!(done.values().all(|&n| n == 1), "0 duplicates");
    assert!(pids.len() >= 2, "the work was shared: {pids:?}");
    assert_eq!(e1.queue_stats().await.unwrap().pending, 0);
    drop(workers);
}

/// T8: a worker restarted under a new name; its old pending entries are handled once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t8_a_restarted_worker_handles_its_old_pending_entries_once() {
    let server = RedisServer::start();
    let journal = Journal::new();
    let emitter = test_emitter(&server.url()).await;
    let a = spawn_worker(&envs(&server, &journal, &[("VT_CONCURRENCY", "4")]));
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(
            emitter
                .emit_with("job", &Job::new(n, "hang_first"))
                .await
                .unwrap(),
        );
    }
    tokio::task::block_in_place(|| {
        for _ in 0..4 {
            a.wait_for_line("VT_START", Duration::from_secs(10));
        }
    });
    a.kill();
    assert_eq!(emitter.queue_stats().await.unwrap().pending, 4);
    let b = spawn_worker(&envs(&server, &journal, &[]));
    drained(&emitter, Duration::from_secs(20)).await;
    for id in &ids {
        let id = id.to_string();
        assert_eq!(
            journal.count("done", &id, "job#0"),
            1,
            "{:?}",
            journal.read()
        );
        assert_eq!(journal.count("start", &id, "job"), 2);
    }
    drop(b);
}

/// T9: a handler longer than the visibility; with the lease it starts once, without it
/// the duplicate start is deduped to one completion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t9_a_long_handler_keeps_its_lease_and_without_it_completes_once() {
    for (lease, starts) in [("1", 1), ("0", 2)] {
        let server = RedisServer::start();
        let journal = Journal::new();
        let emitter = test_emitter(&server.url()).await;
        let extra = [("VT_LEASE", lease), ("VT_VISIBILITY_MS", "600")];
        let a = spawn_worker(&envs(&server, &journal, &extra));
        let b = spawn_worker(&envs(&server, &journal, &extra));
        let id = emitter
            .emit_with("job", &Job::sleep(1, 2_000))
            .await
            .unwrap();
        drained(&emitter, Duration::from_secs(20)).await;
        let id = id.to_string();
        assert_eq!(
            journal.count("start", &id, "job"),
            starts,
            "lease {lease}: {:?}",
            journal.read()
        );
        assert_eq!(journal.count("done", &id, "job#0"), 1, "lease {lease}");
        drop((a, b));
    }
}
