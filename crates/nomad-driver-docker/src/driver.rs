//! The [`DockerDriver`].

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, RemoveContainerOptions, StatsOptions,
};
use bollard::{Docker, API_DEFAULT_VERSION};
use futures_util::StreamExt;
use nomad_driver::executor::{procfs, TaskStore};
use nomad_driver::{
    async_trait, signal, Capabilities, Driver, DriverError, DriverEvent, ExecRequest, ExecStreams,
    ExitResult, Fingerprint, FsIsolation, MountConfigSupport, NetIsolationMode, TaskConfig,
    TaskHandle, TaskResourceUsage, TaskStatus,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, OnceCell};

use crate::config::{parse_duration, DockerConfig, Endpoint};
use crate::container::{self, LABEL_ALLOC_ID};
use crate::error::{self, DockerError};
use crate::fingerprint::{self, CONNECT_FAILED};
use crate::handle::{parse_time, Attach, DockerTask, API_TIMEOUT};
use crate::image::{self, ImageGc, PullLimits};
use crate::logs::{LogJob, Since};
use crate::task_config::DockerTaskConfig;

/// The driver's name in jobs.
pub const DRIVER_NAME: &str = "docker";
/// Version of [`TaskHandle::driver_state`] this driver writes.
pub const HANDLE_VERSION: u32 = 1;
/// Request timeout of the Docker client, in seconds (Nomad's 5 minutes);
/// quick calls have their own shorter deadlines.
const CLIENT_TIMEOUT_SECS: u64 = 300;

/// What the handle carries for recovery.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DockerState {
    container_id: String,
    image: String,
    image_id: String,
    started_at: SystemTime,
}

/// Nomad's `docker` driver.
pub struct DockerDriver {
    config: DockerConfig,
    endpoint: Result<Endpoint, String>,
    client: OnceCell<Docker>,
    tasks: TaskStore<DockerTask>,
    events: broadcast::Sender<DriverEvent>,
    images: ImageGc,
    detected: AtomicBool,
    mhz_per_core: f64,
}

fn start_err(e: DockerError) -> DriverError {
    match e {
        DockerError::TaskConfig(_) | DockerError::PluginConfig(_) => e.into(),
        other => DriverError::StartFailed(other.to_string()),
    }
}

impl DockerDriver {
    /// A driver with this plugin config (see
    /// [`DockerConfig::from_plugin_config`]). Connects lazily.
    pub fn new(config: DockerConfig) -> Self {
        let endpoint = Endpoint::parse(&config.endpoint()).map_err(|e| e.to_string());
        let delay = config.image_delay().unwrap_or(Duration::from_secs(180));
        let (events, _) = broadcast::channel(256);
        DockerDriver {
            images: ImageGc::new(config.gc.image, delay),
            config,
            endpoint,
            client: OnceCell::new(),
            tasks: TaskStore::default(),
            events,
            detected: AtomicBool::new(false),
            mhz_per_core: procfs::mhz_per_core(),
        }
    }

    /// The plugin config.
    pub fn config(&self) -> &DockerConfig {
        &self.config
    }

    /// The connected client (API version negotiated with the daemon).
    pub async fn docker(&self) -> Result<Docker, DockerError> {
        let endpoint = self.endpoint.clone().map_err(DockerError::PluginConfig)?;
        let name = self.config.endpoint();
        self.client
            .get_or_try_init(|| async {
                let connect_err = |message: String| DockerError::Connect {
                    endpoint: name.clone(),
                    message,
                };
                let docker = match &endpoint {
                    Endpoint::Unix(path) => {
                        Docker::connect_with_unix(path, CLIENT_TIMEOUT_SECS, API_DEFAULT_VERSION)
                    }
                    Endpoint::Http(addr) => {
                        Docker::connect_with_http(addr, CLIENT_TIMEOUT_SECS, API_DEFAULT_VERSION)
                    }
                }
                .map_err(|e| connect_err(e.to_string()))?;
                match tokio::time::timeout(
                    fingerprint::FINGERPRINT_TIMEOUT,
                    docker.negotiate_version(),
                )
                .await
                {
                    Ok(Ok(d)) => Ok(d),
                    Ok(Err(e)) => Err(connect_err(e.to_string())),
                    Err(_) => Err(connect_err("no answer".into())),
                }
            })
            .await
            .cloned()
    }

    fn socket_missing(&self) -> Option<String> {
        match &self.endpoint {
            Ok(Endpoint::Unix(p)) if !Path::new(p).exists() => Some(p.clone()),
            _ => None,
        }
    }

    async fn inspect(
        &self,
        docker: &Docker,
        id: &str,
    ) -> Result<ContainerInspectResponse, DockerError> {
        error::bounded(
            &format!("inspecting container {id}"),
            API_TIMEOUT,
            docker.inspect_container(id, None::<InspectContainerOptions>),
        )
        .await
    }

