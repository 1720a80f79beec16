//! W7: the cost of one subscribe as an event's subscriber list grows.
//!
//! A round subscribes S counting handlers to one event name on a fresh linker, timing the
//! S subscribes, and does the same with F1's structure (S boxed closures pushed into the
//! `Vec` of one `HashMap<String, Vec<Box<dyn Fn>>>` entry). After each round, outside the
//! timing, one emission must run every handler subscribed in it exactly once.
//!
//! Bounded run time: each size has a wall-clock budget for all its rounds, and at
//! S = 100 000 a ventus round stops subscribing when it has used the whole budget. A
//! registry whose subscribe copies the event's list is quadratic in S (over 3 minutes for
//! S = 100 000 on the project's machine), so that round stops early; the row then says
//! how far it got, and the scale row compares the cost per subscribe up to there, a lower
//! bound of the ratio at S = 100 000; its note adds the growth inside the stopped round
//! over a tenfold list.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ventus::TokioEventEmitter;

use crate::floors::{counting, F1};
use crate::harness::{fail, failure_count, Samples, Settings};
use crate::report::{Row, Target};
use crate::workloads::linker;

/// The sizes measured; the scale row divides the last by the first.
const SIZES: [usize; 2] = [10_000, 100_000];

/// The wall-clock budget for all of W7's rounds at one size; at S = 100 000 it also caps
/// the ventus round. At S = 10 000 a round always completes (a few seconds even when
/// quadratic) and the budget only decides whether another round follows.
fn budget(s: &Settings, size: usize) -> (Duration, bool) {
    let capped = size >= 100_000;
    let secs = match (s.quick, capped) {
        (true, false) => 2,
        (true, true) => 6,
        (false, false) => 5,
        (false, true) => 12,
    };
    (Duration::from_secs(secs), capped)
}

/// `n` counters that live for the whole run, one per handler (so a handler run twice
/// and another skipped do not cancel out).
fn cells(n: usize) -> &'static [AtomicU64] {
    Box::leak((0..n).map(|_| AtomicU64::new(0)).collect::<Box<[_]>>())
}

/// After one emission: the first `subscribed` handlers ran once each, the others never.
fn check(what: &str, cells: &[AtomicU64], subscribed: usize) {
    let bad = cells
        .iter()
        .enumerate()
        .filter(|(i, c)| c.load(Ordering::Relaxed) != u64::from(*i < subscribed))
        .count();
    if bad > 0 {
        let first = cells
            .iter()
            .position(|c| c.load(Ordering::Relaxed) != 1)
            .unwrap_or(0);
        fail(format!(
            "{what}: after one emission {bad} of {} handlers ran a wrong number of times \
             (handler {first}: {} runs)",
            cells.len(),
            cells.get(first).map_or(0, |c| c.load(Ordering::Relaxed))
        ));
    }
}

/// What one ventus round measured.
#[derive(Debug, Clone, Copy)]
struct Round {
    ns_per_subscribe: f64,
    subscribed: usize,
    /// When the round stopped early: ns per subscribe over its first tenth (to the
    /// nearest checkpoint), so the growth over a tenfold list is still measured.
    first_tenth: Option<(usize, f64)>,
}

/// What W7 measured at one size.
#[derive(Debug, Clone, Copy)]
struct Size {
    size: usize,
    /// Subscribes done in the shortest ventus round (`size` unless one stopped).
    reached: usize,
    ventus: f64,
    floor: f64,
    valid: bool,
    rounds: usize,
    /// For a stopped round: (first tenth, subscribes done, growth of the cost per
    /// subscribe between them).
    tenfold: Option<(usize, usize, f64)>,
}

