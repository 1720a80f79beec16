fn main() -> Result<(), Box<dyn std::error::Error>> {
    let linker = ventus::EventLinker::builder().build()?;
    linker.on("Count").subscribe(|n| {
        let _: &u32 = n;
    })?;
    Ok(())
}
