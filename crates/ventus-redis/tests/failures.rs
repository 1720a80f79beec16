//! Failures against real Redis and worker child processes: handlers that fail or
//! abort the process, a graceful shutdown with work still running, and the dead
//! letters as an API (T2, T2b, T6, T10 of DISTRIBUTED.md).

mod support;

use support::fixture::{drained, envs, test_emitter};

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use support::fixture::{spawn_worker, Job};
use support::{wait, ChildProcess, Journal, RedisServer};
use ventus_redis::{DeadLetter, DeadLetterError, DeadLetters, EmissionId};

#[test]
fn fixture_worker() {
    support::fixture::maybe_run_worker();
}

/// The stream of the queue `test`.
const STREAM: &str = "ventus:{test}:s";
/// The signal `std::process::abort` raises, on Linux.
const SIGABRT: i32 = 6;

async fn dead_letters(url: &str) -> DeadLetters {
    DeadLetters::connect(url, "test", 1).await.unwrap()
}

/// Spawns a worker from an async test (the wait for `VT_READY` blocks).
fn worker(envs: &[(&'static str, String)]) -> ChildProcess {
    tokio::task::block_in_place(|| spawn_worker(envs))
}

/// Waits until the journal has a `done` line for `id` and returns its pid.
async fn done_by(journal: &Journal, id: &EmissionId, timeout: Duration) -> u32 {
    let id = id.to_string();
    wait::until(&format!("a completion of {id}"), timeout, || async {
        let lines = journal.read();
        lines
            .iter()
            .find(|l| l.kind == "done" && l.id == id && l.handler == "job#0")
            .map(|l| l.pid)
            .ok_or_else(|| format!("{lines:?}"))
    })
    .await
}

/// Waits until the queue has `n` dead letters and returns them.
async fn dead_letters_listed(dlq: &DeadLetters, n: usize, timeout: Duration) -> Vec<DeadLetter> {
    wait::until(&format!("{n} dead letters"), timeout, || async {
        let list = dlq.list(100).await.map_err(|e| e.to_string())?;
        if list.len() == n {
            Ok(list)
        } else {
            Err(format!("{list:?}"))
        }
    })
    .await
}

/// The attempts of the `start` lines of `id`, in journal order.
fn start_attempts(journal: &Journal, id: &EmissionId) -> Vec<u64> {
    let id = id.to_string();
    journal
        .read()
        .iter()
        .filter(|l| l.kind == "start" && l.id == id && l.handler == "job")
        .map(|l| l.attempt)
        .collect()
}

/// The emission id a dead letter's envelope carries.
fn letter_id(letter: &DeadLetter) -> String {
    letter
        .envelope
        .as_ref()
        .unwrap_or_else(|e| panic!("dead letter {} has no envelope: {e}", letter.id))
        .id()
        .hyphenated()
        .to_string()
}

/// The emission ids of the entries pending in the group, read from the server.
async fn pending_emissions(server: &RedisServer) -> Vec<String> {
    let mut conn = server
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let pending: redis::streams::StreamPendingCountReply = redis::cmd("XPENDING")
        .arg(STREAM)
        .arg("ventus")
        .arg("-")
        .arg("+")
        .arg(100)
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for p in pending.ids {
        let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(STREAM)
            .arg(&p.id)
            .arg(&p.id)
            .query_async(&mut conn)
            .await
            .unwrap();
        for e in entries.ids {
            let id: String = e.get("id").expect("an envelope id field");
            ids.push(id);
        }
    }
    ids
}

/// T2: a handler that always fails runs exactly max_deliveries times, then its entry
/// is a dead letter, and nothing runs it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t2_an_always_failing_handler_runs_max_deliveries_times_then_is_dead_lettered() {
    let server = RedisServer::start();
    let journal = Journal::new();
    let emitter = test_emitter(&server.url()).await;
    let dlq = dead_letters(&server.url()).await;
    let extra = [("VT_MAX_DELIVERIES", "3"), ("VT_BACKOFF_MS", "50")];
    let w = worker(&envs(&server, &journal, &extra));
    let id = emitter
        .emit_with("job", &Job::new(7, "fail"))
        .await
        .unwrap();

    let letters = dead_letters_listed(&dlq, 1, Duration::from_secs(15)).await;
    let letter = &letters[0];
    assert_eq!(letter.reason, "failed", "{letter:?}");
    assert_eq!(letter.attempts, 3, "{letter:?}");
    assert!(
        letter.error.contains("job 7 fails by design"),
        "the handler's error: {letter:?}"
    );
    assert_eq!(letter_id(letter), id.to_string());

    // A job that fails once is run again by the reclaimer after its backoff: once it
    // is done, reclaim passes ran after the dead letter was made, past another
    // backoff, and none of them may have run the dead-lettered job again.
    let later = emitter
        .emit_with("job", &Job::new(8, "fail_first"))
        .await
        .unwrap();
    let pid = done_by(&journal, &later, Duration::from_secs(15)).await;
    assert_eq!(pid, w.pid());
    assert_eq!(start_attempts(&journal, &later), vec![1, 2]);
    drained(&emitter, Duration::from_secs(10)).await;

    assert_eq!(
        start_attempts(&journal, &id),
        vec![1, 2, 3],
        "exactly 3 attempts, no 4th: {:?}",
        journal.read()
    );
    assert_eq!(journal.count("done", &id.to_string(), "job#0"), 0);
    let stats = emitter.queue_stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead_letters), (0, 1), "{stats:?}");
    assert_eq!(dlq.list(100).await.unwrap().len(), 1);
    assert!(w.is_running());
}

