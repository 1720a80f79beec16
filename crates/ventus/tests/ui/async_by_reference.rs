#[ventus::on("Reading")]
async fn reading(volts: &f64) {
    let _ = volts;
}

fn main() {}
