#[derive(ventus::Event)]
#[event(name = "")]
struct Nameless;

#[derive(ventus::Event)]
#[event(title = "x")]
struct Titled;

fn main() {}
