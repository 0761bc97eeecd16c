//! The command tree and dispatch.

use crate::commands::{
    alloc, alloc_actions, alloc_fs, deployment, eval, job, job_actions, job_history, jobops, node,
    node_drain, operator, plan, raft, servers, snapshot, status, version,
};
use crate::ctx::GlobalArgs;
use crate::Io;
use clap::{Parser, Subcommand};
use std::ffi::OsString;

#[derive(Debug, Parser)]
#[command(
    name = "nomad",
    about = "A Nomad-compatible cluster manager and scheduler",
    disable_version_flag = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Print the version (as `nomad version`).
    #[arg(short = 'v', long = "version", global = false)]
    version: bool,
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Interact with jobs.
    Job {
        #[command(subcommand)]
        command: JobCommand,
    },
    /// Interact with client nodes.
    Node {
        #[command(subcommand)]
        command: NodeCommand,
    },
    /// Interact with servers.
    Server {
        #[command(subcommand)]
        command: ServerCommand,
    },
    /// Interact with allocations.
    Alloc {
        #[command(subcommand)]
        command: AllocCommand,
    },
    /// Interact with evaluations.
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
    /// Interact with deployments.
    Deployment {
        #[command(subcommand)]
        command: DeploymentCommand,
    },
    /// Interact with the system API.
    System {
        #[command(subcommand)]
        command: SystemCommand,
    },
    /// Cluster-level tools for Nomad operators.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Create an example job file (alias of `job init`).
    Init(job::InitArgs),
    /// Run a new job or update an existing one (alias of `job run`).
    Run(job::RunArgs),
    /// Dry-run a job update (alias of `job plan`).
    Plan(plan::PlanArgs),
    /// Status of jobs, or of whatever an ID prefix names.
    Status(status::JobStatusArgs),
    /// Stop a job (alias of `job stop`).
    Stop(jobops::StopArgs),
    /// Inspect a submitted job (alias of `job inspect`).
    Inspect(jobops::InspectArgs),
    /// Check a job specification for errors (alias of `job validate`).
    Validate(job::ValidateArgs),
    /// Stream the logs of a task (alias of `alloc logs`).
    Logs(alloc::AllocLogsArgs),
    /// Allocation status (alias of `alloc status`).
    #[command(name = "alloc-status")]
    AllocStatus(alloc::AllocStatusArgs),
    /// Node status (alias of `node status`).
    #[command(name = "node-status")]
    NodeStatus(node::NodeStatusArgs),
    /// Evaluation status (alias of `eval status`).
    #[command(name = "eval-status")]
    EvalStatus(eval::EvalStatusArgs),
    /// Server members (alias of `server members`).
    #[command(name = "server-members")]
    ServerMembers(operator::MembersArgs),
    /// Join server nodes together (alias of `server join`).
    #[command(name = "server-join", hide = true)]
    ServerJoin(servers::JoinArgs),
    /// Force a server into the 'left' state (alias of `server force-leave`).
    #[command(name = "server-force-leave", hide = true)]
    ServerForceLeave(servers::ForceLeaveArgs),
    /// Show the local agent's status.
    #[command(name = "agent-info")]
    AgentInfo(operator::AgentInfoArgs),
    /// Run a Nomad agent (not wired in this build yet).
    Agent(crate::agent::AgentArgs),
    /// Print the version.
    Version,
}

#[derive(Debug, Subcommand)]
enum JobCommand {
    /// Create an example job file.
    Init(job::InitArgs),
    /// Run a new job or update an existing one.
    Run(job::RunArgs),
    /// Dry-run a job update to see its effects.
    Plan(plan::PlanArgs),
    /// Display the status of jobs.
    Status(status::JobStatusArgs),
    /// Stop a running job.
    Stop(jobops::StopArgs),
    /// Inspect a submitted job.
    Inspect(jobops::InspectArgs),
    /// List a job's allocations.
    Allocs(jobops::AllocsArgs),
    /// Create a new evaluation of a job.
    Eval(jobops::EvalArgs),
    /// Check a job specification for errors.
    Validate(job::ValidateArgs),
    /// Display all tracked versions of a job.
    History(job_history::HistoryArgs),
    /// Revert to a prior version of the job.
    Revert(job_history::RevertArgs),
    /// Dispatch an instance of a parameterized job.
    Dispatch(job_actions::DispatchArgs),
    /// Interact with periodic jobs.
    Periodic {
        #[command(subcommand)]
        command: PeriodicCommand,
    },
    /// Change the count of a job group.
    Scale(job_actions::ScaleArgs),
    /// Display the most recent scaling events of a job.
    #[command(name = "scaling-events")]
    ScalingEvents(job_actions::ScalingEventsArgs),
}

#[derive(Debug, Subcommand)]
enum PeriodicCommand {
    /// Force the launch of a periodic job.
    Force(job_actions::PeriodicForceArgs),
}

