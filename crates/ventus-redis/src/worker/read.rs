//! The read loop: new entries off the streams, each into a task of its own.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;

use super::process::process;
use super::{Entry, Shared};
use crate::conn;
use crate::keys::GROUP;
use crate::stream::read_reply;

pub(super) async fn read_loop(shared: Arc<Shared>) {
    let mut reader: Option<MultiplexedConnection> = None;
    let mut wait = Duration::from_millis(50);
    while !shared.stop.is_cancelled() {
        // Room for at least one more emission before reading; the places are taken
        // per entry after the read, so the reclaimer is never starved of them while a
        // read blocks.
        tokio::select! {
            p = shared.permits.acquire() => match p { Ok(p) => drop(p), Err(_) => return },
            () = shared.stop.cancelled() => return,
        }
        let room = shared
            .permits
            .available_permits()
            .clamp(1, shared.settings.batch);
        let conn = match &mut reader {
            Some(c) => c,
            None => match conn::reader(
                &shared.settings.url,
                shared.settings.block,
                shared.settings.timeout,
            )
            .await
            {
                Ok(c) => reader.insert(c),
                Err(e) => {
                    tracing::warn!(error = %e, "ventus worker cannot reach Redis; retrying");
                    backoff_wait(&shared, &mut wait).await;
                    continue;
                }
            },
        };
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(&shared.consumer)
            .arg("COUNT")
            .arg(room)
            .arg("BLOCK")
            .arg(shared.settings.block.as_millis() as u64)
            .arg("STREAMS");
        for k in &shared.keys {
            cmd.arg(k.stream());
        }
        for _ in &shared.keys {
            cmd.arg(">");
        }
        let reply = tokio::select! {
            r = cmd.query_async::<redis::Value>(conn) => r,
            () = shared.stop.cancelled() => return,
        };
        match reply {
            Ok(reply) => {
                wait = Duration::from_millis(50);
                for (key, entries) in read_reply(reply) {
                    let Some(part) = shared.keys.iter().position(|k| k.stream() == key) else {
                        continue;
                    };
                    for (id, fields) in entries {
                        // Delivered to this worker: it runs even during a shutdown.
                        let Ok(permit) = shared.permits.clone().acquire_owned().await else {
                            return;
                        };
                        let entry = Entry {
                            part,
                            keys: shared.keys[part].clone(),
                            fields,
                            id,
                            attempt: 1,
                        };
                        spawn_process(&shared, entry, permit);
                    }
                }
            }
            Err(e) => {
                if e.code() == Some("NOGROUP") {
                    // The server lost the stream (restarted without persistence).
                    let mut cmd_conn = shared.cmd.clone();
                    for k in &shared.keys {
                        let _ = conn::ensure_group(&mut cmd_conn, k).await;
                    }
                } else {
                    tracing::warn!(error = %e, "ventus worker read failed; reconnecting");
                    reader = None;
                }
                backoff_wait(&shared, &mut wait).await;
            }
        }
    }
}

/// Waits `wait` (or until stop), then doubles it up to one second: the pause between
/// reconnect attempts while the broker is down.
pub(super) async fn backoff_wait(shared: &Shared, wait: &mut Duration) {
    tokio::select! {
        () = tokio::time::sleep(*wait) => {}
        () = shared.stop.cancelled() => {}
    }
    *wait = (*wait * 2).min(Duration::from_secs(1));
}

pub(super) fn spawn_process(
    shared: &Arc<Shared>,
    entry: Entry,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    shared.metrics.received.fetch_add(1, Ordering::Relaxed);
    let key = (entry.part, entry.id.clone());
    shared.running.lock().insert(key.clone());
    let s = shared.clone();
    shared.tasks.spawn(async move {
        tokio::select! {
            () = process(&s, entry) => {}
            () = s.abort.cancelled() => {}
        }
        s.running.lock().remove(&key);
        drop(permit);
    });
}