/// T2b: a handler that aborts its process; the test restarts workers as a supervisor
/// would. After max_deliveries crashes the entry is a dead letter and the next worker
/// stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t2b_a_process_aborting_handler_ends_in_the_dead_letters_without_a_crash_loop() {
    const MAX_DELIVERIES: usize = 3;
    let server = RedisServer::start();
    let journal = Journal::new();
    let emitter = test_emitter(&server.url()).await;
    let dlq = dead_letters(&server.url()).await;
    let max = MAX_DELIVERIES.to_string();
    let extra = [
        ("VT_MAX_DELIVERIES", max.as_str()),
        ("VT_VISIBILITY_MS", "500"),
        ("VT_RECLAIM_MS", "100"),
    ];
    let env = envs(&server, &journal, &extra);
    let id = emitter
        .emit_with("job", &Job::new(3, "abort"))
        .await
        .unwrap();

    let mut current = worker(&env);
    let mut crashes = Vec::new();
    loop {
        // Either the current worker exits or the entry becomes a dead letter.
        let exited = wait::until(
            "the worker to exit or the entry to be dead-lettered",
            Duration::from_secs(10),
            || async {
                if let Some(status) = current.wait(Duration::ZERO) {
                    return Ok(Some(status));
                }
                let s = emitter.queue_stats().await.map_err(|e| e.to_string())?;
                if s.dead_letters > 0 {
                    Ok(None)
                } else {
                    Err(format!("worker {} running; {s:?}", current.pid()))
                }
            },
        )
        .await;
        let Some(status) = exited else { break };
        assert_eq!(
            status.signal(),
            Some(SIGABRT),
            "the worker aborted: {status}"
        );
        crashes.push(current.pid());
        assert!(
            crashes.len() <= MAX_DELIVERIES + 2,
            "crash loop: {} restarts; journal {:?}",
            crashes.len(),
            journal.read()
        );
        current = worker(&env);
    }

    assert_eq!(crashes.len(), MAX_DELIVERIES, "crashes: {crashes:?}");
    assert_eq!(
        start_attempts(&journal, &id),
        vec![1, 2, 3],
        "{:?}",
        journal.read()
    );
    let letters = dlq.list(100).await.unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].reason, "max-deliveries", "{letters:?}");
    assert_eq!(letters[0].attempts, 3, "{letters:?}");
    assert_eq!(letter_id(&letters[0]), id.to_string());

    // No crash loop: the worker that dead-lettered the entry stays up and works.
    let ok = emitter.emit_with("job", &Job::new(4, "ok")).await.unwrap();
    let pid = done_by(&journal, &ok, Duration::from_secs(10)).await;
    assert_eq!(pid, current.pid());
    assert!(current.is_running(), "the last worker is still up");
    drained(&emitter, Duration::from_secs(10)).await;
    assert_eq!(start_attempts(&journal, &id).len(), 3, "no 4th start");
    assert_eq!(emitter.queue_stats().await.unwrap().dead_letters, 1);
}

