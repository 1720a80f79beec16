#[ventus::on("Reading")]
fn reading(volts: &mut f64) {
    *volts += 1.0;
}

fn main() {}
