//! Images: use the local one, pull when missing (or `force_pull`) with a
//! bound on the whole pull and on the silence between progress messages,
//! and remove images this driver pulled once no task uses them (`gc.image`
//! after `gc.image_delay`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bollard::auth::DockerCredentials;
use bollard::query_parameters::{CreateImageOptions, RemoveImageOptions};
use bollard::Docker;
use futures_util::StreamExt;
use nomad_driver::{DriverEvent, TaskConfig};
use tokio::sync::broadcast;

use crate::error::{self, DockerError};
use crate::task_config::{split_image, DockerTaskConfig};

/// How long a local image lookup may take.
const INSPECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often pull progress becomes a task event.
const PROGRESS_EVENT_EVERY: Duration = Duration::from_secs(10);

/// An image ready to run.
#[derive(Debug, Clone)]
pub(crate) struct ReadyImage {
    /// Image id (`sha256:…`).
    pub id: String,
    /// True when this call pulled it.
    pub pulled: bool,
}

/// Pull limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PullLimits {
    /// The whole pull.
    pub total: Duration,
    /// Between two progress messages.
    pub activity: Duration,
}

fn event(cfg: &TaskConfig, message: String, annotations: BTreeMap<String, String>) -> DriverEvent {
    DriverEvent {
        task_id: cfg.id.clone(),
        task_name: cfg.name.clone(),
        alloc_id: cfg.alloc_id.clone(),
        timestamp: nomad_driver::unix_nanos(SystemTime::now()),
        message,
        annotations,
    }
}

/// Makes sure the task's image is present, pulling it when missing or when
/// `force_pull` is set.
pub(crate) async fn ensure(
    docker: &Docker,
    cfg: &TaskConfig,
    tc: &DockerTaskConfig,
    limits: PullLimits,
    events: &broadcast::Sender<DriverEvent>,
) -> Result<ReadyImage, DockerError> {
    let image = tc.image_ref();
    if !tc.force_pull {
        match tokio::time::timeout(INSPECT_TIMEOUT, docker.inspect_image(&image)).await {
            Ok(Ok(info)) => {
                if let Some(id) = info.id {
                    return Ok(ReadyImage { id, pulled: false });
                }
            }
            Ok(Err(e)) if error::is_not_found(&e) => {}
            Ok(Err(e)) => return Err(DockerError::api(format!("inspecting image {image}"), e)),
            Err(_) => {
                return Err(DockerError::Timeout {
                    context: format!("inspecting image {image}"),
                    timeout: INSPECT_TIMEOUT,
                })
            }
        }
    }
    pull(docker, cfg, tc, &image, limits, events).await?;
    let info = error::bounded(
        &format!("inspecting pulled image {image}"),
        INSPECT_TIMEOUT,
        docker.inspect_image(&image),
    )
    .await?;
    let id = info.id.ok_or_else(|| DockerError::Pull {
        image: image.clone(),
        message: "the pulled image has no id".into(),
    })?;
    Ok(ReadyImage { id, pulled: true })
}

