//! One method per `/v1` route.

use std::collections::BTreeMap;

use nomad_types::api::{
    AgentHealthResponse, AgentSelf, AllocFileInfo, AllocStopResponse, DeploymentAllocHealthRequest,
    DeploymentPauseRequest, DeploymentPromoteRequest, DeploymentUpdateResponse, EvalOptions,
    JobDeregisterResponse, JobDispatchRequest, JobDispatchResponse, JobEvaluateRequest,
    JobPlanRequest, JobRegisterRequest, JobRegisterResponse, JobRevertRequest,
    JobScaleStatusResponse, JobStabilityRequest, JobStabilityResponse, JobValidateRequest,
    JobValidateResponse, JobVersionsResponse, JobsParseRequest, NodeDrainUpdateResponse,
    NodeEligibilityUpdateResponse, NodeUpdateDrainRequest, NodeUpdateEligibilityRequest,
    NodeUpdateResponse, PeriodicForceResponse, RaftConfiguration, ScalingRequest, SearchRequest,
    SearchResponse, ServerMembers,
};
use nomad_types::{
    Allocation, AllocationListStub, Deployment, Evaluation, Job, JobListStub, JobPlanResponse,
    JobSummary, Node, NodeListStub,
};

use crate::{escape_path, Client, Error, QueryMeta, QueryOptions};

type R<T> = Result<(T, QueryMeta), Error>;

fn kv(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

/// The answer of `PUT /v1/agent/join`: how many addresses answered and,
/// when none did, why (Nomad's `joinResult`, in its snake_case names).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct JoinResponse {
    /// Servers contacted.
    pub num_joined: usize,
    /// The join error's text; empty on success.
    pub error: String,
}

/// What [`Client::job_dispatch`] sends.
#[derive(Debug, Clone, Default)]
pub struct Dispatch<'a> {
    /// The parameterized job.
    pub job_id: &'a str,
    /// Its namespace (empty: the client's).
    pub namespace: &'a str,
    /// Meta merged into the child.
    pub meta: BTreeMap<String, String>,
    /// The payload (empty: none).
    pub payload: &'a [u8],
    /// `-id-prefix-template`.
    pub id_prefix_template: &'a str,
    /// `-idempotency-token`.
    pub idempotency_token: &'a str,
}

/// A streaming response body (logs, file contents).
pub struct LogStream {
    resp: reqwest::Response,
}

impl LogStream {
    pub(crate) fn new(resp: reqwest::Response) -> Self {
        LogStream { resp }
    }

    /// The next chunk, or `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, Error> {
        self.resp
            .chunk()
            .await
            .map(|c| c.map(|b| b.to_vec()))
            .map_err(|e| Error::Transport(e.to_string()))
    }
}

impl Client {
    // ---- jobs ----

    /// `GET /v1/jobs`.
    pub async fn jobs_list(&self, q: &QueryOptions) -> R<Vec<JobListStub>> {
        self.get("/v1/jobs", q).await
    }

    /// `GET /v1/job/:id`.
    pub async fn job_info(&self, id: &str, q: &QueryOptions) -> R<Job> {
        self.get(&format!("/v1/job/{}", escape_path(id)), q).await
    }

    /// `PUT /v1/jobs`.
    pub async fn job_register(
        &self,
        req: &JobRegisterRequest,
    ) -> Result<JobRegisterResponse, Error> {
        self.put("/v1/jobs", Some(req), &[]).await
    }

    /// `DELETE /v1/job/:id`.
    pub async fn job_deregister(
        &self,
        id: &str,
        namespace: &str,
        purge: bool,
        global: bool,
        no_shutdown_delay: bool,
        eval_priority: i64,
    ) -> Result<JobDeregisterResponse, Error> {
        let mut p = vec![kv("purge", purge), kv("global", global)];
        if !namespace.is_empty() {
            p.push(kv("namespace", namespace));
        }
        if no_shutdown_delay {
            p.push(kv("no_shutdown_delay", true));
        }
        if eval_priority > 0 {
            p.push(kv("eval_priority", eval_priority));
        }
        self.delete(&format!("/v1/job/{}", escape_path(id)), &p)
            .await
    }

