//! Nomad's `exec` task driver: runs the task's command isolated with Linux
//! primitives, without images.
//!
//! This crate owns the driver's plugin and task configs, the task's
//! filesystem ([`chroot`]), its cgroups ([`cgroup`], v1 and v2 chosen at
//! runtime) and the [`ExecDriver`] implementation of
//! [`nomad_driver::Driver`].
//!
//! Each task gets:
//!
//! * new PID, mount, IPC and UTS namespaces: the command is PID 1 of its
//!   PID namespace (`pid_mode`/`ipc_mode = "host"` opt out), so it sees only
//!   its own processes and they all die with it;
//! * a root filesystem made of the task directory, with Nomad's
//!   `chroot_env` host directories bind-mounted read-only (`/bin`, `/etc`,
//!   `/lib`, `/lib32`, `/lib64`, `/run/resolvconf`, `/sbin`, `/usr`,
//!   `/run/systemd/resolve` by default), the shared alloc dir at `/alloc`,
//!   `local/` at `/local`, `secrets/` on a noexec tmpfs at `/secrets`,
//!   `tmp/` at `/tmp`, a fresh `/proc`, a read-only `/sys` and a minimal
//!   `/dev`; entered with `pivot_root` (or `chroot` with `no_pivot_root`);
//! * a cgroup with its memory limit (and `memory_max` oversubscription),
//!   CPU shares from its MHz and optionally a pids limit; the OOM counter of
//!   that cgroup turns into [`nomad_driver::ExitResult::oom_killed`];
//! * the `nobody` user unless the task sets `user`; whatever the user, the
//!   capability bounding set is Nomad's default set (intersected with
//!   `allow_caps`, adjusted by `cap_add`/`cap_drop`, see [`caps`]), and the
//!   writable parts of the filesystem are `nodev`.
//!
//! How the task process is made: the driver forks a shim that outlives the
//! client (see [`nomad_driver::executor::launch`](mod@nomad_driver::executor::launch)); the shim creates the PID
//! namespace and forks the task, which joins its cgroup, creates the other
//! namespaces, runs the mount plan, drops to the task user and execs. All of
//! that runs as async-signal-safe raw system calls prepared before the
//! fork, so there is no helper binary to install. Recovery after a client
//! restart re-attaches by pid and start time; the shim's status file gives
//! the exit code even when the task ended while no client was watching.
//!
//! Requires root and a cgroup mount: otherwise the fingerprint says why
//! (`"Driver must run as root"`, `"Failed to discover cgroup mount
//! point"`), as Nomad's does.
//!
//! Must not depend on: server crates, the state store, other concrete
//! drivers.

pub mod caps;
pub mod cgroup;
pub mod chroot;
mod config;
mod driver;

pub use config::{ConfigError, ExecConfig, ExecTaskConfig};
pub use driver::{ExecDriver, DRIVER_NAME, HANDLE_VERSION};
