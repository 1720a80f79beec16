#[ventus::on("Reading")]
fn reading(volts: f64) {
    let _ = volts;
}

fn main() {}
