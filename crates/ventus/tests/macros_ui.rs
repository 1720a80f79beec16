//! Compile-fail tests of the macros: a wrong signature or attribute gives an error that
//! says what is accepted. The expected messages are in `tests/ui/*.stderr`; regenerate
//! them with `TRYBUILD=overwrite cargo test -p ventus --test macros_ui` and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