/// T6: SIGTERM while a short and a long handler run: the short one finishes and is
/// acked before the worker exits; only the long one stays pending and is redelivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t6_sigterm_acks_the_short_handler_and_leaves_only_the_long_one_pending() {
    let server = RedisServer::start();
    let journal = Journal::new();
    let emitter = test_emitter(&server.url()).await;
    let a = worker(&envs(&server, &journal, &[("VT_SHUTDOWN_MS", "1500")]));

    // The long one first, so that the short one starts just before the SIGTERM.
    let long = emitter
        .emit_with("job", &Job::new(1, "hang_first"))
        .await
        .unwrap();
    let line = tokio::task::block_in_place(|| a.wait_for_line("VT_START", Duration::from_secs(10)));
    assert!(line.contains(&long.to_string()), "{line}");
    let short = emitter.emit_with("job", &Job::sleep(2, 300)).await.unwrap();
    let line = tokio::task::block_in_place(|| a.wait_for_line("VT_START", Duration::from_secs(10)));
    assert!(line.contains(&short.to_string()), "{line}");

    a.terminate();
    let report =
        tokio::task::block_in_place(|| a.wait_for_line("VT_REPORT", Duration::from_secs(10)));
    let status = tokio::task::block_in_place(|| a.wait(Duration::from_secs(10)))
        .expect("the worker exits by itself after SIGTERM");
    assert!(status.success(), "{status}");
    assert!(report.contains("left=1"), "{report}");
    assert!(report.contains("acked=1"), "{report}");

    // Right after the exit: the short one is done and acked, the long one pending.
    let done: Vec<_> = journal
        .read()
        .into_iter()
        .filter(|l| l.kind == "done")
        .collect();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0].id, short.to_string());
    assert_eq!(done[0].pid, a.pid());
    assert_eq!(emitter.queue_stats().await.unwrap().pending, 1);
    assert_eq!(pending_emissions(&server).await, vec![long.to_string()]);

    let b = worker(&envs(&server, &journal, &[]));
    drained(&emitter, Duration::from_secs(20)).await;
    assert_eq!(
        start_attempts(&journal, &short),
        vec![1],
        "{:?}",
        journal.read()
    );
    assert_eq!(
        start_attempts(&journal, &long),
        vec![1, 2],
        "{:?}",
        journal.read()
    );
    assert_eq!(done_by(&journal, &long, Duration::ZERO).await, b.pid());
    assert_eq!(journal.count("done", &short.to_string(), "job#0"), 1);
    assert_eq!(journal.count("done", &long.to_string(), "job#0"), 1);
    let stats = emitter.queue_stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead_letters), (0, 0), "{stats:?}");
}

