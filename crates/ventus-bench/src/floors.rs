//! The hand-written floors every workload is measured beside.
//!
//! - F1: `HashMap<String, Vec<Box<dyn Fn(&u64)>>>`, default hasher; emit = look the name
//!   up, call each handler.
//! - F2: one `tokio::spawn` per emission of a future joining the K handler futures.
//! - F3: the K handler futures joined in the calling task.
//! - F4: one cached current-thread runtime, `block_on` per emission.
//! - F5: `tokio::sync::broadcast` to K long-lived consumer tasks, each awaiting its
//!   handler's future per value received.

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;

use tokio::sync::{broadcast, Semaphore};
use tokio::task::JoinHandle;

use crate::harness::fail;

/// A sync handler of F1.
pub(crate) type SyncHandler = Box<dyn Fn(&u64) + Send + Sync>;

/// A running async handler of F2–F4.
pub(crate) type BoxFut = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An async handler of F2–F4: takes the payload by value, as ventus's async handlers do.
pub(crate) type AsyncHandler = Box<dyn Fn(u64) -> BoxFut + Send + Sync>;

/// A sync handler counting its runs in `counter`.
pub(crate) fn counting(counter: &'static AtomicU64) -> SyncHandler {
    Box::new(move |_: &u64| {
        counter.fetch_add(1, Ordering::Relaxed);
    })
}

/// An async handler counting its runs in `counter`.
pub(crate) fn counting_async(counter: &'static AtomicU64) -> AsyncHandler {
    Box::new(move |_: u64| -> BoxFut {
        Box::pin(async move {
            counter.fetch_add(1, Ordering::Relaxed);
        })
    })
}

/// F1: the floor for inline dispatch by name.
#[derive(Default)]
pub(crate) struct F1 {
    map: HashMap<String, Vec<SyncHandler>>,
}

impl F1 {
    pub(crate) fn add(&mut self, event: &str, handler: SyncHandler) {
        self.map.entry(event.to_owned()).or_default().push(handler);
    }

    /// Looks `event` up and pushes `handler` onto its list (the key is allocated only
    /// for a new event): W7's floor for one subscribe.
    pub(crate) fn push(&mut self, event: &str, handler: SyncHandler) {
        match self.map.get_mut(event) {
            Some(handlers) => handlers.push(handler),
            None => {
                self.map.insert(event.to_owned(), vec![handler]);
            }
        }
    }

    /// Looks `event` up and calls each handler; returns how many ran.
    pub(crate) fn emit(&self, event: &str, payload: &u64) -> usize {
        match self.map.get(event) {
            Some(handlers) => {
                for h in handlers {
                    h(payload);
                }
                handlers.len()
            }
            None => 0,
        }
    }
}

/// F3 (and the handler list F2 and F4 use): K async handlers of one event.
pub(crate) struct AsyncFloor {
    handlers: Arc<Vec<AsyncHandler>>,
    scratch: Vec<BoxFut>,
}

impl AsyncFloor {
    pub(crate) fn new(handlers: Vec<AsyncHandler>) -> Self {
        let k = handlers.len();
        Self {
            handlers: Arc::new(handlers),
            scratch: Vec::with_capacity(k),
        }
    }

    /// F3: starts the K handler futures and joins them in the calling task.
    pub(crate) async fn emit_joined(&mut self, payload: u64) {
        self.scratch
            .extend(self.handlers.iter().map(|h| h(payload)));
        join_all(&mut self.scratch).await;
    }

    /// F2: spawns one task per emission that joins the K handler futures.
    pub(crate) fn emit_spawned(&self, payload: u64) -> tokio::task::JoinHandle<()> {
        let mut futs: Vec<BoxFut> = self.handlers.iter().map(|h| h(payload)).collect();
        tokio::spawn(async move { join_all(&mut futs).await })
    }

    /// F4: the K handler futures joined by `block_on` on a cached runtime.
    pub(crate) fn emit_blocking(&mut self, rt: &tokio::runtime::Runtime, payload: u64) {
        self.scratch
            .extend(self.handlers.iter().map(|h| h(payload)));
        rt.block_on(join_all(&mut self.scratch));
    }
}

/// F5: the channel design users reach for instead of an emitter. One
/// `tokio::sync::broadcast` channel with room for a whole batch, and K consumer tasks,
/// one per handler, that await their handler's future for every value received.
pub(crate) struct F5 {
    handlers: Arc<Vec<AsyncHandler>>,
    /// Values per batch; the channel holds at least that many.
    n: u64,
    consumers: Option<Consumers>,
}

/// The consumer tasks of one round.
struct Consumers {
    tx: broadcast::Sender<u64>,
    /// Each consumer adds a permit when it has processed a whole batch.
    done: Arc<Semaphore>,
    tasks: Vec<JoinHandle<()>>,
}

impl F5 {
    pub(crate) fn new(handlers: Vec<AsyncHandler>, n: u64) -> Self {
        Self {
            handlers: Arc::new(handlers),
            n,
            consumers: None,
        }
    }

