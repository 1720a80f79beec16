//! The emitter's side of submission order (see `emission/order.rs`): handing an
//! emission to the queue, and shutting an ordered emitter down.

use std::sync::Arc;
use std::time::Duration;

use super::EventEmitter;
use crate::emission::claims::settle_claims;
use crate::emission::order::{Sequencer, TakeTurn};
use crate::emission::{Emission, ShutdownReport};
use crate::linker::registry::EventEntry;
use crate::processor::Processor;

impl<P: Processor + ?Sized> EventEmitter<P> {
    /// The rest of `process` on an ordered emitter: the emission, owned and tracked,
    /// joins the queue, which hands it to the processor at its turn. Taken from here
    /// on: its once-claims are settled as taken.
    #[inline(never)]
    pub(super) fn submit_ordered(
        &self,
        order: &Arc<Sequencer>,
        emission: Emission<'static>,
        id: u64,
        direct: Option<&Arc<EventEntry>>,
        any: Option<&Arc<EventEntry>>,
    ) {
        if direct.is_some_and(|e| e.has_once) || any.is_some_and(|e| e.has_once) {
            settle_claims(&self.linker.inner.registry, id, false, direct, any);
        }
        order.submit(emission);
    }

    /// `shutdown` of an ordered emitter: the queue first, then the processor.
    pub(super) async fn shutdown_ordered(
        &self,
        order: &Sequencer,
        timeout: Duration,
    ) -> ShutdownReport {
        let (finished, cancelled) = order.ended();
        let start = std::time::Instant::now();
        let idle = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tokio::time::timeout(timeout, order.wait_idle())
        })) {
            Ok(wait) => wait.await.is_ok(),
            Err(_) => {
                tracing::warn!("ventus shutdown without a time driver: waiting for every emission");
                order.wait_idle().await;
                true
            }
        };
        if idle {
            let _ = self
                .processor
                .shutdown(timeout.saturating_sub(start.elapsed()))
                .await;
        } else {
            // The deadline: what waits is reported cancelled, what runs is cancelled.
            order.cancel_waiting();
            order.cancel_current();
            let _ = self.processor.shutdown(Duration::ZERO).await;
            // Accepted while the emitter was closing: cancelled as well.
            order.cancel_waiting();
            order.wait_idle().await;
        }
        let (finished_now, cancelled_now) = order.ended();
        ShutdownReport {
            finished: finished_now - finished,
            cancelled: cancelled_now - cancelled,
        }
    }
}

impl<P: Processor> TakeTurn for P {
    fn take_turn(&self, emission: Emission<'static>) -> Result<(), crate::handler::BoxError> {
        self.process(emission)
            .map(drop)
            .map_err(|err| Box::new(err) as crate::handler::BoxError)
    }
}
