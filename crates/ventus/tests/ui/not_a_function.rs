#[ventus::on("A")]
struct NotAFunction;

fn main() {}
