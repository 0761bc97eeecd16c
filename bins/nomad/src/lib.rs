//! The agent's composition, shared by the `nomad`, `nomad-server` and
//! `nomad-client` binaries: [`agent::run`] builds the server, the client
//! and the `/v1` HTTP API from a `nomad_cli::agent::AgentConfig`.

pub mod agent;
pub mod client_fs;
pub mod client_ops;
pub mod forward;
pub mod local;

/// The client's artifact unpacker (see `nomad_client::artifact::helper`):
/// the binaries that run a client call this first thing in `main`.
pub use nomad_client::artifact::helper_main as artifact_helper_main;

/// Runs one role (`-server` or `-client`) from `nomad agent` flags and
/// config files: the role binaries' `main`.
pub fn run_role(server: bool) -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let role = if server { "server" } else { "client" };
    if args
        .iter()
        .any(|a| a == "-version" || a == "--version" || a == "version")
    {
        println!("Nomad v{} ({role} role)", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    let mut flags = args;
    flags.push(format!("-{role}"));
    match nomad_cli::agent::parse(&flags) {
        Ok(mut cfg) => {
            cfg.server = server;
            cfg.client = !server;
            agent::run(cfg)
        }
        Err(e) => {
            eprintln!("==> Error: {e}");
            1
        }
    }
}