#[derive(Debug, Subcommand)]
enum NodeCommand {
    /// Display the status of nodes.
    Status(node::NodeStatusArgs),
    /// Toggle drain mode on a node.
    Drain(node_drain::DrainArgs),
    /// Toggle a node's scheduling eligibility.
    Eligibility(node_drain::EligibilityArgs),
}

#[derive(Debug, Subcommand)]
enum ServerCommand {
    /// Display the servers of the region.
    Members(operator::MembersArgs),
    /// Join server nodes together.
    Join(servers::JoinArgs),
    /// Force a server into the 'left' state.
    ForceLeave(servers::ForceLeaveArgs),
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Raft peer tools.
    Raft {
        #[command(subcommand)]
        command: RaftCommand,
    },
    /// Save and restore snapshots of the Nomad server state.
    Snapshot {
        #[command(subcommand)]
        command: SnapshotCommand,
    },
}

#[derive(Debug, Subcommand)]
enum RaftCommand {
    /// Display the current Raft peer configuration.
    ListPeers(raft::ListPeersArgs),
    /// Remove a Nomad server from the Raft configuration.
    RemovePeer(raft::RemovePeerArgs),
}

#[derive(Debug, Subcommand)]
enum SnapshotCommand {
    /// Saves snapshot of Nomad server state.
    Save(snapshot::SaveArgs),
    /// Restore snapshot of Nomad server state.
    Restore(snapshot::RestoreArgs),
}

#[derive(Debug, Subcommand)]
enum AllocCommand {
    /// Display the status of an allocation.
    Status(alloc::AllocStatusArgs),
    /// Stream the logs of a task.
    Logs(alloc::AllocLogsArgs),
    /// List, stat or print the files of an allocation.
    Fs(alloc_fs::AllocFsArgs),
    /// Run a command in a running allocation.
    Exec(alloc_actions::AllocExecArgs),
    /// Restart a running allocation or task.
    Restart(alloc_actions::AllocRestartArgs),
    /// Signal a running allocation or task.
    Signal(alloc_actions::AllocSignalArgs),
    /// Stop an allocation (the scheduler replaces it).
    Stop(alloc_actions::AllocStopArgs),
}

#[derive(Debug, Subcommand)]
enum EvalCommand {
    /// Display an evaluation.
    Status(eval::EvalStatusArgs),
    /// List evaluations.
    List(eval::EvalListArgs),
}

#[derive(Debug, Subcommand)]
enum DeploymentCommand {
    /// List deployments.
    List(deployment::DeploymentListArgs),
    /// Display a deployment.
    Status(deployment::DeploymentStatusArgs),
    /// Promote a deployment's canaries.
    Promote(deployment::DeploymentPromoteArgs),
    /// Manually fail a deployment.
    Fail(deployment::DeploymentActionArgs),
    /// Pause a deployment.
    Pause(deployment::DeploymentPauseArgs),
    /// Resume a paused deployment.
    Resume(deployment::DeploymentActionArgs),
}

#[derive(Debug, Subcommand)]
enum SystemCommand {
    /// Run the garbage collector.
    Gc,
}

/// Words that make up command paths; flags are rewritten up to the first
/// other positional (see [`crate::args`]).
const SUBCOMMANDS: &[&str] = &[
    "job",
    "init",
    "run",
    "plan",
    "status",
    "stop",
    "inspect",
    "allocs",
    "validate",
    "history",
    "revert",
    "dispatch",
    "periodic",
    "force",
    "scale",
    "scaling-events",
    "drain",
    "eligibility",
    "promote",
    "fail",
    "pause",
    "resume",
    "node",
    "server",
    "members",
    "join",
    "force-leave",
    "server-join",
    "server-force-leave",
    "operator",
    "raft",
    "list-peers",
    "remove-peer",
    "snapshot",
    "save",
    "restore",
    "alloc",
    "logs",
    "fs",
    "exec",
    "restart",
    "signal",
    "eval",
    "list",
    "deployment",
    "system",
    "gc",
    "alloc-status",
    "node-status",
    "eval-status",
    "server-members",
    "agent-info",
    "agent",
    "version",
];

