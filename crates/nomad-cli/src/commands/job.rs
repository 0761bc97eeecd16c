//! `nomad job init`, `nomad job validate`, `nomad job run` (submit, then
//! monitor the evaluation).

use crate::commands::monitor;
use crate::ctx::{Ctx, GlobalArgs};
use crate::format::{FULL_ID, SHORT_ID};
use crate::jobfile::{self, JobFileArgs};
use crate::Io;
use clap::Args;
use nomad_types::api::JobRegisterRequest;

const EXAMPLE: &str = include_str!("../../assets/example.nomad.hcl");
const EXAMPLE_SHORT: &str = include_str!("../../assets/example-short.nomad.hcl");
const DEFAULT_INIT_FILE: &str = "example.nomad.hcl";

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Write a minimal job file without comments.
    #[arg(long)]
    short: bool,
    /// Write a Consul Connect example (not available in this implementation).
    #[arg(long)]
    connect: bool,
    /// File to write (default example.nomad.hcl).
    file: Option<String>,
}

pub fn init(args: InitArgs, io: &mut Io<'_>) -> i32 {
    if args.connect {
        let _ = writeln!(io.err, "The -connect example needs Consul service mesh, which this implementation does not support.");
        return 1;
    }
    let file = args.file.unwrap_or_else(|| DEFAULT_INIT_FILE.to_string());
    if std::path::Path::new(&file).exists() {
        let _ = writeln!(io.err, "Job '{file}' already exists");
        return 1;
    }
    let body = if args.short { EXAMPLE_SHORT } else { EXAMPLE };
    if let Err(e) = std::fs::write(&file, body) {
        let _ = writeln!(io.err, "Failed to write '{file}': {e}");
        return 1;
    }
    let _ = writeln!(io.out, "Example job file written to {file}");
    0
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    file: JobFileArgs,
    /// Accepted for compatibility; Vault is not integrated.
    #[arg(long = "vault-token", hide = true)]
    vault_token: Option<String>,
    /// Accepted for compatibility; Vault is not integrated.
    #[arg(long = "vault-namespace", hide = true)]
    vault_namespace: Option<String>,
    /// The job file, or `-` for stdin.
    path: String,
}

pub fn validate(args: ValidateArgs, io: &mut Io<'_>) -> i32 {
    let loaded = match jobfile::load(&args.path, &args.file, io) {
        Ok(j) => j,
        Err(e) => {
            let _ = writeln!(io.err, "{e}");
            return 1;
        }
    };
    // There is no agent to ask yet, so the job is checked here, as Nomad does
    // when it cannot reach one.
    let _ = writeln!(
        io.out,
        "Driver configuration not validated since connection to Nomad agent couldn't be established.\n"
    );
    let mut job = loaded.job;
    job.canonicalize();
    match nomad_jobspec::validate(&job, &loaded.source) {
        Ok(()) => {
            let _ = writeln!(io.out, "Job validation successful");
            0
        }
        Err(errors) => {
            let _ = writeln!(io.err, "Job validation errors:");
            let _ = writeln!(io.err, "{}", multierror(&errors));
            1
        }
    }
}