/// T10: dead letters listed, shown, replayed (the entry runs once more and is acked)
/// and discarded; unknown ids and queues are errors that say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t10_a_replayed_dead_letter_runs_once_more_and_a_discarded_one_is_gone() {
    let server = RedisServer::start();
    let journal = Journal::new();
    let emitter = test_emitter(&server.url()).await;
    let dlq = dead_letters(&server.url()).await;

    // Before anything made the queue's stream, its dead letters are unknown.
    let missing = DeadLetters::connect(&server.url(), "nosuch", 1)
        .await
        .unwrap();
    assert!(
        matches!(missing.list(10).await, Err(DeadLetterError::UnknownQueue(ref q)) if q == "nosuch"),
        "{:?}",
        missing.list(10).await
    );

    let a = worker(&envs(&server, &journal, &[("VT_MAX_DELIVERIES", "1")]));
    let first = emitter
        .emit_with("job", &Job::new(1, "fail_unless_env"))
        .await
        .unwrap();
    let second = emitter
        .emit_with("job", &Job::new(2, "fail_unless_env"))
        .await
        .unwrap();
    let letters = dead_letters_listed(&dlq, 2, Duration::from_secs(15)).await;
    a.terminate();
    let status = tokio::task::block_in_place(|| a.wait(Duration::from_secs(10)))
        .expect("the first worker exits after SIGTERM");
    assert!(status.success(), "{status}");
    assert_eq!(start_attempts(&journal, &first), vec![1]);
    assert_eq!(start_attempts(&journal, &second), vec![1]);

    let by_id = |id: &EmissionId| {
        letters
            .iter()
            .find(|l| letter_id(l) == id.to_string())
            .unwrap_or_else(|| panic!("no dead letter for {id}: {letters:?}"))
            .clone()
    };
    let (l1, l2) = (by_id(&first), by_id(&second));
    assert_ne!(l1.id, l2.id);
    for l in [&l1, &l2] {
        assert_eq!((l.reason.as_str(), l.attempts), ("failed", 1), "{l:?}");
    }

    // show: the decoded envelope, with the emission's id, event and payload.
    let shown = dlq.show(&l1.id).await.unwrap();
    assert_eq!(shown.id, l1.id);
    assert_eq!(letter_id(&shown), first.to_string());
    assert_eq!(shown.envelope.as_ref().unwrap().event(), "job");
    let payload: Job = serde_json::from_slice(shown.envelope.as_ref().unwrap().payload()).unwrap();
    assert_eq!((payload.n, payload.mode.as_str()), (1, "fail_unless_env"));
    assert!(
        shown.error.contains("job 1 fails until VT_HEAL=1"),
        "{shown:?}"
    );

    // replay, onto a worker whose handler now succeeds.
    let b = worker(&envs(&server, &journal, &[("VT_HEAL", "1")]));
    let entry = dlq.replay(&l1.id).await.unwrap();
    assert_ne!(entry, l1.entry, "a new stream entry");
    let pid = done_by(&journal, &first, Duration::from_secs(15)).await;
    assert_eq!(pid, b.pid());
    drained(&emitter, Duration::from_secs(10)).await;
    assert_eq!(
        start_attempts(&journal, &first),
        vec![1, 1],
        "one more start, the first delivery of the new entry: {:?}",
        journal.read()
    );
    assert_eq!(journal.count("done", &first.to_string(), "job#0"), 1);
    assert_eq!(start_attempts(&journal, &second), vec![1], "not replayed");
    let left = dlq.list(100).await.unwrap();
    assert_eq!(
        left.iter().map(|l| l.id.clone()).collect::<Vec<_>>(),
        vec![l2.id.clone()],
        "only the other one is left"
    );
    assert!(matches!(
        dlq.show(&l1.id).await,
        Err(DeadLetterError::NotFound(_))
    ));

    // discard.
    dlq.discard(&l2.id).await.unwrap();
    assert!(dlq.list(100).await.unwrap().is_empty());
    assert!(matches!(
        dlq.show(&l2.id).await,
        Err(DeadLetterError::NotFound(_))
    ));
    assert!(matches!(
        dlq.discard(&l2.id).await,
        Err(DeadLetterError::NotFound(_))
    ));
    assert!(matches!(
        dlq.replay(&l2.id).await,
        Err(DeadLetterError::NotFound(_))
    ));
    assert_eq!(
        start_attempts(&journal, &second),
        vec![1],
        "discarded, never run"
    );

    // Unknown ids, well-formed or not.
    for unknown in ["1-0", "99999999999999-7", "not-an-id"] {
        assert!(
            matches!(dlq.show(unknown).await, Err(DeadLetterError::NotFound(ref i)) if i == unknown),
            "show {unknown}"
        );
        assert!(
            matches!(dlq.replay(unknown).await, Err(DeadLetterError::NotFound(ref i)) if i == unknown),
            "replay {unknown}"
        );
        assert!(
            matches!(dlq.discard(unknown).await, Err(DeadLetterError::NotFound(ref i)) if i == unknown),
            "discard {unknown}"
        );
    }
    let stats = emitter.queue_stats().await.unwrap();
    assert_eq!((stats.pending, stats.dead_letters), (0, 0), "{stats:?}");
    assert!(b.is_running());
}
