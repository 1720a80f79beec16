ventus::linker! {
    static NOBODY = ventus::EventLinker::builder().name("nobody").max_subscribers(0);
}

fn main() {}
