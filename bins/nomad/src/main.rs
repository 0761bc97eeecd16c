//! `nomad`: the command-line interface (and, later, `nomad agent`).

fn main() {
    std::process::exit(nomad_cli::main());
}
