//! Acknowledgements, batched: deliveries that finish at about the same time share one
//! `XACK` per stream, sent by one task; each waits for the reply to its own.

use std::collections::HashMap;

use redis::aio::ConnectionManager;
use tokio::sync::{mpsc, oneshot};

use crate::keys::{Keys, GROUP};

type Reply = oneshot::Sender<redis::RedisResult<()>>;

/// The most acknowledgements one `XACK` pipeline carries.
const MAX_BATCH: usize = 512;

/// Hands acknowledgements to the acking task.
#[derive(Debug, Clone)]
pub(super) struct Acker {
    tx: mpsc::UnboundedSender<(usize, String, Reply)>,
}

impl Acker {
    /// Starts the acking task for the streams `keys` (indexed by partition). It ends
    /// when the last `Acker` is dropped, after sending what was queued.
    pub(super) fn start(conn: ConnectionManager, keys: Vec<std::sync::Arc<Keys>>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(conn, keys, rx));
        Self { tx }
    }

    /// Acknowledges entry `id` of partition `part`; resolves with the server's reply.
    pub(super) async fn ack(&self, part: usize, id: &str) -> redis::RedisResult<()> {
        let (reply, answer) = oneshot::channel();
        let gone = || redis::RedisError::from((redis::ErrorKind::Client, "the worker stopped"));
        self.tx
            .send((part, id.to_owned(), reply))
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn run(
    mut conn: ConnectionManager,
    keys: Vec<std::sync::Arc<Keys>>,
    mut rx: mpsc::UnboundedReceiver<(usize, String, Reply)>,
) {
    let mut batch = Vec::new();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let mut by_part: HashMap<usize, Vec<&str>> = HashMap::new();
        for (part, id, _) in &batch {
            by_part.entry(*part).or_default().push(id);
        }
        let mut pipe = redis::pipe();
        for (part, ids) in &by_part {
            pipe.cmd("XACK")
                .arg(keys[*part].stream())
                .arg(GROUP)
                .arg(ids)
                .ignore();
        }
        let result: redis::RedisResult<()> = pipe.query_async(&mut conn).await;
        for (_, _, reply) in batch.drain(..) {
            let _ = reply.send(result.clone());
        }
    }
}
