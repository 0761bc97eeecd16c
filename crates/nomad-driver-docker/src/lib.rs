//! Nomad's `docker` task driver: each task runs as a container on the local
//! Docker Engine, driven through its HTTP API (the `bollard` client, API
//! version negotiated with the daemon).
//!
//! This crate owns:
//!
//! * the plugin config ([`DockerConfig`]: `endpoint`, `allow_privileged`,
//!   `volumes { enabled }`, `gc { image, container }`,
//!   `pull_activity_timeout`, `infra_image`, …; every Nomad key is accepted,
//!   unknown keys are an error) and the task config ([`DockerTaskConfig`]:
//!   `image`, `command`, `args`, `entrypoint`, `ports`, `volumes`, `mount`,
//!   `work_dir`, `network_mode`, `privileged`, `labels`, …);
//! * turning a task into a container ([`container`]): alloc, local and
//!   secrets dirs bound at `/alloc`, `/local`, `/secrets` (and
//!   `/alloc/logs` read-only), Nomad's `com.hashicorp.nomad.*` labels, the
//!   group network's ports published on the host, memory limit and
//!   reservation, CPU shares from MHz, host volumes and privileged mode only
//!   when the plugin config allows them;
//! * images: used when present, pulled when missing or `force_pull`,
//!   bounded by `image_pull_timeout` and `pull_activity_timeout` so that an
//!   unreachable registry fails the start quickly with
//!   ``Failed to pull `image`: …``; images the driver pulled are removed
//!   after `gc.image_delay` once unused;
//! * the running container: logs copied from the logs API into the task's
//!   stdout/stderr files, exit via wait + inspect (`OOMKilled` →
//!   `oom_killed`), stop as `docker stop` with the task's signal (signal,
//!   kill timeout, SIGKILL), signals, stats from the stats API, exec
//!   through `docker exec` (streamed, optional TTY), and recovery by
//!   container id from the persisted handle;
//! * [`testing`]: the locally built busybox test image and test helpers.
//!
//! Must not depend on: server crates, the state store, other concrete
//! drivers.

pub mod config;
pub mod container;
mod de;
mod driver;
mod error;
mod exec;
mod fingerprint;
mod handle;
mod image;
mod logs;
mod stats;
pub mod task_config;
pub mod testing;

pub use config::DockerConfig;
pub use driver::{DockerDriver, DRIVER_NAME, HANDLE_VERSION};
pub use error::DockerError;
pub use fingerprint::CONNECT_FAILED;
pub use task_config::DockerTaskConfig;
