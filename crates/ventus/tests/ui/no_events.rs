#[ventus::on]
fn nothing() {}

fn main() {}
