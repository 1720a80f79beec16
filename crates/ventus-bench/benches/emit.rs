//! Criterion: one emission to N = 1, 10, 100 sync handlers in a sync context (no runtime
//! on the thread). `cargo bench -p ventus-bench --bench emit`; compare against `main`
//! with `-- --save-baseline main` there and `-- --baseline main` here.
// `criterion_group!` and `criterion_main!` generate undocumented public items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ventus::{EventLinker, TokioEventEmitter};

static RUNS: AtomicU64 = AtomicU64::new(0);

fn emit(c: &mut Criterion) {
    let mut group = c.benchmark_group("emit");
    group.throughput(Throughput::Elements(1));
    for n in [1_usize, 10, 100] {
        let linker = EventLinker::builder().build().expect("linker");
        for _ in 0..n {
            linker
                .on("E")
                .subscribe(|_: &u64| {
                    RUNS.fetch_add(1, Ordering::Relaxed);
                })
                .expect("subscribe");
        }
        let emitter = TokioEventEmitter::with_linker(&linker);
        let before = RUNS.load(Ordering::Relaxed);
        let mut emitted = 0_u64;
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                emitted += 1;
                emitter.emit_with("E", black_box(emitted)).expect("emit")
            });
        });
        // A benchmark that skipped its handlers must not look fast.
        assert_eq!(RUNS.load(Ordering::Relaxed) - before, emitted * n as u64);
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = emit
}
criterion_main!(benches);
