//! Ids: of emissions and of subscriptions.

use std::cell::Cell;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Identifies one emission; unique within the process, for emissions that find no
/// handler too. Ids start at 1.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = ventus::EventLinker::builder().build()?;
/// linker.on("Tick").subscribe(|| ())?;
/// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
/// let first = emitter.emit("Tick")?.id();
/// let second = emitter.emit("Tick")?.id();
/// assert_ne!(first, second, "unique within the process");
/// assert_ne!(emitter.emit("Nobody")?.id(), second, "an emission without handlers too");
/// assert_eq!(first.to_string(), format!("emission#{}", first.as_u64()));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmissionId(pub(crate) u64);

impl EmissionId {
    /// The id as a number.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// linker.on("Tick").subscribe(|| ())?;
    /// let emitter = ventus::TokioEventEmitter::with_linker(&linker);
    /// let first = emitter.emit("Tick")?.id();
    /// let second = emitter.emit("Tick")?.id();
    /// assert_ne!(first.as_u64(), second.as_u64());
    /// # Ok(())
    /// # }
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for EmissionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "emission#{}", self.0)
    }
}

/// Identifies a subscription within its linker; ids grow in subscription order.
///
/// # Examples
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let linker = ventus::EventLinker::builder().build()?;
/// let first = linker.on("Tick").subscribe(|| ())?;
/// let second = linker.on("Tick").subscribe(|| ())?;
/// assert!(first.id() < second.id(), "ids grow in subscription order");
/// assert_eq!(first.id().to_string(), format!("subscription#{}", first.id().as_u64()));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubscriptionId(pub(crate) u64);

impl SubscriptionId {
    /// The id as a number.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let linker = ventus::EventLinker::builder().build()?;
    /// let first = linker.on("Tick").subscribe(|| ())?;
    /// let second = linker.on("Tick").subscribe(|| ())?;
    /// assert!(second.id().as_u64() > first.id().as_u64());
    /// # Ok(())
    /// # }
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "subscription#{}", self.0)
    }
}

/// Emission ids: unique in the process, handed to each thread in blocks so emitting
/// threads do not contend on one counter.
pub(crate) fn next_emission_id() -> u64 {
    const BLOCK: u64 = 1024;
    // Starts at 1: 0 and u64::MAX mean "active" and "gone" in a subscriber's state.
    static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static RANGE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    }
    RANGE.with(|range| {
        let (mut next, mut end) = range.get();
        if next == end {
            // Relaxed: only uniqueness matters, and fetch_add gives it.
            next = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
            end = next + BLOCK;
        }
        range.set((next + 1, end));
        next
    })
}