pub fn run(args: impl IntoIterator<Item = OsString>, io: &mut Io<'_>) -> i32 {
    let args = crate::args::normalize(args, SUBCOMMANDS);
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let text = e.render().to_string();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = write!(io.out, "{text}");
                    0
                }
                // Go's flag package and Nomad's CLI exit 1 on usage errors.
                _ => {
                    let _ = write!(io.err, "{text}");
                    1
                }
            };
        }
    };
    if cli.version {
        return version::run(io);
    }
    let g = &cli.global;
    match cli.command {
        Some(Command::Job { command }) => match command {
            JobCommand::Init(a) => job::init(a, io),
            JobCommand::Run(a) => job::run(a, g, io),
            JobCommand::Plan(a) => plan::plan(a, g, io),
            JobCommand::Status(a) => status::job_status(a, g, io),
            JobCommand::Stop(a) => jobops::stop(a, g, io),
            JobCommand::Inspect(a) => jobops::inspect(a, g, io),
            JobCommand::Allocs(a) => jobops::allocs(a, g, io),
            JobCommand::Eval(a) => jobops::eval(a, g, io),
            JobCommand::Validate(a) => job::validate(a, io),
            JobCommand::History(a) => job_history::history(a, g, io),
            JobCommand::Revert(a) => job_history::revert(a, g, io),
            JobCommand::Dispatch(a) => job_actions::dispatch(a, g, io),
            JobCommand::Periodic {
                command: PeriodicCommand::Force(a),
            } => job_actions::periodic_force(a, g, io),
            JobCommand::Scale(a) => job_actions::scale(a, g, io),
            JobCommand::ScalingEvents(a) => job_actions::scaling_events(a, g, io),
        },
        Some(Command::Node {
            command: NodeCommand::Status(a),
        })
        | Some(Command::NodeStatus(a)) => node::status(a, g, io),
        Some(Command::Node {
            command: NodeCommand::Drain(a),
        }) => node_drain::drain(a, g, io),
        Some(Command::Node {
            command: NodeCommand::Eligibility(a),
        }) => node_drain::eligibility(a, g, io),
        Some(Command::Server {
            command: ServerCommand::Members(a),
        })
        | Some(Command::ServerMembers(a)) => operator::members(a, g, io),
        Some(Command::Server {
            command: ServerCommand::Join(a),
        })
        | Some(Command::ServerJoin(a)) => servers::join(a, g, io),
        Some(Command::Server {
            command: ServerCommand::ForceLeave(a),
        })
        | Some(Command::ServerForceLeave(a)) => servers::force_leave(a, g, io),
        Some(Command::Operator { command }) => match command {
            OperatorCommand::Raft {
                command: RaftCommand::ListPeers(a),
            } => raft::list_peers(a, g, io),
            OperatorCommand::Raft {
                command: RaftCommand::RemovePeer(a),
            } => raft::remove_peer(a, g, io),
            OperatorCommand::Snapshot {
                command: SnapshotCommand::Save(a),
            } => snapshot::save(a, g, io),
            OperatorCommand::Snapshot {
                command: SnapshotCommand::Restore(a),
            } => snapshot::restore(a, g, io),
        },
        Some(Command::Alloc { command }) => match command {
            AllocCommand::Status(a) => alloc::status(a, g, io),
            AllocCommand::Logs(a) => alloc::logs(a, g, io),
            AllocCommand::Exec(a) => alloc_actions::exec(a, g, io),
            AllocCommand::Restart(a) => alloc_actions::restart(a, g, io),
            AllocCommand::Signal(a) => alloc_actions::signal(a, g, io),
            AllocCommand::Stop(a) => alloc_actions::stop(a, g, io),
            AllocCommand::Fs(a) => alloc_fs::fs(a, g, io),
        },
        Some(Command::AllocStatus(a)) => alloc::status(a, g, io),
        Some(Command::Logs(a)) => alloc::logs(a, g, io),
        Some(Command::Eval { command }) => match command {
            EvalCommand::Status(a) => eval::status(a, g, io),
            EvalCommand::List(a) => eval::list(a, g, io),
        },
        Some(Command::EvalStatus(a)) => eval::status(a, g, io),
        Some(Command::Deployment { command }) => match command {
            DeploymentCommand::List(a) => deployment::list(a, g, io),
            DeploymentCommand::Status(a) => deployment::status(a, g, io),
            DeploymentCommand::Promote(a) => deployment::promote(a, g, io),
            DeploymentCommand::Fail(a) => deployment::fail(a, g, io),
            DeploymentCommand::Pause(a) => deployment::pause(a, g, io),
            DeploymentCommand::Resume(a) => deployment::resume(a, g, io),
        },
        Some(Command::System {
            command: SystemCommand::Gc,
        }) => operator::system_gc(g, io),
        Some(Command::Init(a)) => job::init(a, io),
        Some(Command::Run(a)) => job::run(a, g, io),
        Some(Command::Plan(a)) => plan::plan(a, g, io),
        Some(Command::Status(a)) => status::status(a, g, io),
        Some(Command::Stop(a)) => jobops::stop(a, g, io),
        Some(Command::Inspect(a)) => jobops::inspect(a, g, io),
        Some(Command::Validate(a)) => job::validate(a, io),
        Some(Command::AgentInfo(a)) => operator::agent_info(a, g, io),
        Some(Command::Agent(a)) => crate::agent::run(a, io),
        Some(Command::Version) | None => version::run(io),
    }
}
