//! W3: registry scaling, after Pyventus's `EventEmitterBenchmark`.
//!
//! A registry holds S subscriptions (event–subscriber links) over √S events
//! `Event0..`, laid out as Pyventus lays them out in each event-subscription mode:
//!
//! - **single**: every subscriber is linked to one event (S/√S per event);
//! - **random**: every subscriber is linked to its event and a random sample of the
//!   others, until there are S links;
//! - **all**: S/√S subscribers, each linked to every event.
//!
//! and with Pyventus's one-time modes: **none** (no once-subscriber), **random** (a coin
//! decides each), **all** (every subscriber is a once-subscriber).
//!
//! What is timed is the emission of one event with one handler: 64 target events
//! `Target0..Target63`, each with exactly one counting handler whose subscriber is laid
//! out as the mode says (random / all: also linked to a random sample of / every
//! background event) and is a once-subscriber as the one-time mode says. A batch emits
//! every target (8 times over when no target is once). After each batch every target's
//! counter is checked, the background handlers must not have run, and the targets that
//! were once-subscribers are subscribed again, outside the timed part, so the next
//! batch has the same work. F1 is built with the same links and emits the same names.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ventus::{EventLinker, Subscription, TokioEventEmitter};

use crate::floors::{counting, F1};
use crate::harness::{fail, failure_count, interleave, leak_counter, Expect, Rng, Settings};
use crate::report::{Row, Target};
use crate::workloads::isqrt;

/// The registry sizes.
pub(crate) const SIZES: [usize; 5] = [10, 100, 1_000, 10_000, 100_000];

const TARGETS: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spread {
    Single,
    Random,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Once {
    No,
    Random,
    All,
}

impl Spread {
    pub(crate) const ALL: [Spread; 3] = [Spread::Single, Spread::Random, Spread::All];
    fn name(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Random => "random",
            Self::All => "all",
        }
    }
}

impl Once {
    pub(crate) const ALL: [Once; 3] = [Once::No, Once::Random, Once::All];
    fn name(self) -> &'static str {
        match self {
            Self::No => "none",
            Self::Random => "random",
            Self::All => "all",
        }
    }
    fn pick(self, rng: &mut Rng) -> bool {
        match self {
            Self::No => false,
            Self::Random => rng.coin(),
            Self::All => true,
        }
    }
}

pub(crate) fn mode_name(spread: Spread, once: Once) -> String {
    format!("{}/{}", spread.name(), once.name())
}

struct Setup {
    linker: EventLinker,
    emitter: TokioEventEmitter,
    f1: F1,
    targets: Vec<String>,
    /// Every target subscriber's events (its own target first).
    target_links: Vec<Vec<String>>,
    target_once: Vec<bool>,
    subs: Vec<Subscription>,
    ventus: Expect,
    floor: Expect,
    stray_ventus: &'static AtomicU64,
    stray_floor: &'static AtomicU64,
    passes: u64,
}