/// One ventus round: subscribes (timed) on a fresh linker until every cell has its
/// handler or `cap` has passed, then one emission that must run each handler subscribed
/// once (not timed).
fn ventus_round(cells: &'static [AtomicU64], cap: Duration, what: &str) -> Round {
    cells.iter().for_each(|c| c.store(0, Ordering::Relaxed));
    let linker = linker();
    let mut errors = 0_usize;
    let mut subscribed = 0;
    // (subscribes, time) every 256 subscribes; room made before the timing.
    let mut checkpoints: Vec<(usize, Duration)> = Vec::with_capacity(cells.len() / 256 + 1);
    let start = Instant::now();
    for c in cells {
        let sub = linker.on("E").subscribe(move |_: &u64| {
            c.fetch_add(1, Ordering::Relaxed);
        });
        if sub.is_err() {
            errors += 1;
        }
        subscribed += 1;
        // Reading the clock every 256 subscribes costs nothing next to them.
        if subscribed % 256 == 0 {
            let t = start.elapsed();
            checkpoints.push((subscribed, t));
            if t >= cap {
                break;
            }
        }
    }
    let elapsed = start.elapsed();
    let first_tenth = (subscribed < cells.len())
        .then(|| {
            checkpoints
                .iter()
                .rev()
                .find(|(n, _)| *n <= subscribed / 10)
        })
        .flatten()
        .map(|&(n, t)| (n, t.as_nanos() as f64 / n as f64));
    if errors > 0 || linker.subscriber_count_of("E") != subscribed {
        fail(format!(
            "{what} ventus: {errors} subscribe errors, {} subscribers instead of {subscribed}",
            linker.subscriber_count_of("E")
        ));
    }
    let emitter = TokioEventEmitter::with_linker(&linker);
    if emitter.emit_with("E", 0_u64).is_err() {
        fail(format!(
            "{what} ventus: the check emission returned an error"
        ));
    }
    check(&format!("{what} ventus"), cells, subscribed);
    // Dropped outside the timed part.
    drop((emitter, linker));
    Round {
        ns_per_subscribe: elapsed.as_nanos() as f64 / subscribed as f64,
        subscribed,
        first_tenth,
    }
}

/// One F1 round: a closure per cell pushed into one entry (timed), then one emission
/// (not timed).
fn floor_round(cells: &'static [AtomicU64], what: &str) -> f64 {
    cells.iter().for_each(|c| c.store(0, Ordering::Relaxed));
    let mut f1 = F1::default();
    let start = Instant::now();
    for c in cells {
        f1.push("E", counting(c));
    }
    let elapsed = start.elapsed();
    let ran = f1.emit("E", &0);
    if ran != cells.len() {
        fail(format!(
            "{what} F1: the check emission ran {ran} handlers of {}",
            cells.len()
        ));
    }
    check(&format!("{what} F1"), cells, cells.len());
    drop(f1);
    elapsed.as_nanos() as f64 / cells.len() as f64
}

/// The floor's part of a round: F1 rounds repeated until they have taken
/// `round_budget` (at least one), so the fast floor is not one short, noisy sample;
/// returns their mean ns per push.
fn floor_side(s: &Settings, cells: &'static [AtomicU64], what: &str) -> f64 {
    let mut total = 0.0;
    let mut reps = 0_u32;
    let start = Instant::now();
    while reps == 0 || start.elapsed() < s.round_budget {
        total += floor_round(cells, what);
        reps += 1;
    }
    total / f64::from(reps)
}

