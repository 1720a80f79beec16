#[ventus::on("OrderPlaced", name = "")]
fn send_receipt() {}

fn main() {}
