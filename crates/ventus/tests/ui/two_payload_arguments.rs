#[ventus::on("Transfer")]
fn transfer(from: &u64, to: &u64) {
    let _ = (from, to);
}

fn main() {}
