//! `nomad-server`: runs the server role of an agent from Nomad agent config files.
//!
//! Thin by design: argument parsing and composition only. The server agent itself
//! is not built yet; until it is, this binary says so and exits non-zero.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args
        .iter()
        .any(|a| a == "-version" || a == "--version" || a == "version")
    {
        println!("Nomad v{} (server role)", env!("CARGO_PKG_VERSION"));
        return;
    }
    eprintln!(
        "nomad-server: the server agent is not built yet in this version; nothing was started."
    );
    std::process::exit(1);
}
