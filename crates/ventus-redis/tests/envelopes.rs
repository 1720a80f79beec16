//! Signed envelopes against a real worker process: tampered, unsigned, unknown-key
//! and stale entries never reach a handler and land in the dead letters with their
//! reason (T3 of DISTRIBUTED.md), and the published test vector.

mod support;

use support::fixture::{drained, envs};

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use support::fixture::{spawn_worker, Job};
use support::{wait, Journal, RedisServer};
use uuid::Uuid;
use ventus_redis::{DeadLetters, Envelope, Keyring, RedisEmitter};

#[test]
fn fixture_worker() {
    support::fixture::maybe_run_worker();
}

const SECRET: &[u8; 32] = b"t3-signing-secret-0123456789abcd";
const OTHER_SECRET: &[u8; 32] = b"t3-another-secret-0123456789abcd";
const STREAM: &str = "ventus:{test}:s";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn job_json(n: u64) -> Vec<u8> {
    serde_json::to_vec(&Job::new(n, "ok")).unwrap()
}

/// A `job` envelope signed with `keyring` (unsigned if it has no keys).
fn envelope(event: &str, ts_ms: u64, payload: Vec<u8>, keyring: &Keyring) -> Envelope {
    let mut e = Envelope::new(
        Uuid::now_v7(),
        event,
        ts_ms,
        "application/json",
        payload,
        None,
    );
    e.sign(keyring);
    e
}