    /// Spawns the K consumer tasks on the current runtime (one per handler), subscribed
    /// before any value is sent.
    pub(crate) fn start(&mut self) {
        self.stop_now();
        let capacity = usize::try_from(self.n).unwrap_or(usize::MAX).max(1);
        let (tx, _) = broadcast::channel(capacity);
        let done = Arc::new(Semaphore::new(0));
        let tasks = (0..self.handlers.len())
            .map(|i| {
                let rx = tx.subscribe();
                tokio::spawn(consume(
                    rx,
                    Arc::clone(&self.handlers),
                    i,
                    self.n,
                    Arc::clone(&done),
                ))
            })
            .collect();
        self.consumers = Some(Consumers { tx, done, tasks });
    }

    /// Sends the N values of a batch, then waits until every consumer has awaited its
    /// handler for all of them. Call [`F5::start`] first.
    pub(crate) async fn batch(&mut self) {
        let Some(c) = &self.consumers else {
            fail("F5: a batch without consumers");
            return;
        };
        let k = self.handlers.len();
        for i in 0..self.n {
            if c.tx.send(std::hint::black_box(i)).is_err() {
                fail("F5: send found no consumer");
                return;
            }
        }
        let permits = u32::try_from(k).unwrap_or(u32::MAX);
        match c.done.acquire_many(permits).await {
            Ok(p) => p.forget(),
            Err(_) => fail("F5: the completion signal was closed"),
        }
    }

    /// Closes the channel and waits for the consumers to end.
    pub(crate) async fn stop(&mut self) {
        if let Some(c) = self.consumers.take() {
            drop(c.tx);
            for t in c.tasks {
                if t.await.is_err() {
                    fail("F5: a consumer task failed");
                }
            }
        }
    }

    fn stop_now(&mut self) {
        if let Some(c) = self.consumers.take() {
            c.tasks.iter().for_each(JoinHandle::abort);
        }
    }
}

/// One F5 consumer: awaits handler `i`'s future for each value, in order, and signals
/// `done` after each batch of `n`; ends when the channel closes.
async fn consume(
    mut rx: broadcast::Receiver<u64>,
    handlers: Arc<Vec<AsyncHandler>>,
    i: usize,
    n: u64,
    done: Arc<Semaphore>,
) {
    let handler = &handlers[i];
    let mut next = 0_u64;
    loop {
        match rx.recv().await {
            Ok(v) => {
                if v != next {
                    fail(format!("F5 consumer {i}: received {v}, expected {next}"));
                    next = v;
                }
                handler(v).await;
                next += 1;
                if next == n {
                    next = 0;
                    done.add_permits(1);
                }
            }
            Err(broadcast::error::RecvError::Closed) => return,
            Err(broadcast::error::RecvError::Lagged(k)) => {
                // Cannot happen with room for a batch; if it does, the handler's counter
                // check fails too, and the lost values still count towards the batch so
                // the sender is not left waiting.
                fail(format!("F5 consumer {i}: lagged, {k} values lost"));
                next += k;
                while next >= n {
                    next -= n;
                    done.add_permits(1);
                }
            }
        }
    }
}

/// Polls every future until all are done; leaves `futs` empty.
pub(crate) async fn join_all(futs: &mut Vec<BoxFut>) {
    poll_fn(|cx| {
        let mut i = 0;
        while i < futs.len() {
            if futs[i].as_mut().poll(cx).is_ready() {
                drop(futs.swap_remove(i));
            } else {
                i += 1;
            }
        }
        if futs.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::leak_counter;

    #[test]
    fn f1_calls_each_handler_of_the_event() {
        let a = leak_counter();
        let b = leak_counter();
        let mut f1 = F1::default();
        f1.add("E", counting(a));
        f1.add("E", counting(b));
        f1.add("Other", counting(b));
        assert_eq!(f1.emit("E", &1), 2);
        assert_eq!(f1.emit("Missing", &1), 0);
        assert_eq!(a.load(Ordering::Relaxed), 1);
        assert_eq!(b.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn async_floors_run_every_handler() {
        let c = leak_counter();
        let mut f = AsyncFloor::new(vec![counting_async(c), counting_async(c)]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        f.emit_blocking(&rt, 1);
        rt.block_on(f.emit_joined(2));
        rt.block_on(async { f.emit_spawned(3).await.expect("join") });
        assert_eq!(c.load(Ordering::Relaxed), 6);
    }

    #[test]
    fn f5_runs_every_consumer_for_every_value() {
        let (a, b) = (leak_counter(), leak_counter());
        let mut f5 = F5::new(vec![counting_async(a), counting_async(b)], 100);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("runtime");
        rt.block_on(async {
            f5.start();
            f5.batch().await;
            f5.batch().await;
            f5.stop().await;
        });
        assert_eq!(a.load(Ordering::Relaxed), 200);
        assert_eq!(b.load(Ordering::Relaxed), 200);
    }
}