async fn pull(
    docker: &Docker,
    cfg: &TaskConfig,
    tc: &DockerTaskConfig,
    image: &str,
    limits: PullLimits,
    events: &broadcast::Sender<DriverEvent>,
) -> Result<(), DockerError> {
    let (repo, tag) = split_image(image);
    let reference = if tag.is_empty() {
        repo.clone()
    } else {
        format!("{repo}:{tag}")
    };
    tracing::info!(alloc_id = %cfg.alloc_id, task = %cfg.name, image = %reference, "pulling image");
    let _ = events.send(event(
        cfg,
        "Downloading image".into(),
        [("image".to_string(), reference.clone())].into(),
    ));
    let options = CreateImageOptions {
        from_image: Some(repo),
        tag: (!tag.is_empty()).then_some(tag),
        ..CreateImageOptions::default()
    };
    let credentials = (!tc.auth.is_empty()).then(|| DockerCredentials {
        username: Some(tc.auth.username.clone()),
        password: Some(tc.auth.password.clone()),
        email: Some(tc.auth.email.clone()),
        serveraddress: Some(tc.auth.server_address.clone()),
        ..DockerCredentials::default()
    });
    let fail = |message: String| DockerError::Pull {
        image: reference.clone(),
        message,
    };
    let mut stream = docker.create_image(Some(options), None, credentials);
    let started = Instant::now();
    let mut last_event = Instant::now();
    loop {
        let left = limits.total.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(fail(format!(
                "image pull did not finish within image_pull_timeout ({:?})",
                limits.total
            )));
        }
        let wait = left.min(limits.activity);
        let item = match tokio::time::timeout(wait, stream.next()).await {
            Ok(Some(item)) => item,
            Ok(None) => return Ok(()),
            Err(_) if wait == limits.activity => {
                return Err(fail(format!(
                    "no progress from docker for pull_activity_timeout ({:?})",
                    limits.activity
                )))
            }
            Err(_) => continue,
        };
        match item {
            Ok(info) => {
                if last_event.elapsed() >= PROGRESS_EVENT_EVERY {
                    last_event = Instant::now();
                    let status = info.status.unwrap_or_default();
                    let _ = events.send(event(
                        cfg,
                        format!("Docker image pull progress: {status}"),
                        [("image".to_string(), reference.clone())].into(),
                    ));
                }
            }
            Err(e) => {
                tracing::warn!(alloc_id = %cfg.alloc_id, task = %cfg.name, image = %reference,
                    error = %e, "image pull failed");
                return Err(fail(error::message(&e)));
            }
        }
    }
}

#[derive(Default)]
struct ImageUse {
    tasks: HashSet<String>,
    pulled: bool,
    pending_removal: Option<tokio::task::AbortHandle>,
}

/// Reference counts of images by task, and delayed removal of unused
/// images this driver pulled (Nomad's image coordinator, without sharing
/// pulls between concurrent tasks).
#[derive(Clone)]
pub(crate) struct ImageGc {
    enabled: bool,
    delay: Duration,
    uses: Arc<Mutex<HashMap<String, ImageUse>>>,
}

impl ImageGc {
    pub(crate) fn new(enabled: bool, delay: Duration) -> Self {
        ImageGc {
            enabled,
            delay,
            uses: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ImageUse>> {
        match self.uses.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// `task_id` uses `image_id`; `pulled` when this driver pulled it.
    pub(crate) fn acquire(&self, image_id: &str, task_id: &str, pulled: bool) {
        let mut g = self.lock();
        let u = g.entry(image_id.to_string()).or_default();
        u.pulled |= pulled;
        u.tasks.insert(task_id.to_string());
        if let Some(h) = u.pending_removal.take() {
            h.abort();
        }
    }

    /// `task_id` no longer uses `image_id`: schedules the image's removal
    /// when it was the last user and this driver pulled it.
    pub(crate) fn release(&self, docker: &Docker, image_id: &str, task_id: &str) {
        let mut g = self.lock();
        let Some(u) = g.get_mut(image_id) else {
            return;
        };
        u.tasks.remove(task_id);
        if !u.tasks.is_empty() {
            return;
        }
        if !(self.enabled && u.pulled) {
            g.remove(image_id);
            return;
        }
        let (docker, id, delay, this) = (
            docker.clone(),
            image_id.to_string(),
            self.delay,
            self.clone(),
        );
        let handle = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            {
                let mut g = this.lock();
                match g.get(&id) {
                    Some(u) if u.tasks.is_empty() => {
                        g.remove(&id);
                    }
                    _ => return,
                }
            }
            let opts = RemoveImageOptions {
                force: false,
                noprune: false,
                ..RemoveImageOptions::default()
            };
            match docker.remove_image(&id, Some(opts), None).await {
                Ok(_) => tracing::info!(image_id = %id, "removed unused image"),
                Err(e) if error::is_not_found(&e) => {}
                Err(e) => {
                    tracing::warn!(image_id = %id, error = %e, "failed to remove unused image")
                }
            }
        });
        u.pending_removal = Some(handle.abort_handle());
    }
}
