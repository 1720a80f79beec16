//! Commands batched across deliveries: what concurrent deliveries send at about the same
//! moment (completion records, acknowledgements) goes to Redis in one pipeline, written
//! by one task; each sender waits for the replies to its own commands.

use redis::aio::ConnectionManager;
use redis::Value;
use tokio::sync::{mpsc, oneshot};

type Reply = oneshot::Sender<redis::RedisResult<Vec<Value>>>;

/// The most commands one pipeline carries.
const MAX_COMMANDS: usize = 1024;

/// Hands commands to the batching task. Cheap to clone.
#[derive(Debug, Clone)]
pub(super) struct Batcher {
    tx: mpsc::UnboundedSender<(Vec<redis::Cmd>, Reply)>,
}

impl Batcher {
    /// Starts the batching task on `conn`; it ends when the last `Batcher` is dropped,
    /// after sending what was queued.
    pub(super) fn start(conn: ConnectionManager) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(conn, rx));
        Self { tx }
    }

    /// Sends `cmds` in the next pipeline; resolves with one reply per command (a server
    /// error as [`Value::ServerError`] in its place), or the connection's error.
    pub(super) async fn send(&self, cmds: Vec<redis::Cmd>) -> redis::RedisResult<Vec<Value>> {
        self.submit(cmds).await
    }

    /// Queues `cmds` for the next pipeline now, without waiting; the returned future
    /// resolves as [`send`](Self::send)'s does.
    pub(super) fn submit(
        &self,
        cmds: Vec<redis::Cmd>,
    ) -> impl std::future::Future<Output = redis::RedisResult<Vec<Value>>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let queued = self.tx.send((cmds, reply)).is_ok();
        async move {
            let gone = || redis::RedisError::from((redis::ErrorKind::Client, "the worker stopped"));
            if !queued {
                return Err(gone());
            }
            answer.await.map_err(|_| gone())?
        }
    }
}

async fn run(
    mut conn: ConnectionManager,
    mut rx: mpsc::UnboundedReceiver<(Vec<redis::Cmd>, Reply)>,
) {
    let mut batch: Vec<(Vec<redis::Cmd>, Reply)> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut commands = first.0.len();
        batch.push(first);
        while commands < MAX_COMMANDS {
            match rx.try_recv() {
                Ok(next) => {
                    commands += next.0.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        let mut replies = Vec::with_capacity(batch.len());
        for (cmds, reply) in batch.drain(..) {
            replies.push((cmds.len(), reply));
            for cmd in cmds {
                pipe.add_command(cmd);
            }
        }
        let result: redis::RedisResult<Vec<Value>> = pipe.query_async(&mut conn).await;
        match result {
            Ok(values) => {
                let mut values = values.into_iter();
                for (n, reply) in replies {
                    let _ = reply.send(Ok(values.by_ref().take(n).collect()));
                }
            }
            Err(e) => {
                for (_, reply) in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}
