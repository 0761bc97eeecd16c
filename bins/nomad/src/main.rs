//! `nomad`: the command-line interface, and `nomad agent`, which composes a
//! server, a client and the `/v1` HTTP API in one process (see
//! `nomad_agent::agent`).

/// mimalloc rather than glibc's malloc: measured in docs/benchmarks.md
/// ("Allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // `nomad __artifact-unpack …`: the agent's low-privilege artifact
    // unpacker; returns at once otherwise.
    nomad_agent::artifact_helper_main();
    nomad_cli::agent::set_agent_runner(nomad_agent::agent::run);
    std::process::exit(nomad_cli::main());
}
