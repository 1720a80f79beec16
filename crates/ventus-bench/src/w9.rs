//! W9: what patterns and priorities cost an emission. Each row sets ventus against
//! ventus without the feature (or with less of it), measured in the same run: the
//! feature's own cost, which the plain W1 rows already set against F1.

use std::sync::atomic::Ordering;

use ventus::TokioEventEmitter;

use crate::harness::{failure_count, leak_counter, Expect, Settings};
use crate::report::{Row, Target};
use crate::workloads::{linker, rounds, timed, validity, N};

/// A sync-context emitter whose linker has one counting handler on `event` (or, with
/// `pattern`, on that pattern) and `patterns` other patterns that `event` does not
/// match.
fn setup(
    event: &str,
    pattern: Option<&str>,
    patterns: usize,
    what: &str,
) -> (TokioEventEmitter, Expect) {
    let linker = linker();
    let counter = leak_counter();
    linker
        .on(pattern.unwrap_or(event))
        .subscribe(move |_: &u64| {
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap_or_else(|e| panic!("subscribe: {e}"));
    for p in 0..patterns {
        linker
            .on(format!("other{p}.*").as_str())
            .subscribe(|_: &u64| ())
            .unwrap_or_else(|e| panic!("subscribe: {e}"));
    }
    (
        TokioEventEmitter::with_linker(&linker),
        Expect::new(what, vec![counter]),
    )
}

/// Emits `event` `N` times on `emitter`, and checks its one handler ran each time.
fn batch(
    emitter: &TokioEventEmitter,
    expect: &mut Expect,
    event: &str,
    what: &str,
) -> std::time::Duration {
    let d = timed(what, N, |i| emitter.emit_with(event, i).is_ok());
    expect.ran(N);
    d
}

pub(crate) fn w9(s: &Settings) -> Vec<Row> {
    let mut rows = Vec::new();

    // An exact name with 100 patterns linked that it does not match, against the same
    // emission with no pattern linked.
    let before = failure_count();
    let what = "W9 P=100 no match";
    let (with, mut ew) = setup("E", None, 100, what);
    let (without, mut eo) = setup("E", None, 0, "W9 no patterns");
    let samples = rounds(
        s,
        N,
        || batch(&with, &mut ew, "E", what),
        || batch(&without, &mut eo, "E", what),
    );
    rows.push(validity(
        Row::timing(
            "W9",
            "P=100, name matches none",
            &samples,
            "ventus, no pattern",
            Target::RatioAtMost(1.1),
        ),
        before,
    ));

    // A name matched by one pattern among 1 000, against one among 10: the match is
    // not redone per emission, so the count of patterns does not show.
    let before = failure_count();
    let what = "W9 P=1000 match";
    let (large, mut el) = setup("order.created", Some("order.*"), 1_000, what);
    let (small, mut es) = setup("order.created", Some("order.*"), 10, "W9 P=10 match");
    let samples = rounds(
        s,
        N,
        || batch(&large, &mut el, "order.created", what),
        || batch(&small, &mut es, "order.created", what),
    );
    rows.push(validity(
        Row::timing(
            "W9",
            "P=1000 / P=10, name matches one",
            &samples,
            "ventus, P=10",
            Target::RatioAtMost(1.1),
        ),
        before,
    ));

    // K = 10 handlers with mixed priorities, against K = 10 at the default priority.
    let before = failure_count();
    let what = "W9 priorities";
    let mixed = priorities_setup(true, what);
    let plain = priorities_setup(false, "W9 no priorities");
    let (me, mut mx) = mixed;
    let (pe, mut px) = plain;
    let samples = rounds(
        s,
        N,
        || {
            let d = timed(what, N, |i| me.emit_with("E", i).is_ok());
            mx.ran(N);
            d
        },
        || {
            let d = timed(what, N, |i| pe.emit_with("E", i).is_ok());
            px.ran(N);
            d
        },
    );
    rows.push(validity(
        Row::timing(
            "W9",
            "K=10, mixed priorities",
            &samples,
            "ventus, one priority",
            Target::RatioAtMost(1.05),
        ),
        before,
    ));
    rows
}

/// Ten counting handlers on `E`, with priorities 9, 8, … 0 subscribed in rising order
/// (each one inserted first) when `mixed`, else all at the default.
fn priorities_setup(mixed: bool, what: &str) -> (TokioEventEmitter, Expect) {
    let linker = linker();
    let counters: Vec<_> = (0..10).map(|_| leak_counter()).collect();
    for (i, &c) in counters.iter().enumerate() {
        let priority = if mixed { i as i32 } else { 0 };
        linker
            .on("E")
            .priority(priority)
            .subscribe(move |_: &u64| {
                c.fetch_add(1, Ordering::Relaxed);
            })
            .unwrap_or_else(|e| panic!("subscribe: {e}"));
    }
    (
        TokioEventEmitter::with_linker(&linker),
        Expect::new(what, counters),
    )
}
