//! The `ventus-redis` command-line tool against a real server.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{wait, RedisServer};
use ventus_redis::{DeadLetters, RedisEmitter, Worker};

fn cli(server: &RedisServer, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ventus-redis"))
        .args(["--url", &server.url(), "--queue", "cli"])
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tool_lists_shows_replays_and_discards_dead_letters() {
    let server = RedisServer::start();
    let emitter = RedisEmitter::builder(server.url())
        .queue("cli")
        .build()
        .await
        .unwrap();
    let linker = ventus::EventLinker::builder().build().unwrap();
    linker
        .on("invoice.send")
        .name("mailer")
        .subscribe(|n: &u32| Err::<(), _>(format!("smtp refused invoice {n}")))
        .unwrap();
    let worker = Worker::builder(server.url())
        .linker(&linker)
        .queue("cli")
        .decode::<u32>("invoice.send")
        .max_deliveries(1)
        .build()
        .await
        .unwrap();
    let handle = worker.handle();
    let run = tokio::spawn(worker.run_until(std::future::pending()));
    let first = emitter.emit_with("invoice.send", &7_u32).await.unwrap();
    emitter.emit_with("invoice.send", &8_u32).await.unwrap();
    let dlq = DeadLetters::connect(&server.url(), "cli", 1).await.unwrap();
    let letters = wait::until("two dead letters", Duration::from_secs(10), || async {
        let l = dlq.list(10).await.map_err(|e| e.to_string())?;
        if l.len() == 2 {
            Ok(l)
        } else {
            Err(format!("{} dead letters", l.len()))
        }
    })
    .await;
    handle.shutdown();
    run.await.unwrap();

    let (code, out, err) = tokio::task::block_in_place(|| cli(&server, &["dlq", "list"]));
    assert_eq!(code, 0, "{err}");
    let header = out.lines().next().unwrap();
    for column in [
        "ID", "REASON", "ATTEMPTS", "EVENT", "EMISSION", "AGE", "ERROR",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(out.contains(&first.to_string()), "{out}");
    assert!(
        out.contains("failed") && out.contains("invoice.send"),
        "{out}"
    );
    assert!(out.contains("smtp refused invoice 7"), "{out}");
    assert!(out.contains("2 dead letter(s)"), "{out}");

    let id = letters
        .iter()
        .find(|l| l.envelope.as_ref().unwrap().id() == first.0)
        .unwrap()
        .id
        .clone();
    let (code, out, _) = tokio::task::block_in_place(|| cli(&server, &["dlq", "show", &id]));
    assert_eq!(code, 0);
    assert!(out.contains("payload      7"), "{out}");
    assert!(
        out.contains(
            "last error   handler `mailer` for event `invoice.send` failed: smtp refused invoice 7"
        ),
        "{out}"
    );

    let (code, out, _) = tokio::task::block_in_place(|| cli(&server, &["dlq", "replay", &id]));
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("replayed {id} as stream entry ")),
        "{out}"
    );
    let other = letters.iter().find(|l| l.id != id).unwrap().id.clone();
    let (code, out, _) = tokio::task::block_in_place(|| cli(&server, &["dlq", "discard", &other]));
    assert_eq!(
        (code, out.trim()),
        (0, format!("discarded {other}").as_str())
    );
    let (_, out, _) = tokio::task::block_in_place(|| cli(&server, &["dlq", "list"]));
    assert_eq!(out.trim(), "no dead letters");
    let stats = emitter.queue_stats().await.unwrap();
    assert_eq!(
        (stats.lag, stats.dead_letters),
        (1, 0),
        "the replayed entry waits on the stream"
    );

    let (code, _, err) = tokio::task::block_in_place(|| cli(&server, &["dlq", "show", "1-1"]));
    assert_eq!(code, 1);
    assert!(err.contains("no dead letter with id `1-1`"), "{err}");
}

#[test]
fn bad_arguments_and_an_unknown_queue_are_explained() {
    let server = RedisServer::start();
    let (code, _, err) = cli(&server, &["dlq", "frobnicate"]);
    assert_eq!(code, 2);
    assert!(err.contains("usage: ventus-redis"), "{err}");
    let (code, _, err) = cli(&server, &["--limit", "x", "dlq", "list"]);
    assert_eq!(code, 2);
    assert!(err.contains("--limit takes a number"), "{err}");
    let (code, _, err) = cli(&server, &["stats"]);
    assert_eq!(code, 1);
    assert!(err.contains("queue `cli` has no stream"), "{err}");
}
