struct Counter;

impl Counter {
    #[ventus::on("Tick")]
    fn tick(&self) {}
}

fn main() {}