/// XADDs `fields` to the test queue's stream, as a hostile or broken producer would.
async fn xadd(conn: &mut redis::aio::MultiplexedConnection, fields: &[(&'static str, Vec<u8>)]) {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(STREAM).arg("*");
    for (k, v) in fields {
        cmd.arg(*k).arg(&v[..]);
    }
    let _: String = cmd.query_async(conn).await.unwrap();
}

fn set(fields: &mut [(&'static str, Vec<u8>)], name: &str, value: Vec<u8>) {
    let f = fields.iter_mut().find(|(k, _)| *k == name).unwrap();
    f.1 = value;
}

/// The dead letters of the test queue, by emission id: (reason, attempts).
async fn dead_letters(server: &RedisServer) -> HashMap<String, (String, u64)> {
    let dlq = DeadLetters::connect(&server.url(), "test", 1)
        .await
        .unwrap();
    dlq.list(100)
        .await
        .unwrap()
        .into_iter()
        .map(|l| {
            let id = l.envelope.as_ref().expect("the envelope parses").id();
            (id.to_string(), (l.reason, l.attempts))
        })
        .collect()
}

/// T3: each tampered, unsigned, unknown-key or stale entry is refused before any
/// handler runs, and lands in the dead letters with its reason after one delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t3_tampered_envelopes_never_reach_a_handler_and_are_dead_lettered_by_reason() {
    let server = RedisServer::start();
    let journal = Journal::new();
    let key = format!("k1:{}", std::str::from_utf8(SECRET).unwrap());
    let worker = spawn_worker(&envs(
        &server,
        &journal,
        &[("VT_KEY", &key), ("VT_WINDOW_MS", "60000")],
    ));
    let k1 = Keyring::new("k1", SECRET).unwrap();
    let k2 = Keyring::new("k2", OTHER_SECRET).unwrap();
    let mut conn = server
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let now = now_ms();
    // (emission id, the reason it must be refused with)
    let mut expected: Vec<(String, &str)> = Vec::new();

    // One byte of the payload flipped: `"n":1` becomes `"n":3`, still a valid `Job`,
    // so a worker that skipped the check would run the handler.
    let e = envelope("job", now, job_json(1), &k1);
    let mut f = e.to_fields();
    let mut payload = e.payload().to_vec();
    let at = payload.iter().position(|&b| b == b'1').unwrap();
    payload[at] ^= 0x02;
    assert_eq!(
        serde_json::from_slice::<Job>(&payload).unwrap().n,
        3,
        "the tampered payload is still a job"
    );
    set(&mut f, "payload", payload);
    xadd(&mut conn, &f).await;
    expected.push((e.id().to_string(), "bad-signature"));

    // The event changed: signed as `jobx`, sent as `job`, which the worker handles.
    let e = envelope("jobx", now, job_json(2), &k1);
    let mut f = e.to_fields();
    set(&mut f, "event", b"job".to_vec());
    xadd(&mut conn, &f).await;
    expected.push((e.id().to_string(), "bad-signature"));

    // ts_ms changed by one millisecond, still inside the window.
    let e = envelope("job", now, job_json(3), &k1);
    let mut f = e.to_fields();
    set(&mut f, "ts_ms", (now + 1).to_string().into_bytes());
    xadd(&mut conn, &f).await;
    expected.push((e.id().to_string(), "bad-signature"));

    // One byte of the tag flipped.
    let e = envelope("job", now, job_json(4), &k1);
    let mut f = e.to_fields();
    let mut sig = f.iter().find(|(k, _)| *k == "sig").unwrap().1.clone();
    assert_eq!(sig.len(), 32);
    sig[7] ^= 0x01;
    set(&mut f, "sig", sig);
    xadd(&mut conn, &f).await;
    expected.push((e.id().to_string(), "bad-signature"));

    // Signed with a key the worker does not hold.
    let e = envelope("job", now, job_json(5), &k2);
    assert_eq!(e.kid(), Some("k2"));
    xadd(&mut conn, &e.to_fields()).await;
    expected.push((e.id().to_string(), "unknown-key"));

    // Unsigned: no `kid`, no `sig`.
    let e = envelope("job", now, job_json(6), &Keyring::unsigned());
    let f = e.to_fields();
    assert!(f.iter().all(|(k, _)| *k != "kid" && *k != "sig"));
    xadd(&mut conn, &f).await;
    expected.push((e.id().to_string(), "unsigned"));

    // Correctly signed, but an hour old with a one-minute window.
    let e = envelope("job", now - 3_600_000, job_json(7), &k1);
    xadd(&mut conn, &e.to_fields()).await;
    expected.push((e.id().to_string(), "stale"));

    // Last, a valid signed emission: once it is handled, the worker has read past
    // every entry above.
    let emitter = RedisEmitter::builder(server.url())
        .queue("test")
        .keyring(k1.clone())
        .build()
        .await
        .unwrap();
    let good = emitter
        .emit_with("job", &Job::new(100, "ok"))
        .await
        .unwrap()
        .to_string();
    let line =
        tokio::task::block_in_place(|| worker.wait_for_line("VT_START", Duration::from_secs(10)));
    assert!(
        line.contains(&good),
        "the first handler start is the valid emission's: {line}"
    );
    wait::until(
        "the valid emission's completion",
        Duration::from_secs(10),
        || async {
            match journal.count("done", &good, "job#0") {
                1 => Ok(()),
                n => Err(format!("{n} completions")),
            }
        },
    )
    .await;
    drained(&emitter, Duration::from_secs(10)).await;

    let starts: Vec<_> = journal
        .read()
        .into_iter()
        .filter(|l| l.kind == "start")
        .collect();
    assert_eq!(starts.len(), 1, "only the valid emission ran: {starts:?}");
    assert_eq!(starts[0].id, good);

    let dead = dead_letters(&server).await;
    assert_eq!(dead.len(), expected.len(), "{dead:?}");
    for (id, reason) in &expected {
        let (got, attempts) = dead
            .get(id)
            .unwrap_or_else(|| panic!("{id} ({reason}) is not in the dead letters: {dead:?}"));
        assert_eq!(got, reason, "{id}");
        assert_eq!(*attempts, 1, "{id} ({reason}) after one delivery");
    }
    let stats = emitter.queue_stats().await.unwrap();
    assert_eq!(stats.pending, 0);
    assert_eq!(stats.dead_letters, expected.len() as u64);
    drop(worker);
}

/// A signed envelope sent to a worker with no keys is refused as
/// `unexpected-signature`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t3_a_signed_envelope_to_an_unsigned_worker_is_dead_lettered() {
    let server = RedisServer::start();
    let journal = Journal::new();
    let worker = spawn_worker(&envs(&server, &journal, &[]));
    let mut conn = server
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let signed = envelope(
        "job",
        now_ms(),
        job_json(1),
        &Keyring::new("k1", SECRET).unwrap(),
    );
    xadd(&mut conn, &signed.to_fields()).await;
    let signed = signed.id().to_string();

    let emitter = RedisEmitter::builder(server.url())
        .queue("test")
        .build()
        .await
        .unwrap();
    let good = emitter
        .emit_with("job", &Job::new(2, "ok"))
        .await
        .unwrap()
        .to_string();
    let line =
        tokio::task::block_in_place(|| worker.wait_for_line("VT_START", Duration::from_secs(10)));
    assert!(line.contains(&good), "{line}");
    drained(&emitter, Duration::from_secs(10)).await;

    assert_eq!(journal.count("start", &signed, "job"), 0);
    assert_eq!(journal.ids("start").len(), 1, "{:?}", journal.read());
    let dead = dead_letters(&server).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        dead.get(&signed),
        Some(&("unexpected-signature".to_owned(), 1))
    );
    assert_eq!(emitter.queue_stats().await.unwrap().pending, 0);
    drop(worker);
}

/// The test vectors published in the envelope module docs.
#[test]
fn t3_the_published_test_vectors_match() {
    let tag = |tp| {
        hex::encode(ventus_redis::envelope::signature(
            b"ventus-test-vector-key-000000001",
            "01890a5d-ac96-7b4c-8a1f-3c2e5d6f7a8b",
            "order.placed",
            "1700000000000",
            "application/json",
            br#"{"order":42}"#,
            tp,
        ))
    };
    assert_eq!(
        tag(None),
        "76896b748c4257cc68d4e90ff87f1c7ad96e1205310a49f29744875e4975c108"
    );
    assert_eq!(
        tag(Some(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        )),
        "7d3c81b75b7675b878b1a6752cfcf6044033c4e100bfdaae949b2bd141f7bd4a"
    );
}
