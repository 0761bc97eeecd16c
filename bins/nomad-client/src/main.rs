//! `nomad-client`: runs the client role of an agent from Nomad agent config files.
//!
//! Thin by design: argument parsing and composition only. The client agent itself
//! is not built yet; until it is, this binary says so and exits non-zero.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args
        .iter()
        .any(|a| a == "-version" || a == "--version" || a == "version")
    {
        println!("Nomad v{} (client role)", env!("CARGO_PKG_VERSION"));
        return;
    }
    eprintln!(
        "nomad-client: the client agent is not built yet in this version; nothing was started."
    );
    std::process::exit(1);
}