    async fn remove_container(&self, docker: &Docker, id: &str, cfg: &TaskConfig) {
        let opts = RemoveContainerOptions {
            force: true,
            v: true,
            link: false,
        };
        match tokio::time::timeout(API_TIMEOUT, docker.remove_container(id, Some(opts))).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) if error::is_not_found(&e) => {}
            other => tracing::warn!(alloc_id = %cfg.alloc_id, task = %cfg.name, container_id = %id,
                error = ?other.map(|r| r.map_err(|e| e.to_string())), "failed to remove container"),
        }
    }

    /// Creates the container; a leftover container of the same name is
    /// adopted when running (a start interrupted after the create, as Nomad
    /// does) and removed otherwise.
    async fn create(
        &self,
        docker: &Docker,
        cfg: &TaskConfig,
        spec: &container::ContainerSpec,
    ) -> Result<(String, bool), DockerError> {
        for _attempt in 0..3 {
            let opts = CreateContainerOptions {
                name: Some(spec.name.clone()),
                ..CreateContainerOptions::default()
            };
            let created = tokio::time::timeout(
                API_TIMEOUT,
                docker.create_container(Some(opts), spec.body.clone()),
            )
            .await;
            match created {
                Ok(Ok(r)) => return Ok((r.id, false)),
                Ok(Err(e)) if error::status_code(&e) == Some(409) => {
                    let existing = self.inspect(docker, &spec.name).await?;
                    let id = existing.id.clone().unwrap_or_default();
                    let ours = existing
                        .config
                        .as_ref()
                        .and_then(|c| c.labels.as_ref())
                        .and_then(|l| l.get(LABEL_ALLOC_ID))
                        == Some(&cfg.alloc_id);
                    let running = existing.state.as_ref().and_then(|s| s.running) == Some(true);
                    if ours && running {
                        tracing::info!(alloc_id = %cfg.alloc_id, task = %cfg.name, container_id = %id,
                            "re-attaching to a running container of the same name");
                        return Ok((id, true));
                    }
                    tracing::info!(alloc_id = %cfg.alloc_id, task = %cfg.name, container_id = %id,
                        "purging a leftover container of the same name");
                    self.remove_container(docker, &id, cfg).await;
                }
                Ok(Err(e)) => {
                    return Err(DockerError::api("failed to create container", e));
                }
                Err(_) => {
                    return Err(DockerError::Timeout {
                        context: "creating container".into(),
                        timeout: API_TIMEOUT,
                    })
                }
            }
        }
        Err(DockerError::Start(format!(
            "failed to create container: the name {} stays taken",
            spec.name
        )))
    }

    fn log_job(&self, cfg: &TaskConfig, container_id: &str, since: Since) -> Option<LogJob> {
        if self.config.disable_log_collection
            || cfg.stdout_path.as_os_str().is_empty()
            || cfg.stderr_path.as_os_str().is_empty()
        {
            return None;
        }
        Some(LogJob {
            alloc_id: cfg.alloc_id.clone(),
            task: cfg.name.clone(),
            container_id: container_id.to_string(),
            stdout: cfg.stdout_path.clone(),
            stderr: cfg.stderr_path.clone(),
            since,
        })
    }

    async fn start_container(
        &self,
        docker: &Docker,
        cfg: &TaskConfig,
        tc: &DockerTaskConfig,
    ) -> Result<(TaskHandle, Arc<DockerTask>), DockerError> {
        let total = if tc.image_pull_timeout.is_empty() {
            self.config.image_pull_timeout()?
        } else {
            parse_duration("image_pull_timeout", &tc.image_pull_timeout)
                .map_err(DockerError::TaskConfig)?
        };
        let limits = PullLimits {
            total,
            activity: self.config.pull_activity_timeout()?,
        };
        let ready = image::ensure(docker, cfg, tc, limits, &self.events).await?;
        let image_ref = tc.image_ref();
        let spec = container::build(cfg, tc, &self.config, &image_ref, self.mhz_per_core)
            .map_err(DockerError::TaskConfig)?;
        let (id, adopted) = self.create(docker, cfg, &spec).await?;
        tracing::info!(alloc_id = %cfg.alloc_id, task = %cfg.name, container_id = %id,
            image = %image_ref, "created container");
        if !adopted {
            let started =
                tokio::time::timeout(API_TIMEOUT, docker.start_container(&id, None)).await;
            let failure = match started {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(format!(
                    "Failed to start container {id}: {}",
                    error::message(&e)
                )),
                Err(_) => Some(format!(
                    "Failed to start container {id}: no answer from docker"
                )),
            };
            if let Some(msg) = failure {
                self.remove_container(docker, &id, cfg).await;
                return Err(DockerError::Start(msg));
            }
        }
        let info = match self.inspect(docker, &id).await {
            Ok(i) => i,
            Err(e) => {
                self.remove_container(docker, &id, cfg).await;
                return Err(e);
            }
        };
        let state = info.state.unwrap_or_default();
        let started_at = parse_time(state.started_at.as_deref()).unwrap_or_else(SystemTime::now);
        let mut handle = TaskHandle::new(DRIVER_NAME, HANDLE_VERSION, cfg.clone());
        let st = DockerState {
            container_id: id.clone(),
            image: image_ref,
            image_id: ready.id.clone(),
            started_at,
        };
        if let Err(e) = handle.set_driver_state(&st) {
            self.remove_container(docker, &id, cfg).await;
            return Err(DockerError::Start(e.to_string()));
        }
        self.images.acquire(&ready.id, &cfg.id, ready.pulled);
        let task = DockerTask::attach(
            docker.clone(),
            Attach {
                config: cfg.clone(),
                container_id: id.clone(),
                image_id: ready.id,
                started_at,
                pid: state.pid.unwrap_or(0),
                logs: self.log_job(cfg, &id, Since::Start),
            },
        );
        tracing::info!(alloc_id = %cfg.alloc_id, task = %cfg.name, container_id = %id,
            pid = state.pid.unwrap_or(0), "started container");
        Ok((handle, task))
    }

    /// The signal a stop without one uses: the container's stop signal
    /// (the task's `kill_signal`, else the image's, else SIGTERM).
    async fn default_stop_signal(&self, task: &DockerTask) -> i32 {
        if !task.config.kill_signal.is_empty() {
            if let Ok(s) = signal::parse_signal(&task.config.kill_signal) {
                return s;
            }
        }
        if let Ok(docker) = self.docker().await {
            if let Ok(info) = self.inspect(&docker, &task.container_id).await {
                if let Some(s) = info.config.and_then(|c| c.stop_signal) {
                    if let Ok(sig) = signal::parse_signal(&s) {
                        return sig;
                    }
                }
            }
        }
        libc::SIGTERM
    }
}

