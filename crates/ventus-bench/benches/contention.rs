//! Criterion: the same event emitted from 1 and from 2 threads at once (one sync handler
//! counting in a per-thread counter). The time is per round of one emission on every
//! thread, so perfect scaling keeps `2 threads` equal to `1 thread`.
//! `cargo bench -p ventus-bench --bench contention`.
// `criterion_group!` and `criterion_main!` generate undocumented public items.
#![allow(missing_docs)]

use std::cell::Cell;
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ventus::{EventLinker, TokioEventEmitter};

thread_local! {
    static HITS: Cell<u64> = const { Cell::new(0) };
}

fn contention(c: &mut Criterion) {
    let linker = EventLinker::builder().build().expect("linker");
    linker
        .on("E")
        .subscribe(|_: &u64| HITS.with(|h| h.set(h.get() + 1)))
        .expect("subscribe");
    let emitter = TokioEventEmitter::with_linker(&linker);
    let mut group = c.benchmark_group("contention");
    for threads in [1_usize, 2] {
        group.bench_with_input(
            BenchmarkId::new("threads", threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iters| {
                    let barrier = Barrier::new(threads);
                    let spans: Vec<(Instant, Instant)> = std::thread::scope(|scope| {
                        let handles: Vec<_> = (0..threads)
                            .map(|_| {
                                scope.spawn(|| {
                                    barrier.wait();
                                    let before = HITS.with(Cell::get);
                                    let start = Instant::now();
                                    for i in 0..iters {
                                        let _ = emitter.emit_with("E", black_box(i)).expect("emit");
                                    }
                                    let end = Instant::now();
                                    assert_eq!(HITS.with(Cell::get) - before, iters);
                                    (start, end)
                                })
                            })
                            .collect();
                        handles
                            .into_iter()
                            .map(|h| h.join().expect("thread"))
                            .collect()
                    });
                    let first = spans.iter().map(|s| s.0).min().expect("a thread");
                    let last = spans.iter().map(|s| s.1).max().expect("a thread");
                    last - first
                });
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = contention
}
criterion_main!(benches);
