#[derive(Clone)]
struct OrderCreated;
impl ventus::Event for OrderCreated {}

#[ventus::on("A", OrderCreated)]
fn mixed() {}

#[ventus::on("A", once)]
fn once_as_option() {}

#[ventus::on("A", retries = 3)]
fn unknown_option() {}

#[ventus::on("")]
fn empty_name() {}

#[ventus::on("A", blocking)]
async fn blocking_async() {}

#[ventus::on("A", on_success = make_callback())]
fn callback_call() {}

fn make_callback() -> fn(&()) {
    |_| ()
}

fn main() {}
