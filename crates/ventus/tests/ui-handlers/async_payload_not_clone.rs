struct Order {
    id: u64,
}

async fn on_order(order: Order) {
    let _ = order.id;
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let linker = ventus::EventLinker::builder().build()?;
    linker.on("OrderPlaced").subscribe(on_order)?;
    Ok(())
}