fn build(size: usize, spread: Spread, once: Once, seed: u64) -> Setup {
    let mut rng = Rng::new(seed);
    let linker = EventLinker::builder()
        .build()
        .unwrap_or_else(|e| panic!("a fresh linker: {e}"));
    let mut f1 = F1::default();
    let stray_ventus = leak_counter();
    let stray_floor = leak_counter();
    let e = isqrt(size);
    let names: Vec<String> = (0..e).map(|i| format!("Event{i}")).collect();
    let mut subscribe = |links: &[usize], is_once: bool| {
        let events: Vec<&str> = links.iter().map(|&i| names[i].as_str()).collect();
        let builder = linker.on(events);
        let builder = if is_once { builder.once() } else { builder };
        builder
            .subscribe(move |_: &u64| {
                stray_ventus.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap_or_else(|err| panic!("subscribe: {err}"));
        for &i in links {
            f1.add(&names[i], counting(stray_floor));
        }
    };
    match spread {
        Spread::Single => {
            let per = size / e;
            for ev in 0..e {
                for _ in 0..per {
                    subscribe(&[ev], once.pick(&mut rng));
                }
            }
            for ev in 0..size - per * e {
                subscribe(&[ev], once.pick(&mut rng));
            }
        }
        Spread::All => {
            let all: Vec<usize> = (0..e).collect();
            for _ in 0..size / e {
                subscribe(&all, once.pick(&mut rng));
            }
            let rest = size - (size / e) * e;
            if rest > 0 {
                subscribe(&all[..rest], once.pick(&mut rng));
            }
        }
        Spread::Random => {
            let mut links = 0;
            let mut home = 0;
            while links < size {
                let k = rng.below(e);
                let mut set = vec![home];
                set.extend(rng.sample_except(e, k, home));
                set.truncate(size - links);
                subscribe(&set, once.pick(&mut rng));
                links += set.len();
                home = (home + 1) % e;
            }
        }
    }

    let targets: Vec<String> = (0..TARGETS).map(|j| format!("Target{j}")).collect();
    let mut target_links = Vec::with_capacity(TARGETS);
    let mut target_once = Vec::with_capacity(TARGETS);
    let vc: Vec<_> = (0..TARGETS).map(|_| leak_counter()).collect();
    let fc: Vec<_> = (0..TARGETS).map(|_| leak_counter()).collect();
    for (j, target) in targets.iter().enumerate() {
        let mut links = vec![target.clone()];
        match spread {
            Spread::Single => {}
            Spread::Random => {
                let k = rng.below(e + 1);
                links.extend(
                    rng.sample_except(e, k, usize::MAX)
                        .into_iter()
                        .map(|i| names[i].clone()),
                );
            }
            Spread::All => links.extend(names.iter().cloned()),
        }
        for link in &links {
            f1.add(link, counting(fc[j]));
        }
        target_links.push(links);
        target_once.push(once.pick(&mut rng));
    }
    let emitter = TokioEventEmitter::with_linker(&linker);
    let any_once = target_once.iter().any(|&o| o);
    let mut setup = Setup {
        linker,
        emitter,
        f1,
        targets,
        target_links,
        target_once,
        subs: Vec::new(),
        ventus: Expect::new(
            format!("W3 {} S={size} ventus", mode_name(spread, once)),
            vc,
        ),
        floor: Expect::new(format!("W3 {} S={size} F1", mode_name(spread, once)), fc),
        stray_ventus,
        stray_floor,
        passes: if any_once { 1 } else { 8 },
    };
    setup.subs = (0..TARGETS).map(|j| setup.subscribe_target(j)).collect();
    setup
}

impl Setup {
    fn subscribe_target(&self, j: usize) -> Subscription {
        let counter = self.ventus.cells()[j];
        let builder = self.linker.on(&self.target_links[j][..]);
        let builder = if self.target_once[j] {
            builder.once()
        } else {
            builder
        };
        builder
            .subscribe(move |_: &u64| {
                counter.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap_or_else(|e| panic!("subscribe: {e}"))
    }

    fn ops(&self) -> u64 {
        self.passes * TARGETS as u64
    }

    fn ventus_batch(&mut self) -> Duration {
        let mut errors = 0;
        let start = Instant::now();
        for pass in 0..self.passes {
            for name in &self.targets {
                if self
                    .emitter
                    .emit_with(name.as_str(), black_box(pass))
                    .is_err()
                {
                    errors += 1;
                }
            }
        }
        let d = start.elapsed();
        if errors > 0 {
            fail(format!("W3 ventus: {errors} emissions returned an error"));
        }
        self.ventus.ran(self.passes);
        if self.stray_ventus.load(Ordering::Relaxed) != 0 {
            fail("W3 ventus: a background handler ran");
        }
        // Once-targets ran and were unlinked: link them again for the next batch.
        for j in 0..TARGETS {
            if self.target_once[j] {
                if self.subs[j].is_linked() {
                    fail(format!("W3 ventus: once-target {j} is still linked"));
                }
                self.subs[j] = self.subscribe_target(j);
            }
        }
        d
    }

    fn floor_batch(&mut self) -> Duration {
        let mut ran = 0;
        let start = Instant::now();
        for pass in 0..self.passes {
            for name in &self.targets {
                ran += self.f1.emit(name, &black_box(pass));
            }
        }
        let d = start.elapsed();
        if ran as u64 != self.ops() {
            fail(format!(
                "W3 F1: {ran} handler calls, expected {}",
                self.ops()
            ));
        }
        self.floor.ran(self.passes);
        if self.stray_floor.load(Ordering::Relaxed) != 0 {
            fail("W3 F1: a background handler ran");
        }
        d
    }
}

/// How long `f` took, all of it.
fn wall(f: impl FnOnce() -> Duration) -> Duration {
    let start = Instant::now();
    let _timed = f();
    start.elapsed()
}

/// Every size in every mode: one row per (mode, S), then one "W3 scale" row per mode
/// (S = 100 000 against S = 10).
pub(crate) fn w3(s: &Settings) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut scale = Vec::new();
    for spread in Spread::ALL {
        for once in Once::ALL {
            let mode = mode_name(spread, once);
            let mut by_size = Vec::new();
            for (i, &size) in SIZES.iter().enumerate() {
                let before = failure_count();
                let build_start = Instant::now();
                let mut setup = build(size, spread, once, 0x5EED + i as u64);
                let build_time = build_start.elapsed();
                let _ = (setup.ventus_batch(), setup.floor_batch());
                // Each side fills its own round budget, so the fast floor is not measured
                // on one cold batch. Sized by wall time, not timed time: a ventus batch
                // with once-targets links them again afterwards, outside the timing, and
                // that can cost far more than the timed emissions.
                let bv = s.batches_for(wall(|| setup.ventus_batch()), 10_000);
                let bf = s.batches_for(wall(|| setup.floor_batch()), 10_000);
                let ops = setup.ops();
                let setup = std::cell::RefCell::new(setup);
                let samples = interleave(
                    s.rounds,
                    || {
                        let mut st = setup.borrow_mut();
                        let t: Duration = (0..bv).map(|_| st.ventus_batch()).sum();
                        t.as_nanos() as f64 / (ops * bv as u64) as f64
                    },
                    || {
                        let mut st = setup.borrow_mut();
                        let t: Duration = (0..bf).map(|_| st.floor_batch()).sum();
                        t.as_nanos() as f64 / (ops * bf as u64) as f64
                    },
                );
                let mut row = Row::timing(
                    "W3",
                    format!("{mode} S={size}"),
                    &samples,
                    "F1",
                    Target::RatioAtMost(1.0),
                )
                .note(format!("setup {:.0} ms", build_time.as_secs_f64() * 1e3));
                row.valid = failure_count() == before;
                by_size.push((size, row.ventus, row.floor, row.valid));
                rows.push(row);
                // Dropping a large registry takes a while; not part of any timing.
                drop(setup);
            }
            scale.push((mode, by_size));
        }
    }
    for (mode, by_size) in scale {
        let (Some(first), Some(last)) = (by_size.first(), by_size.last()) else {
            continue;
        };
        rows.push(Row {
            workload: "W3 scale".to_owned(),
            param: format!("{mode} S={}/S={}", last.0, first.0),
            ventus: last.1,
            floor_name: format!("ventus S={}", first.0),
            floor: first.1,
            ratio: last.1 / first.1,
            ratio_kind: "ventus_ns(S=100000) / ventus_ns(S=10)",
            ratio_of_rounds: None,
            unit: "ns",
            target: Target::RatioAtMost(1.1),
            rounds: s.rounds,
            note: format!("F1 itself: {:.2}×", last.2 / first.2),
            valid: first.3 && last.3,
        });
    }
    rows
}