/// Formats errors as Go's multierror does (`N errors occurred:` then tab-star bullets).
fn multierror<E: std::fmt::Display>(errors: &[E]) -> String {
    let mut s = if errors.len() == 1 {
        "1 error occurred:\n".to_string()
    } else {
        format!("{} errors occurred:\n", errors.len())
    };
    for e in errors {
        s.push_str(&format!("\t* {e}\n"));
    }
    s
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    file: JobFileArgs,
    /// Print the job as the JSON the API takes, instead of submitting it.
    #[arg(long)]
    output: bool,
    /// Return right after submitting, without monitoring.
    #[arg(long)]
    detach: bool,
    /// Submit only if the job's modify index is this one (0: only if new).
    #[arg(long = "check-index", value_name = "index")]
    check_index: Option<String>,
    /// Keep the group counts of the running job.
    #[arg(long = "preserve-counts")]
    preserve_counts: bool,
    /// Keep the task resources of the running job.
    #[arg(long = "preserve-resources")]
    preserve_resources: bool,
    /// Override soft-mandatory policies (accepted; there are none).
    #[arg(long = "policy-override")]
    policy_override: bool,
    /// Priority of the evaluation (1-100).
    #[arg(long = "eval-priority", default_value_t = 0)]
    eval_priority: i64,
    /// Consul namespace (accepted; Consul is not integrated).
    #[arg(long = "consul-namespace", hide = true)]
    consul_namespace: Option<String>,
    /// Vault namespace (accepted; Vault is not integrated).
    #[arg(long = "vault-namespace", hide = true)]
    vault_namespace: Option<String>,
    /// Show full IDs.
    #[arg(long)]
    verbose: bool,
    /// The job file, or `-` for stdin.
    path: String,
}

pub fn run(args: RunArgs, g: &GlobalArgs, io: &mut Io<'_>) -> i32 {
    let loaded = match jobfile::load(&args.path, &args.file, io) {
        Ok(j) => j,
        Err(e) => {
            let _ = writeln!(io.err, "{e}");
            return 1;
        }
    };
    if args.output {
        let req = serde_json::json!({ "Job": loaded.job });
        return match nomad_types::json::to_string_pretty_go(&req) {
            Ok(s) => {
                let _ = writeln!(io.out, "{s}");
                0
            }
            Err(e) => {
                let _ = writeln!(io.err, "Error converting job: {e}");
                1
            }
        };
    }
    let (check_index, enforce) = match args.check_index.as_deref() {
        None | Some("") => (0, false),
        Some(s) => {
            match s.parse::<u64>() {
                Ok(n) => (n, true),
                Err(e) => {
                    let _ = writeln!(io.err, "Error parsing check-index value {s:?}: strconv.ParseUint: parsing {s:?}: {e}");
                    return 1;
                }
            }
        }
    };
    let Some(mut ctx) = Ctx::new(g, io) else {
        return 1;
    };
    let job = loaded.job;
    if let Some(r) = job.region.as_deref().filter(|r| !r.is_empty()) {
        ctx.client.set_region(r);
    }
    if let Some(n) = job.namespace.as_deref().filter(|n| !n.is_empty()) {
        ctx.client.set_namespace(n);
    }
    let periodic = job.is_periodic();
    let paramjob = job.is_parameterized();
    let multiregion = job.is_multiregion();
    let req = JobRegisterRequest {
        job: Some(job),
        enforce_index: enforce,
        job_modify_index: check_index,
        policy_override: args.policy_override,
        preserve_counts: args.preserve_counts,
        preserve_resources: args.preserve_resources,
        eval_priority: args.eval_priority,
        ..JobRegisterRequest::default()
    };
    let resp = match ctx.block(ctx.client.job_register(&req)) {
        Ok(r) => r,
        Err(e) => {
            let text = e.to_string();
            if let Some(pos) = text.find(ENFORCE_PREFIX) {
                let msg = text[pos..].trim_end_matches(')');
                let _ = writeln!(io.err, "{msg}");
                let _ = writeln!(io.err, "Job not updated");
                return 1;
            }
            let _ = writeln!(io.err, "Error submitting job: {text}");
            return 1;
        }
    };
    if !resp.warnings.is_empty() {
        let _ = writeln!(io.out, "Job Warnings:\n{}\n", resp.warnings);
    }
    if args.detach || periodic || paramjob || multiregion {
        let _ = writeln!(io.out, "Job registration successful");
        if !paramjob && !periodic {
            let _ = writeln!(io.out, "Evaluation ID: {}", resp.eval_id);
        }
        return 0;
    }
    let len = if args.verbose { FULL_ID } else { SHORT_ID };
    monitor::monitor(&ctx, io, &resp.eval_id, len)
}

/// The text Nomad's check-index refusals start with.
pub const ENFORCE_PREFIX: &str = "Enforcing job modify index";
