//! Criterion: subscribe then unsubscribe one handler, on an event that already has 0,
//! 100 or 1 000 subscribers. `cargo bench -p ventus-bench --bench churn`.
// `criterion_group!` and `criterion_main!` generate undocumented public items.
#![allow(missing_docs)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ventus::EventLinker;

fn noop(_: &u64) {}

fn churn(c: &mut Criterion) {
    let mut group = c.benchmark_group("churn");
    for existing in [0_usize, 100, 1_000] {
        let linker = EventLinker::builder().build().expect("linker");
        for _ in 0..existing {
            linker.on("E").subscribe(noop).expect("subscribe");
        }
        group.bench_with_input(
            BenchmarkId::new("subscribe+unsubscribe", existing),
            &existing,
            |b, _| {
                b.iter(|| {
                    let sub = linker.on("E").subscribe(noop).expect("subscribe");
                    assert!(sub.unsubscribe());
                });
            },
        );
        assert_eq!(linker.subscriber_count(), existing);
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = churn
}
criterion_main!(benches);