/// W7 at S = 10 000 and 100 000 (ns per subscribe, against F1's push), and the scale row
/// (per-subscribe cost at S = 100 000 / at S = 10 000).
pub(crate) fn w7(s: &Settings) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut by_size = Vec::new();
    // Warm-up on a small list, so the first measured round does not pay for cold code.
    {
        let warm = cells(1_000);
        let _ = ventus_round(warm, Duration::from_secs(1), "W7 warm-up");
        let _ = floor_round(warm, "W7 warm-up");
    }
    for size in SIZES {
        let before = failure_count();
        let what = format!("W7 S={size}");
        let (vc, fc) = (cells(size), cells(size));
        let (budget, capped) = budget(s, size);
        let started = Instant::now();
        let mut reached = size;
        let mut tenfold = None;
        let mut samples = Samples::default();
        // Rounds alternating which side goes first, as `interleave` does, while the
        // next one fits in the budget.
        for round in 0..s.rounds {
            let t = Instant::now();
            let cap = if capped {
                budget.saturating_sub(started.elapsed())
            } else {
                Duration::MAX
            };
            let mut ventus = || {
                let r = ventus_round(vc, cap, &what);
                reached = reached.min(r.subscribed);
                tenfold = r
                    .first_tenth
                    .map(|(n, t)| (n, r.subscribed, r.ns_per_subscribe / t));
                samples.ventus.push(r.ns_per_subscribe);
            };
            if round % 2 == 0 {
                ventus();
                samples.floor.push(floor_side(s, fc, &what));
            } else {
                samples.floor.push(floor_side(s, fc, &what));
                ventus();
            }
            if started.elapsed() + t.elapsed() > budget || reached < size {
                break;
            }
        }
        let rounds = samples.ventus.len();
        let param = if reached < size {
            format!("S={size} (stopped at {reached})")
        } else {
            format!("S={size}")
        };
        let mut note = "ns per subscribe, S subscribes to one event".to_owned();
        if reached < size {
            note.push_str(&format!(
                "; the round stopped after {:.0} s at {reached} subscribes",
                budget.as_secs_f64()
            ));
        }
        if rounds < s.rounds {
            note.push_str(&format!(
                "; {rounds} rounds (not {}): W7's time is bounded",
                s.rounds
            ));
        }
        let mut row = Row::timing("W7", param, &samples, "F1 push", Target::None).note(note);
        row.valid = failure_count() == before;
        by_size.push(Size {
            size,
            reached,
            ventus: row.ventus,
            floor: row.floor,
            valid: row.valid,
            rounds,
            tenfold,
        });
        rows.push(row);
    }
    if let (Some(first), Some(last)) = (by_size.first(), by_size.last()) {
        let ratio = last.ventus / first.ventus;
        let limit = 1.2;
        let mut context = format!("F1 itself: {:.2}×", last.floor / first.floor);
        if let Some((tenth, stop, growth)) = last.tenfold {
            context.push_str(&format!(
                "; within the stopped round, ns per subscribe up to {stop} / up to {tenth}: \
                 {growth:.2}×"
            ));
        }
        // A stopped round measured the cost per subscribe up to where it stopped: a lower
        // bound of the cost up to S = 100 000 (a subscribe does not get cheaper as the
        // list grows). Above the target it is a miss; below, it decides nothing.
        let (param, target, note) = if last.reached < last.size {
            let param = format!(
                "S={} (stopped at {})/S={}",
                last.size, last.reached, first.size
            );
            if ratio > limit {
                let note = format!(
                    "lower bound: the S={} round stopped at {} subscribes; {context}",
                    last.size, last.reached
                );
                (param, Target::RatioAtMost(limit), note)
            } else {
                let note = format!(
                    "not judged (target ratio ≤ {limit}): the S={} round stopped at {} \
                     subscribes, and the ratio up to there is only a lower bound; {context}",
                    last.size, last.reached
                );
                (param, Target::None, note)
            }
        } else {
            (
                format!("S={}/S={}", last.size, first.size),
                Target::RatioAtMost(limit),
                context,
            )
        };
        rows.push(Row {
            workload: "W7 scale".to_owned(),
            param,
            ventus: last.ventus,
            floor_name: format!("ventus S={}", first.size),
            floor: first.ventus,
            ratio,
            ratio_kind: "ns per subscribe at S=100000 / at S=10000",
            ratio_of_rounds: None,
            unit: "ns",
            target,
            rounds: last.rounds,
            note,
            valid: first.valid && last.valid,
        });
    }
    rows
}
