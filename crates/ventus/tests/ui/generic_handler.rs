#[ventus::on("Anything")]
fn anything<T: std::fmt::Debug + Send + Sync + 'static>(value: &T) {
    let _ = value;
}

fn main() {}
