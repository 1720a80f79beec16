//! What a handler running on a worker can know about the delivery it is part of.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::id::EmissionId;

/// A completion record on its way: whether it was the first for its handler.
pub(crate) type RecordFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = redis::RedisResult<bool>> + Send>>;

tokio::task_local! {
    pub(crate) static CURRENT: Arc<DeliveryState>;
}

/// The remote emission a worker's handler is running for: its id (the dedupe key), its
/// attempt, and where it came from.
///
/// Available with [`Delivery::current`] inside handlers that a worker runs, on the
/// emission's task (sync and async handlers; not `blocking` ones, which run on a thread
/// of their own).
///
/// # Examples
///
/// ```
/// fn on_order(order: &u64) {
///     if let Some(d) = ventus_redis::Delivery::current() {
///         println!("order {order}: emission {} attempt {}", d.id(), d.attempt());
///     }
/// }
/// # on_order(&1);
/// ```
#[derive(Debug, Clone)]
pub struct Delivery {
    pub(crate) id: EmissionId,
    pub(crate) event: Arc<str>,
    pub(crate) attempt: u64,
    pub(crate) entry: Arc<str>,
    pub(crate) queue: Arc<str>,
    pub(crate) consumer: Arc<str>,
    pub(crate) traceparent: Option<Arc<str>>,
}

impl Delivery {
    /// The delivery the calling handler runs for, if it runs on a worker.
    ///
    /// # Examples
    ///
    /// ```
    /// // Outside a worker's handler there is none.
    /// assert!(ventus_redis::Delivery::current().is_none());
    /// ```
    pub fn current() -> Option<Delivery> {
        CURRENT.try_with(|s| s.delivery.clone()).ok()
    }

    /// The emission's id, the same on every attempt.
    ///
    /// # Examples
    ///
    /// ```
    /// if let Some(d) = ventus_redis::Delivery::current() { println!("{}", d.id()); }
    /// ```
    pub fn id(&self) -> EmissionId {
        self.id
    }

    /// The event's name.
    ///
    /// # Examples
    ///
    /// ```
    /// if let Some(d) = ventus_redis::Delivery::current() { println!("{}", d.event()); }
    /// ```
    pub fn event(&self) -> &str {
        &self.event
    }

    /// Which delivery of the stream entry this is: 1 the first time.
    ///
    /// # Examples
    ///
    /// ```
    /// if ventus_redis::Delivery::current().is_some_and(|d| d.attempt() > 1) { println!("a retry"); }
    /// ```
    pub fn attempt(&self) -> u64 {
        self.attempt
    }

    /// The stream entry's id.
    ///
    /// # Examples
    ///
    /// ```
    /// if let Some(d) = ventus_redis::Delivery::current() { println!("{}", d.entry_id()); }
    /// ```
    pub fn entry_id(&self) -> &str {
        &self.entry
    }

    /// The queue's name.
    ///
    /// # Examples
    ///
    /// ```
    /// if let Some(d) = ventus_redis::Delivery::current() { println!("{}", d.queue()); }
    /// ```
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// The name of the worker running it (`host-pid-uuid`).
    ///
    /// # Examples
    ///
    /// ```
    /// if let Some(d) = ventus_redis::Delivery::current() { println!("{}", d.consumer()); }
    /// ```
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// The W3C trace context the emitter sent.
    ///
    /// # Examples
    ///
    /// ```
    /// if let Some(tp) = ventus_redis::Delivery::current().and_then(|d| d.traceparent().map(str::to_owned)) { println!("{tp}"); }
    /// ```
    pub fn traceparent(&self) -> Option<&str> {
        self.traceparent.as_deref()
    }
}

/// One delivery's state, shared by its task and the worker's handler hook.
pub(crate) struct DeliveryState {
    pub(crate) delivery: Delivery,
    /// Handler keys already recorded as done, read before the handlers start.
    pub(crate) done: HashSet<String>,
    /// The emission's completion hash.
    pub(crate) done_key: String,
    /// Each started handler's key, by subscription.
    pub(crate) keys: Mutex<Keys>,
    /// The completion records sent for handlers that succeeded, each resolving to
    /// whether this delivery's record was the first.
    pub(crate) records: Mutex<Vec<RecordFuture>>,
    /// The first failure of a handler in this delivery, for the retry and the dead letter.
    pub(crate) error: Mutex<Option<String>>,
}

#[derive(Debug, Default)]
pub(crate) struct Keys {
    pub(crate) by_subscription: HashMap<ventus::SubscriptionId, String>,
    seen: HashMap<&'static str, u32>,
}

impl Keys {
    /// The stable key of a handler: its name, and which handler of that name it is in
    /// the emission (`name#0`, `name#1`, ...).
    pub(crate) fn key_of(&mut self, sub: ventus::SubscriptionId, name: &'static str) -> String {
        if let Some(k) = self.by_subscription.get(&sub) {
            return k.clone();
        }
        let n = self.seen.entry(name).or_insert(0);
        let key = format!("{name}#{n}");
        *n += 1;
        self.by_subscription.insert(sub, key.clone());
        key
    }
}