#[async_trait]
impl Driver for DockerDriver {
    fn name(&self) -> &str {
        DRIVER_NAME
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            send_signals: true,
            exec: true,
            fs_isolation: FsIsolation::Image,
            // Group network namespaces (bridge mode's pause container) are
            // not created by this driver: tasks get Docker's own network
            // (`Task`) or the host's.
            net_isolation_modes: vec![NetIsolationMode::Host, NetIsolationMode::Task],
            must_initiate_network: false,
            mount_configs: MountConfigSupport::All,
            disable_log_collection: self.config.disable_log_collection,
            ..Capabilities::default()
        }
    }

    async fn fingerprint(&self) -> Fingerprint {
        if let Some(path) = self.socket_missing() {
            return Fingerprint::undetected(format!("{CONNECT_FAILED}: no socket at {path}"));
        }
        let result = match self.docker().await {
            Ok(docker) => fingerprint::healthy(&docker, &self.config).await,
            Err(e) => Err(e.to_string()),
        };
        match result {
            Ok(fp) => {
                self.detected.store(true, Ordering::Relaxed);
                fp
            }
            Err(e) => {
                tracing::debug!(error = %e, "could not connect to docker daemon");
                if self.detected.load(Ordering::Relaxed) {
                    Fingerprint::unhealthy(CONNECT_FAILED)
                } else {
                    Fingerprint::undetected(CONNECT_FAILED)
                }
            }
        }
    }

    async fn start_task(&self, cfg: TaskConfig) -> Result<TaskHandle, DriverError> {
        let reservation = self.tasks.reserve(&cfg.id)?;
        let tc: DockerTaskConfig = cfg.decode_driver_config()?;
        tc.validate().map_err(DriverError::InvalidConfig)?;
        let docker = self.docker().await.map_err(start_err)?;
        tracing::info!(alloc_id = %cfg.alloc_id, task = %cfg.name, image = %tc.image,
            "starting docker task");
        match self.start_container(&docker, &cfg, &tc).await {
            Ok((handle, task)) => {
                reservation.commit(task);
                Ok(handle)
            }
            Err(e) => {
                tracing::warn!(alloc_id = %cfg.alloc_id, task = %cfg.name, error = %e,
                    "docker task failed to start");
                Err(start_err(e))
            }
        }
    }

    async fn recover_task(&self, handle: &TaskHandle) -> Result<(), DriverError> {
        handle.check(DRIVER_NAME, HANDLE_VERSION)?;
        let cfg = &handle.config;
        if self.tasks.contains(&cfg.id) {
            return Ok(());
        }
        let st: DockerState = handle.driver_state()?;
        let docker = self
            .docker()
            .await
            .map_err(|e| DriverError::RecoverFailed(e.to_string()))?;
        let info = match tokio::time::timeout(
            API_TIMEOUT,
            docker.inspect_container(&st.container_id, None::<InspectContainerOptions>),
        )
        .await
        {
            Ok(Ok(i)) => i,
            Ok(Err(e)) if error::is_not_found(&e) => {
                return Err(DriverError::RecoverFailed(format!(
                    "container {} no longer exists",
                    st.container_id
                )))
            }
            Ok(Err(e)) => {
                return Err(DriverError::RecoverFailed(format!(
                    "failed to inspect container for id {:?}: {}",
                    st.container_id,
                    error::message(&e)
                )))
            }
            Err(_) => {
                return Err(DriverError::RecoverFailed(format!(
                    "inspecting container {}: no answer from docker",
                    st.container_id
                )))
            }
        };
        let state = info.state.unwrap_or_default();
        let since = Since::for_recovery(&cfg.stdout_path, &cfg.stderr_path);
        self.images.acquire(&st.image_id, &cfg.id, false);
        let task = DockerTask::attach(
            docker,
            Attach {
                config: cfg.clone(),
                container_id: st.container_id.clone(),
                image_id: st.image_id,
                started_at: st.started_at,
                pid: state.pid.unwrap_or(0),
                logs: self.log_job(cfg, &st.container_id, since),
            },
        );
        tracing::info!(alloc_id = %cfg.alloc_id, task = %cfg.name, container_id = %st.container_id,
            running = state.running.unwrap_or(false), "recovered docker task");
        self.tasks.insert(&cfg.id, task)
    }

    async fn wait_task(&self, task_id: &str) -> Result<ExitResult, DriverError> {
        let t = self.tasks.get(task_id)?;
        Ok(t.wait().await)
    }

    async fn stop_task(
        &self,
        task_id: &str,
        timeout: Duration,
        sig: &str,
    ) -> Result<(), DriverError> {
        let t = self.tasks.get(task_id)?;
        let sig = if sig.trim().is_empty() {
            self.default_stop_signal(&t).await
        } else {
            signal::parse_signal(sig)?
        };
        t.stop(timeout, sig).await
    }

    async fn destroy_task(&self, task_id: &str, force: bool) -> Result<(), DriverError> {
        let t = self.tasks.get(task_id)?;
        if t.is_running() {
            if !force {
                return Err(DriverError::TaskRunning);
            }
            t.stop(Duration::ZERO, libc::SIGKILL).await?;
        }
        let docker = self.docker().await.map_err(DriverError::from)?;
        if self.config.gc.container {
            self.remove_container(&docker, &t.container_id, &t.config)
                .await;
        }
        self.images.release(&docker, &t.image_id, task_id);
        self.tasks.remove(task_id);
        tracing::debug!(alloc_id = %t.config.alloc_id, task = %t.config.name,
            container_id = %t.container_id, "destroyed docker task");
        Ok(())
    }

    async fn inspect_task(&self, task_id: &str) -> Result<TaskStatus, DriverError> {
        Ok(self.tasks.get(task_id)?.status())
    }

    async fn task_stats(&self, task_id: &str) -> Result<TaskResourceUsage, DriverError> {
        let t = self.tasks.get(task_id)?;
        let docker = self.docker().await.map_err(DriverError::from)?;
        let opts = StatsOptions {
            stream: false,
            one_shot: true,
        };
        let mut stream = docker.stats(&t.container_id, Some(opts));
        let sample = tokio::time::timeout(API_TIMEOUT, stream.next())
            .await
            .map_err(|_| DriverError::Other("docker stats: no answer".into()))?
            .ok_or_else(|| DriverError::Other("docker stats returned nothing".into()))?
            .map_err(|e| DriverError::Other(format!("docker stats: {}", error::message(&e))))?;
        Ok(t.stats.convert(&sample, self.mhz_per_core))
    }

    async fn signal_task(&self, task_id: &str, sig: &str) -> Result<(), DriverError> {
        let t = self.tasks.get(task_id)?;
        t.signal(signal::parse_signal(sig)?).await
    }

    async fn exec_task(
        &self,
        task_id: &str,
        request: ExecRequest,
        streams: ExecStreams,
    ) -> Result<ExitResult, DriverError> {
        let t = self.tasks.get(task_id)?;
        if !t.is_running() {
            return Err(DriverError::Other("task is not running".into()));
        }
        let docker = self.docker().await.map_err(DriverError::from)?;
        crate::exec::run(&docker, &t, request, streams).await
    }

    fn task_events(&self) -> Option<broadcast::Receiver<DriverEvent>> {
        Some(self.events.subscribe())
    }
}
