struct Reading(f64);

#[ventus::on("Reading")]
fn reading<'a>(reading: &'a Reading) {
    let _ = reading.0;
}

fn main() {}
