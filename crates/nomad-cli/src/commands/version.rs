//! `nomad version`.

use crate::Io;

pub fn run(io: &mut Io<'_>) -> i32 {
    let _ = writeln!(io.out, "Nomad v{}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(
        io.out,
        "Implementation nomad-rs (Rust), Nomad API compatible"
    );
    0
}