    /// `PUT /v1/job/:id/plan`.
    pub async fn job_plan(&self, job: &Job, diff: bool) -> Result<JobPlanResponse, Error> {
        let req = JobPlanRequest {
            job: Some(job.clone()),
            diff,
            ..JobPlanRequest::default()
        };
        let mut p = Vec::new();
        if let Some(ns) = job.namespace.as_deref().filter(|s| !s.is_empty()) {
            p.push(kv("namespace", ns));
        }
        self.put(
            &format!("/v1/job/{}/plan", escape_path(job.id())),
            Some(&req),
            &p,
        )
        .await
    }

    /// `GET /v1/job/:id/allocations`.
    pub async fn job_allocations(
        &self,
        id: &str,
        all: bool,
        q: &QueryOptions,
    ) -> R<Vec<AllocationListStub>> {
        let q = q.clone().param("all", all.to_string());
        self.get(&format!("/v1/job/{}/allocations", escape_path(id)), &q)
            .await
    }

    /// `GET /v1/job/:id/evaluations`.
    pub async fn job_evaluations(&self, id: &str, q: &QueryOptions) -> R<Vec<Evaluation>> {
        self.get(&format!("/v1/job/{}/evaluations", escape_path(id)), q)
            .await
    }

    /// `GET /v1/job/:id/deployments`.
    pub async fn job_deployments(&self, id: &str, q: &QueryOptions) -> R<Vec<Deployment>> {
        self.get(&format!("/v1/job/{}/deployments", escape_path(id)), q)
            .await
    }

    /// `GET /v1/job/:id/deployment` (`None` when the job has none).
    pub async fn job_latest_deployment(&self, id: &str, q: &QueryOptions) -> R<Option<Deployment>> {
        self.get(&format!("/v1/job/{}/deployment", escape_path(id)), q)
            .await
    }

    /// `GET /v1/job/:id/summary`.
    pub async fn job_summary(&self, id: &str, q: &QueryOptions) -> R<JobSummary> {
        self.get(&format!("/v1/job/{}/summary", escape_path(id)), q)
            .await
    }

    /// `GET /v1/job/:id/versions`.
    pub async fn job_versions(
        &self,
        id: &str,
        diffs: bool,
        q: &QueryOptions,
    ) -> R<JobVersionsResponse> {
        let q = q.clone().param("diffs", diffs.to_string());
        self.get(&format!("/v1/job/{}/versions", escape_path(id)), &q)
            .await
    }

    /// `PUT /v1/job/:id/evaluate`: a new evaluation of the job (with
    /// `force_reschedule`, failed allocations are rescheduled even past
    /// their policy) in `namespace` (empty: the client's).
    pub async fn job_evaluate(
        &self,
        id: &str,
        force_reschedule: bool,
        namespace: &str,
    ) -> Result<JobRegisterResponse, Error> {
        let req = JobEvaluateRequest {
            job_id: id.to_string(),
            eval_options: EvalOptions { force_reschedule },
            ..JobEvaluateRequest::default()
        };
        self.put_in(
            &format!("/v1/job/{}/evaluate", escape_path(id)),
            Some(&req),
            namespace,
            &[],
        )
        .await
    }

    /// `PUT /v1/job/:id/revert`: registers `version` again as a new
    /// version. With `enforce_prior_version`, only when the current
    /// version is that one.
    pub async fn job_revert(
        &self,
        id: &str,
        version: u64,
        enforce_prior_version: Option<u64>,
        namespace: &str,
    ) -> Result<JobRegisterResponse, Error> {
        let req = JobRevertRequest {
            job_id: id.to_string(),
            job_version: version,
            enforce_prior_version,
            namespace: namespace.to_string(),
        };
        self.put_in(
            &format!("/v1/job/{}/revert", escape_path(id)),
            Some(&req),
            namespace,
            &[],
        )
        .await
    }

