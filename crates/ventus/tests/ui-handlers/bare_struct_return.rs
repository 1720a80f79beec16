struct Receipt {
    total: u64,
}

fn on_order() -> Receipt {
    Receipt { total: 3 }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let linker = ventus::EventLinker::builder().build()?;
    linker.on("OrderPlaced").subscribe(on_order)?;
    Ok(())
}
