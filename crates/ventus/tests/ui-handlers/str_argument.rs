fn main() -> Result<(), Box<dyn std::error::Error>> {
    let linker = ventus::EventLinker::builder().build()?;
    linker.on("Greet").subscribe(|name: &str| {
        let _ = name.len();
    })?;
    Ok(())
}
