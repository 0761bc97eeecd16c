//! `nomad alloc fs` (`command/alloc_fs.go`): list, stat or print the files
//! of an allocation's directory.

use clap::Args;
use nomad_types::api::AllocFileInfo;
use nomad_types::GoTime;

use super::alloc::alloc_by_prefix;
use crate::ctx::{Ctx, GlobalArgs};
use crate::format::{format_go_time, format_list, ibytes};
use crate::Io;

#[derive(Debug, Args)]
pub struct AllocFsArgs {
    /// Sizes in bytes rather than KiB, MiB, ….
    #[arg(short = 'H')]
    machine: bool,
    /// Show the file's entry instead of its contents.
    #[arg(long)]
    stat: bool,
    /// Full IDs.
    #[arg(long)]
    verbose: bool,
    /// `<alloc> [<path>]` (the path defaults to the allocation directory).
    args: Vec<String>,
}

/// `nomad alloc fs [-H] [-stat] [-verbose] <alloc> [<path>]`: a directory
/// is listed, a file printed; `-stat` shows the entry of either.
pub fn fs(args: AllocFsArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let (alloc, path) = match args.args.as_slice() {
        [alloc] => (alloc, "/"),
        [alloc, path] => (alloc, path.as_str()),
        _ => {
            let _ = writeln!(
                io.err,
                "This command takes one or two arguments: <alloc> [<path>]"
            );
            let _ = writeln!(io.err, "{}", super::servers::help_hint("alloc fs"));
            return 1;
        }
    };
    let Some(ctx) = Ctx::new(g, io) else { return 1 };
    let alloc = match alloc_by_prefix(&ctx, alloc, args.verbose, io, 1) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let file = match ctx.block(ctx.client.alloc_fs_stat(&alloc.id, path)) {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(io.err, "Error stating file: {e}");
            return 1;
        }
    };
    if args.stat {
        let _ = writeln!(io.out, "{}", table(&[file], args.machine));
        return 0;
    }
    if file.is_dir {
        let files = match ctx.block(ctx.client.alloc_fs_list(&alloc.id, path)) {
            Ok(f) => f,
            Err(e) => {
                let _ = writeln!(io.err, "Error listing alloc dir: {e}");
                return 1;
            }
        };
        if !files.is_empty() {
            let _ = writeln!(io.out, "{}", table(&files, args.machine));
        }
        return 0;
    }
    let mut stream = match ctx.block(ctx.client.alloc_fs_cat(&alloc.id, path)) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(io.err, "Error reading file: {e}");
            return 1;
        }
    };
    loop {
        match ctx.block(stream.next_chunk()) {
            Ok(Some(chunk)) => {
                if io.out.write_all(&chunk).is_err() {
                    return 1;
                }
            }
            Ok(None) => return 0,
            Err(e) => {
                let _ = writeln!(io.err, "Error reading file: {e}");
                return 1;
            }
        }
    }
}

/// Nomad's `Mode  Size  Modified Time  Name` table; directories end in `/`.
fn table(files: &[AllocFileInfo], machine: bool) -> String {
    let mut out = vec!["Mode|Size|Modified Time|Name".to_string()];
    for f in files {
        let size = if machine {
            f.size.to_string()
        } else {
            ibytes(u64::try_from(f.size).unwrap_or(0))
        };
        let name = if f.is_dir {
            format!("{}/", f.name)
        } else {
            f.name.clone()
        };
        let modified = format_go_time(&GoTime(f.mod_time.clone()));
        out.push(format!("{}|{size}|{modified}|{name}", f.file_mode));
    }
    format_list(&out)
}
