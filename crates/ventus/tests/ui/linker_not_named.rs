static PLAIN: std::sync::OnceLock<ventus::EventLinker> = std::sync::OnceLock::new();

#[ventus::on("A", linker = PLAIN)]
fn handler() {}

fn main() {}