    /// `PUT /v1/job/:id/stable`: marks a version (un)stable.
    pub async fn job_stable(
        &self,
        id: &str,
        version: u64,
        stable: bool,
        namespace: &str,
    ) -> Result<JobStabilityResponse, Error> {
        let req = JobStabilityRequest {
            job_id: id.to_string(),
            job_version: version,
            stable,
            namespace: namespace.to_string(),
        };
        self.put_in(
            &format!("/v1/job/{}/stable", escape_path(id)),
            Some(&req),
            namespace,
            &[],
        )
        .await
    }

    /// `PUT /v1/job/:id/dispatch[?idempotency_token=…]`: a child of a
    /// parameterized job; the payload travels base64-encoded.
    pub async fn job_dispatch(&self, d: &Dispatch<'_>) -> Result<JobDispatchResponse, Error> {
        use base64::Engine;
        let req = JobDispatchRequest {
            job_id: d.job_id.to_string(),
            payload: (!d.payload.is_empty())
                .then(|| base64::engine::general_purpose::STANDARD.encode(d.payload)),
            meta: d.meta.clone(),
            id_prefix_template: d.id_prefix_template.to_string(),
            ..JobDispatchRequest::default()
        };
        let mut params = Vec::new();
        if !d.idempotency_token.is_empty() {
            params.push(kv("idempotency_token", d.idempotency_token));
        }
        self.put_in(
            &format!("/v1/job/{}/dispatch", escape_path(d.job_id)),
            Some(&req),
            d.namespace,
            &params,
        )
        .await
    }

    /// `PUT /v1/job/:id/periodic/force`: launches a periodic job now.
    pub async fn job_periodic_force(
        &self,
        id: &str,
        namespace: &str,
    ) -> Result<PeriodicForceResponse, Error> {
        self.put_in::<(), _>(
            &format!("/v1/job/{}/periodic/force", escape_path(id)),
            None,
            namespace,
            &[],
        )
        .await
    }

