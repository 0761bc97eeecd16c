//! Reading a job file as `job run`, `job plan` and `job validate` do: HCL2 or
//! JSON, from a path or `-` (stdin), with `-var`, `-var-file` and `NOMAD_VAR_*`.

use crate::Io;
use clap::Args;
use nomad_types::Job;
use std::path::{Path, PathBuf};

/// The flags every command that reads a job file shares.
#[derive(Debug, Clone, Args)]
pub struct JobFileArgs {
    /// Parse the job file as JSON. If the outer object has a Job field (as from
    /// `nomad job inspect` or `nomad job run -output`), that field is the job.
    #[arg(long)]
    pub json: bool,
    /// HCL1 job files are not supported; accepted to give a clear error.
    #[arg(long)]
    pub hcl1: bool,
    /// Error when a -var names a variable the job does not declare (default true).
    #[arg(long = "hcl2-strict", num_args = 0..=1, default_value_t = true, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub hcl2_strict: bool,
    /// Variable for the job file, `key=value`; can be given several times.
    #[arg(long = "var", value_name = "key=value")]
    pub vars: Vec<String>,
    /// Path to an HCL2 (or JSON) file of variable values; can be given several times.
    #[arg(long = "var-file", value_name = "path")]
    pub var_files: Vec<PathBuf>,
}

/// Why a job file could not become a job. Displayed as Nomad words it, after
/// `Error getting job struct: `.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("Error getting job struct: {0}")]
    Options(String),
    #[error("Error getting job struct: Error reading job file from {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("Error getting job struct: Error parsing job file from {path}:\n{detail}")]
    Parse { path: String, detail: String },
}

/// A parsed job, plus what is needed to point validation errors at the source.
pub struct LoadedJob {
    pub job: Job,
    pub source: nomad_jobspec::SourceMap,
}

/// `nomad job init` writes `example.nomad.hcl`, while older guides run
/// `nomad job run example.nomad`: a missing `X` falls back to an existing
/// `X.hcl`, with a note on stderr.
pub fn resolve_path(path: &str, io: &mut Io<'_>) -> String {
    if path == "-" || Path::new(path).exists() {
        return path.to_string();
    }
    let alt = format!("{path}.hcl");
    if path.ends_with(".nomad") && Path::new(&alt).is_file() {
        let _ = writeln!(io.err, "Note: {path} does not exist; reading {alt} instead");
        return alt;
    }
    path.to_string()
}

pub fn load(path: &str, args: &JobFileArgs, io: &mut Io<'_>) -> Result<LoadedJob, LoadError> {
    if args.hcl1 {
        return Err(LoadError::Options(
            "HCL1 job files are not supported; write the job in HCL2 or JSON".into(),
        ));
    }
    let resolved = resolve_path(path, io);
    let path = resolved.as_str();
    let (display, text, base_dir) = if path == "-" {
        let mut text = String::new();
        io.stdin
            .read_to_string(&mut text)
            .map_err(|source| LoadError::Read {
                path: "stdin".into(),
                source,
            })?;
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        ("<stdin>".to_string(), text, cwd)
    } else {
        let p = Path::new(path);
        let text = std::fs::read_to_string(p).map_err(|source| LoadError::Read {
            path: path.to_string(),
            source,
        })?;
        let base = p
            .parent()
            .map(Path::to_path_buf)
            .filter(|b| !b.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        (path.to_string(), text, base)
    };
    let json = args.json || path.ends_with(".json");
    let opts = nomad_jobspec::ParseOptions {
        filename: display.clone(),
        base_dir,
        vars: args.vars.clone(),
        var_files: args.var_files.clone(),
        env: io.env.clone(),
        strict: args.hcl2_strict,
    };
    let parsed = if json {
        nomad_jobspec::parse_json(&text, &opts)
    } else {
        nomad_jobspec::parse_hcl(&text, &opts)
    };
    parsed
        .map(|(job, source)| LoadedJob { job, source })
        .map_err(|e| LoadError::Parse {
            path: display,
            detail: e.to_string(),
        })
}
