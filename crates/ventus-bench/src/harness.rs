//! Rounds, medians, counters and the failure list shared by every workload.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How long to measure: rounds per workload and the time one side of one round aims at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub(crate) quick: bool,
    pub(crate) rounds: usize,
    pub(crate) round_budget: Duration,
}

impl Settings {
    pub(crate) fn new(quick: bool) -> Self {
        if quick {
            Self {
                quick,
                rounds: 5,
                round_budget: Duration::from_millis(12),
            }
        } else {
            Self {
                quick,
                rounds: 11,
                round_budget: Duration::from_millis(100),
            }
        }
    }

    /// Batches per round so that one side's round takes about `round_budget`, given one
    /// batch took `batch`; at least 1, at most `max`.
    pub(crate) fn batches_for(&self, batch: Duration, max: usize) -> usize {
        let per = batch.as_nanos().max(1);
        let n = self.round_budget.as_nanos() / per;
        usize::try_from(n).unwrap_or(max).clamp(1, max)
    }
}

static FAILURES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Records a failed check; the run goes on, but exits non-zero at the end.
pub(crate) fn fail(msg: impl Into<String>) {
    let msg = msg.into();
    eprintln!("CHECK FAILED: {msg}");
    FAILURES.lock().unwrap_or_else(|e| e.into_inner()).push(msg);
}

/// The failed checks so far.
pub(crate) fn failures() -> Vec<String> {
    FAILURES.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The number of failed checks so far (to tell whether a workload failed).
pub(crate) fn failure_count() -> usize {
    FAILURES.lock().unwrap_or_else(|e| e.into_inner()).len()
}

/// A counter that lives for the whole run: handlers capture it as a `&'static`, so a
/// handler's only work is one relaxed `fetch_add`, and no `Arc` is cloned per call.
pub(crate) fn leak_counter() -> &'static AtomicU64 {
    Box::leak(Box::new(AtomicU64::new(0)))
}

/// The counters of a set of handlers and how many times each must have run.
#[derive(Debug)]
pub(crate) struct Expect {
    what: String,
    cells: Vec<&'static AtomicU64>,
    runs: u64,
}

impl Expect {
    pub(crate) fn new(what: impl Into<String>, cells: Vec<&'static AtomicU64>) -> Self {
        Self {
            what: what.into(),
            cells,
            runs: 0,
        }
    }

    /// Each handler ran `more` times since the last check; fails otherwise. Returns
    /// whether the check passed.
    pub(crate) fn ran(&mut self, more: u64) -> bool {
        self.runs += more;
        for (i, cell) in self.cells.iter().enumerate() {
            let got = cell.load(Ordering::Relaxed);
            if got != self.runs {
                fail(format!(
                    "{}: handler {i} ran {got} times, expected {}",
                    self.what, self.runs
                ));
                // Re-synchronise so one miss is reported once, not after every batch.
                self.runs = got;
                return false;
            }
        }
        true
    }

    pub(crate) fn cells(&self) -> &[&'static AtomicU64] {
        &self.cells
    }
}

/// The median of `values` (the mean of the two middle ones for an even count).
pub(crate) fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Per-round measurements of ventus and its floor (ns per operation), taken in
/// alternating order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Samples {
    pub(crate) ventus: Vec<f64>,
    pub(crate) floor: Vec<f64>,
}

impl Samples {
    pub(crate) fn ventus_median(&self) -> f64 {
        median(&self.ventus)
    }

    pub(crate) fn floor_median(&self) -> f64 {
        median(&self.floor)
    }

    /// The median of the per-round ratios: less sensitive to a slow phase of the machine
    /// that hit one side's rounds more than the other's.
    pub(crate) fn ratio_of_rounds(&self) -> f64 {
        let r: Vec<f64> = self
            .ventus
            .iter()
            .zip(&self.floor)
            .map(|(v, f)| v / f)
            .collect();
        median(&r)
    }
}

/// Runs `rounds` rounds of `ventus` and `floor` (each returns ns per operation of one
/// round), alternating which goes first, so a drift of the machine hits both alike.
pub(crate) fn interleave(
    rounds: usize,
    mut ventus: impl FnMut() -> f64,
    mut floor: impl FnMut() -> f64,
) -> Samples {
    let mut s = Samples::default();
    for round in 0..rounds {
        if round % 2 == 0 {
            s.ventus.push(ventus());
            s.floor.push(floor());
        } else {
            s.floor.push(floor());
            s.ventus.push(ventus());
        }
    }
    s
}

/// A small deterministic generator (SplitMix64), so every run builds the same registry.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub(crate) fn coin(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    /// `k` distinct values of `0..n` other than `except`, in random order.
    pub(crate) fn sample_except(&mut self, n: usize, k: usize, except: usize) -> Vec<usize> {
        let mut pool: Vec<usize> = (0..n).filter(|&i| i != except).collect();
        let k = k.min(pool.len());
        for i in 0..k {
            let j = i + self.below(pool.len() - i);
            pool.swap(i, j);
        }
        pool.truncate(k);
        pool
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn sample_is_distinct_and_excludes() {
        let mut rng = Rng::new(7);
        let s = rng.sample_except(10, 5, 3);
        assert_eq!(s.len(), 5);
        assert!(!s.contains(&3));
        let mut d = s.clone();
        d.sort_unstable();
        d.dedup();
        assert_eq!(d.len(), 5);
        assert_eq!(rng.sample_except(4, 10, 0).len(), 3);
    }

    #[test]
    fn expect_reports_a_skipped_handler() {
        let c = leak_counter();
        let mut e = Expect::new("test", vec![c]);
        c.fetch_add(2, Ordering::Relaxed);
        assert!(e.ran(2));
        let before = failure_count();
        assert!(!e.ran(1));
        assert_eq!(failure_count(), before + 1);
    }
}
