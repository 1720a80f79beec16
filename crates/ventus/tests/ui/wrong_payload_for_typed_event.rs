#[derive(Clone, ventus::Event)]
struct OrderCreated {
    id: u64,
}

#[ventus::on(OrderCreated)]
fn order(id: &u64) {
    let _ = id;
}

#[ventus::on(OrderCreated)]
async fn order_async(id: u64) {
    let _ = id;
}

fn main() {
    let _ = OrderCreated { id: 1 }.id;
}
