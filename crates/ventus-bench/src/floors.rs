//! The hand-written floors every workload is measured beside.
//!
//! - F1: `HashMap<String, Vec<Box<dyn Fn(&u64)>>>`, default hasher; emit = look the name
//!   up, call each handler.
//! - F2: one `tokio::spawn` per emission of a future joining the K handler futures.
//! - F3: the K handler futures joined in the calling task.
//! - F4: one cached current-thread runtime, `block_on` per emission.

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;

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
}
