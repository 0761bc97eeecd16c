//! A minimal deployment watcher (leader only; after Nomad's
//! `nomad/deploymentwatcher`): a running deployment whose groups all have
//! their desired healthy allocations (and promoted canaries) is marked
//! successful and its job version stable; one with an unhealthy allocation
//! is failed, with an evaluation for the job. Auto-revert, auto-promote and
//! progress deadlines are not handled yet.

use nomad_state::command::{DeploymentStatusUpdate, DeploymentStatusUpdateRequest, JobStability};
use nomad_state::Command;
use nomad_types::consts::deployment_status;

use crate::jobs::new_eval;
use crate::server::Server;

/// Nomad's description of a deployment that completed.
pub const DESC_SUCCESSFUL: &str = "Deployment completed successfully";
/// Nomad's description of a deployment failed by unhealthy allocations.
pub const DESC_FAILED_ALLOCS: &str = "Failed due to unhealthy allocations";

impl Server {
    pub(crate) async fn watch_deployments(&self) {
        let snap = self.inner.reader.snapshot();
        let mut changes = Vec::new();
        for d in snap.deployments() {
            if d.status != deployment_status::RUNNING || d.task_groups.is_empty() {
                continue;
            }
            let failed = d.task_groups.values().any(|s| s.unhealthy_allocs > 0);
            let done = d.task_groups.values().all(|s| {
                s.healthy_allocs >= s.desired_total && (s.desired_canaries == 0 || s.promoted)
            });
            if failed {
                changes.push((d.clone(), deployment_status::FAILED, DESC_FAILED_ALLOCS));
            } else if done {
                changes.push((d.clone(), deployment_status::SUCCESSFUL, DESC_SUCCESSFUL));
            }
        }
        for (d, status, desc) in changes {
            let now = crate::now_nanos();
            let eval = if status == deployment_status::FAILED {
                snap.job_by_id(&d.namespace, &d.job_id).map(|j| {
                    let mut e = new_eval(&j, "deployment-watcher", now);
                    e.deployment_id = d.id.clone();
                    e
                })
            } else {
                None
            };
            let r = self
                .propose(Command::DeploymentStatusUpdate(
                    DeploymentStatusUpdateRequest {
                        deployment_update: DeploymentStatusUpdate {
                            deployment_id: d.id.clone(),
                            status: status.to_string(),
                            status_description: desc.to_string(),
                        },
                        updated_at: now,
                        job: None,
                        eval,
                    },
                ))
                .await;
            match r {
                Ok(r) if r.is_ok() => {
                    tracing::info!(deployment_id = %d.id, job_id = %d.job_id, status, "deployment finished");
                    if status == deployment_status::SUCCESSFUL {
                        let _ = self
                            .propose(Command::JobStability(JobStability {
                                namespace: d.namespace.clone(),
                                job_id: d.job_id.clone(),
                                job_version: d.job_version,
                                stable: true,
                            }))
                            .await;
                    }
                }
                Ok(r) => {
                    tracing::warn!(deployment_id = %d.id, error = ?r.error, "updating deployment")
                }
                Err(e) => tracing::warn!(deployment_id = %d.id, error = %e, "updating deployment"),
            }
        }
    }
}
