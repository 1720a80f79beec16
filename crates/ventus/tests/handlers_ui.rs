//! Compile-fail tests of `subscribe`: a function or closure that is not a handler is
//! refused with notes that say what to write. The expected messages are in
//! `tests/ui-handlers/*.stderr`; regenerate them with
//! `TRYBUILD=overwrite cargo test -p ventus --test handlers_ui` and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui-handlers/*.rs");
}
