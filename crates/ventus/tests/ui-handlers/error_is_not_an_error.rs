#[derive(Debug)]
struct OutOfStock;

fn on_order(order: &u64) -> Result<(), OutOfStock> {
    if *order == 0 {
        return Err(OutOfStock);
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let linker = ventus::EventLinker::builder().build()?;
    linker.on("OrderPlaced").subscribe(on_order)?;
    Ok(())
}
