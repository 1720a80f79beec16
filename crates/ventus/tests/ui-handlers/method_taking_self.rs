struct Billing;

impl Billing {
    fn on_paid(&self, amount: &u64) {
        let _ = (self, amount);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let linker = ventus::EventLinker::builder().build()?;
    linker.on("OrderPaid").subscribe(Billing::on_paid)?;
    Ok(())
}
