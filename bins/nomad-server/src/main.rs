//! `nomad-server`: runs the server role of an agent from Nomad agent config
//! files and flags (`-config FILE|DIR`, `-data-dir`, `-bind`, …), as
//! `nomad agent -server` would.
//!
//! Thin by design: the composition lives in `nomad_agent` (bins/nomad).

/// mimalloc rather than glibc's malloc: measured in docs/benchmarks.md
/// ("Allocator").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(nomad_agent::run_role(true));
}