    /// `PUT /v1/job/:id/scale`: sets a group's count (or, without one,
    /// records an event).
    pub async fn job_scale(
        &self,
        id: &str,
        group: &str,
        count: Option<i64>,
        message: &str,
        namespace: &str,
    ) -> Result<JobRegisterResponse, Error> {
        let req = ScalingRequest {
            count,
            target: [("Job", id), ("Group", group)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            message: message.to_string(),
            ..ScalingRequest::default()
        };
        self.put_in(
            &format!("/v1/job/{}/scale", escape_path(id)),
            Some(&req),
            namespace,
            &[],
        )
        .await
    }

    /// `GET /v1/job/:id/scale`: counts and scaling events per group.
    pub async fn job_scale_status(&self, id: &str, q: &QueryOptions) -> R<JobScaleStatusResponse> {
        self.get(&format!("/v1/job/{}/scale", escape_path(id)), q)
            .await
    }

    /// `POST /v1/jobs/parse`.
    pub async fn jobs_parse(&self, req: &JobsParseRequest) -> Result<Job, Error> {
        self.put("/v1/jobs/parse", Some(req), &[]).await
    }

    /// `POST /v1/validate/job`.
    pub async fn validate_job(&self, job: &Job) -> Result<JobValidateResponse, Error> {
        let req = JobValidateRequest {
            job: Some(job.clone()),
        };
        self.put("/v1/validate/job", Some(&req), &[]).await
    }

    // ---- allocations ----

    /// `GET /v1/allocations`.
    pub async fn allocations_list(&self, q: &QueryOptions) -> R<Vec<AllocationListStub>> {
        self.get("/v1/allocations", q).await
    }

    /// `GET /v1/allocation/:id`.
    pub async fn allocation_info(&self, id: &str, q: &QueryOptions) -> R<Allocation> {
        self.get(&format!("/v1/allocation/{}", escape_path(id)), q)
            .await
    }

    /// `PUT /v1/allocation/:id/stop`.
    pub async fn allocation_stop(&self, id: &str) -> Result<AllocStopResponse, Error> {
        self.put::<(), _>(
            &format!("/v1/allocation/{}/stop", escape_path(id)),
            None,
            &[],
        )
        .await
    }

    // ---- evaluations ----

    /// `GET /v1/evaluations`.
    pub async fn evaluations_list(&self, q: &QueryOptions) -> R<Vec<Evaluation>> {
        self.get("/v1/evaluations", q).await
    }

    /// `GET /v1/evaluation/:id`.
    pub async fn evaluation_info(&self, id: &str, q: &QueryOptions) -> R<Evaluation> {
        self.get(&format!("/v1/evaluation/{}", escape_path(id)), q)
            .await
    }

    /// `GET /v1/evaluation/:id/allocations`.
    pub async fn evaluation_allocations(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> R<Vec<AllocationListStub>> {
        self.get(
            &format!("/v1/evaluation/{}/allocations", escape_path(id)),
            q,
        )
        .await
    }

    // ---- deployments ----

    /// `GET /v1/deployments`.
    pub async fn deployments_list(&self, q: &QueryOptions) -> R<Vec<Deployment>> {
        self.get("/v1/deployments", q).await
    }

    /// `GET /v1/deployment/:id`.
    pub async fn deployment_info(&self, id: &str, q: &QueryOptions) -> R<Deployment> {
        self.get(&format!("/v1/deployment/{}", escape_path(id)), q)
            .await
    }

    /// `GET /v1/deployment/allocations/:id`.
    pub async fn deployment_allocations(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> R<Vec<AllocationListStub>> {
        self.get(
            &format!("/v1/deployment/allocations/{}", escape_path(id)),
            q,
        )
        .await
    }

    /// `PUT /v1/deployment/promote/:id`.
    pub async fn deployment_promote(
        &self,
        id: &str,
        all: bool,
        groups: Vec<String>,
    ) -> Result<DeploymentUpdateResponse, Error> {
        let req = DeploymentPromoteRequest {
            deployment_id: id.to_string(),
            all,
            groups,
        };
        self.put(
            &format!("/v1/deployment/promote/{}", escape_path(id)),
            Some(&req),
            &[],
        )
        .await
    }

    /// `PUT /v1/deployment/fail/:id`.
    pub async fn deployment_fail(&self, id: &str) -> Result<DeploymentUpdateResponse, Error> {
        self.put::<(), _>(
            &format!("/v1/deployment/fail/{}", escape_path(id)),
            None,
            &[],
        )
        .await
    }

    /// `PUT /v1/deployment/allocation-health/:id`: marks allocations of the
    /// deployment healthy or unhealthy by hand.
    pub async fn deployment_alloc_health(
        &self,
        id: &str,
        healthy: &[String],
        unhealthy: &[String],
    ) -> Result<DeploymentUpdateResponse, Error> {
        let req = DeploymentAllocHealthRequest {
            deployment_id: id.to_string(),
            healthy_allocation_ids: healthy.to_vec(),
            unhealthy_allocation_ids: unhealthy.to_vec(),
        };
        self.put(
            &format!("/v1/deployment/allocation-health/{}", escape_path(id)),
            Some(&req),
            &[],
        )
        .await
    }

    /// `PUT /v1/deployment/pause/:id`.
    pub async fn deployment_pause(
        &self,
        id: &str,
        pause: bool,
    ) -> Result<DeploymentUpdateResponse, Error> {
        let req = DeploymentPauseRequest {
            deployment_id: id.to_string(),
            pause,
        };
        self.put(
            &format!("/v1/deployment/pause/{}", escape_path(id)),
            Some(&req),
            &[],
        )
        .await
    }

    // ---- nodes ----

    /// `GET /v1/nodes`.
    pub async fn nodes_list(&self, q: &QueryOptions) -> R<Vec<NodeListStub>> {
        self.get("/v1/nodes", q).await
    }

    /// `GET /v1/node/:id`.
    pub async fn node_info(&self, id: &str, q: &QueryOptions) -> R<Node> {
        self.get(&format!("/v1/node/{}", escape_path(id)), q).await
    }

    /// `GET /v1/node/:id/allocations`.
    pub async fn node_allocations(&self, id: &str, q: &QueryOptions) -> R<Vec<Allocation>> {
        self.get(&format!("/v1/node/{}/allocations", escape_path(id)), q)
            .await
    }

    /// `PUT /v1/node/:id/drain`.
    pub async fn node_drain(
        &self,
        req: &NodeUpdateDrainRequest,
    ) -> Result<NodeDrainUpdateResponse, Error> {
        self.put(
            &format!("/v1/node/{}/drain", escape_path(&req.node_id)),
            Some(req),
            &[],
        )
        .await
    }

    /// `PUT /v1/node/:id/evaluate`: evaluations of the node's jobs.
    pub async fn node_evaluate(&self, id: &str) -> Result<NodeUpdateResponse, Error> {
        self.put::<(), _>(&format!("/v1/node/{}/evaluate", escape_path(id)), None, &[])
            .await
    }

    /// `PUT /v1/node/:id/purge`: removes the node from the cluster's state.
    pub async fn node_purge(&self, id: &str) -> Result<NodeUpdateResponse, Error> {
        self.put::<(), _>(&format!("/v1/node/{}/purge", escape_path(id)), None, &[])
            .await
    }

    /// `PUT /v1/node/:id/eligibility`.
    pub async fn node_eligibility(
        &self,
        id: &str,
        eligible: bool,
    ) -> Result<NodeEligibilityUpdateResponse, Error> {
        let req = NodeUpdateEligibilityRequest {
            node_id: id.to_string(),
            eligibility: if eligible { "eligible" } else { "ineligible" }.to_string(),
        };
        self.put(
            &format!("/v1/node/{}/eligibility", escape_path(id)),
            Some(&req),
            &[],
        )
        .await
    }

    // ---- agent, status, system ----

    /// `GET /v1/agent/self`.
    pub async fn agent_self(&self) -> Result<AgentSelf, Error> {
        Ok(self
            .get("/v1/agent/self", &QueryOptions::default())
            .await?
            .0)
    }

    /// `GET /v1/agent/members`.
    pub async fn agent_members(&self) -> Result<ServerMembers, Error> {
        Ok(self
            .get("/v1/agent/members", &QueryOptions::default())
            .await?
            .0)
    }

    /// `GET /v1/agent/servers`.
    pub async fn agent_servers(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .get("/v1/agent/servers", &QueryOptions::default())
            .await?
            .0)
    }

    /// `GET /v1/agent/health`.
    pub async fn agent_health(&self) -> Result<AgentHealthResponse, Error> {
        Ok(self
            .get("/v1/agent/health", &QueryOptions::default())
            .await?
            .0)
    }

    /// `GET /v1/status/leader` (of `region`, or the client's).
    pub async fn status_leader(&self, region: &str) -> Result<String, Error> {
        let mut q = QueryOptions::default();
        if !region.is_empty() {
            q = q.param("region", region);
        }
        Ok(self.get("/v1/status/leader", &q).await?.0)
    }

    /// `GET /v1/status/peers`.
    pub async fn status_peers(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .get("/v1/status/peers", &QueryOptions::default())
            .await?
            .0)
    }

    /// `GET /v1/regions`.
    pub async fn regions(&self) -> Result<Vec<String>, Error> {
        Ok(self.get("/v1/regions", &QueryOptions::default()).await?.0)
    }

    /// `PUT /v1/search`: IDs starting with `prefix` in `context` (`jobs`,
    /// `evals`, `allocs`, `nodes`, `deployment`, … or `all`).
    pub async fn search_prefix(
        &self,
        prefix: &str,
        context: &str,
    ) -> Result<SearchResponse, Error> {
        let req = SearchRequest {
            prefix: prefix.to_string(),
            context: context.to_string(),
        };
        self.put("/v1/search", Some(&req), &[]).await
    }

    /// `PUT /v1/system/gc`.
    pub async fn system_gc(&self) -> Result<(), Error> {
        let _: Option<serde_json::Value> = self.put::<(), _>("/v1/system/gc", None, &[]).await?;
        Ok(())
    }

    /// `GET /v1/operator/raft/configuration`.
    pub async fn raft_configuration(&self) -> Result<RaftConfiguration, Error> {
        self.raft_configuration_with(&QueryOptions::default()).await
    }

    /// `GET /v1/operator/raft/configuration` with options (`allow_stale`
    /// for a cluster without a leader).
    pub async fn raft_configuration_with(
        &self,
        q: &QueryOptions,
    ) -> Result<RaftConfiguration, Error> {
        Ok(self.get("/v1/operator/raft/configuration", q).await?.0)
    }

    /// `DELETE /v1/operator/raft/peer?address=…`: removes the server with
    /// this Raft (RPC) address, `host:port`, from the Raft configuration.
    pub async fn raft_remove_peer_by_address(&self, address: &str) -> Result<(), Error> {
        let _: Option<serde_json::Value> = self
            .delete("/v1/operator/raft/peer", &[kv("address", address)])
            .await?;
        Ok(())
    }

    /// `DELETE /v1/operator/raft/peer?id=…`: removes the server with this
    /// Raft ID from the Raft configuration.
    pub async fn raft_remove_peer_by_id(&self, id: &str) -> Result<(), Error> {
        let _: Option<serde_json::Value> = self
            .delete("/v1/operator/raft/peer", &[kv("id", id)])
            .await?;
        Ok(())
    }

    /// `PUT /v1/agent/join?address=…` (one parameter per address). A join
    /// that reached no server is not an `Err`: the agent answers 200 with
    /// `num_joined` 0 and the reason in [`JoinResponse::error`].
    pub async fn agent_join(&self, addresses: &[String]) -> Result<JoinResponse, Error> {
        let params: Vec<(String, String)> = addresses.iter().map(|a| kv("address", a)).collect();
        self.put::<(), _>("/v1/agent/join", None, &params).await
    }

    /// `PUT /v1/agent/force-leave?node=NAME`: marks a failed server `left`.
    pub async fn agent_force_leave(&self, node: &str) -> Result<(), Error> {
        let _: Option<serde_json::Value> = self
            .put::<(), _>("/v1/agent/force-leave", None, &[kv("node", node)])
            .await?;
        Ok(())
    }

    /// `GET /v1/operator/snapshot`: the index the state image was taken at
    /// and the image. The agent's `Digest` header (`sha-256=<base64>`), when
    /// present, is checked against the bytes received.
    pub async fn snapshot_save(&self) -> Result<(u64, Vec<u8>), Error> {
        self.snapshot_save_with(&QueryOptions::default()).await
    }

    /// [`Client::snapshot_save`] with options (`allow_stale`: any server
    /// may answer).
    pub async fn snapshot_save_with(&self, q: &QueryOptions) -> Result<(u64, Vec<u8>), Error> {
        let params = self.query_params(q);
        let resp = Self::send(self.request(reqwest::Method::GET, "/v1/operator/snapshot", &params))
            .await?;
        let meta = crate::meta_of(resp.headers());
        let digest = resp
            .headers()
            .get("Digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp
            .bytes()
            .await
            .map_err(|e| Error::Transport(crate::transport_text(&e)))?
            .to_vec();
        if let Some(d) = digest {
            check_digest(&d, &body)?;
        }
        Ok((meta.last_index, body))
    }

    /// `PUT /v1/operator/snapshot` with an image from
    /// [`Client::snapshot_save`] as the body: replaces the cluster's state.
    pub async fn snapshot_restore(&self, image: Vec<u8>) -> Result<(), Error> {
        let params = self.base_params("");
        let rb = self
            .request(reqwest::Method::PUT, "/v1/operator/snapshot", &params)
            .header("Content-Type", "application/octet-stream")
            .body(image);
        Self::send(rb).await?;
        Ok(())
    }

    /// `GET /v1/metrics`.
    pub async fn metrics(&self) -> Result<serde_json::Value, Error> {
        Ok(self.get("/v1/metrics", &QueryOptions::default()).await?.0)
    }

    // ---- client file system ----

    /// `GET /v1/client/fs/ls/:alloc?path=`: the entries of a directory of
    /// the allocation.
    pub async fn alloc_fs_list(
        &self,
        alloc_id: &str,
        path: &str,
    ) -> Result<Vec<AllocFileInfo>, Error> {
        let q = QueryOptions::default().param("path", path);
        Ok(self
            .get(&format!("/v1/client/fs/ls/{}", escape_path(alloc_id)), &q)
            .await?
            .0)
    }

    /// `GET /v1/client/fs/stat/:alloc?path=`.
    pub async fn alloc_fs_stat(&self, alloc_id: &str, path: &str) -> Result<AllocFileInfo, Error> {
        let q = QueryOptions::default().param("path", path);
        Ok(self
            .get(&format!("/v1/client/fs/stat/{}", escape_path(alloc_id)), &q)
            .await?
            .0)
    }

    /// `GET /v1/client/fs/cat/:alloc?path=`: a file's bytes.
    pub async fn alloc_fs_cat(&self, alloc_id: &str, path: &str) -> Result<LogStream, Error> {
        self.get_stream(
            &format!("/v1/client/fs/cat/{}", escape_path(alloc_id)),
            &[kv("path", path)],
        )
        .await
    }

    /// `GET /v1/client/fs/logs/:alloc` as plain bytes.
    pub async fn alloc_logs(
        &self,
        alloc_id: &str,
        task: &str,
        log_type: &str,
        follow: bool,
        origin: &str,
        offset: i64,
    ) -> Result<LogStream, Error> {
        let p = vec![
            kv("task", task),
            kv("type", log_type),
            kv("follow", follow),
            kv("origin", origin),
            kv("offset", offset),
            kv("plain", true),
        ];
        self.get_stream(&format!("/v1/client/fs/logs/{}", escape_path(alloc_id)), &p)
            .await
    }
}

/// Checks a `Digest: sha-256=<base64>` header against the bytes received;
/// other algorithms are not checked.
fn check_digest(digest: &str, body: &[u8]) -> Result<(), Error> {
    use base64::Engine;
    use sha2::Digest;
    let Some((algo, want)) = digest.split_once('=') else {
        return Err(Error::Decode(format!("invalid digest format: {digest:?}")));
    };
    if !algo.eq_ignore_ascii_case("sha-256") {
        return Ok(());
    }
    let got = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(body));
    if got != want {
        return Err(Error::Decode(format!(
            "mismatch checksum: the snapshot's sha-256 is {got}, the agent sent {want}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        // sha-256 of the empty string.
        let empty = "sha-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
        assert!(check_digest(empty, b"").is_ok());
        assert!(check_digest(empty, b"x").is_err());
        assert!(check_digest("md5=whatever", b"x").is_ok());
        assert!(check_digest("nonsense", b"x").is_err());
    }
}
