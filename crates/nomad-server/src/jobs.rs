//! Job and evaluation operations (`Job.Register`, `Job.Deregister`,
//! `Job.Plan`, `Job.Evaluate`, `Alloc.Stop`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_scheduler::plan::{Plan, PlanResult};
use nomad_scheduler::{process_eval, Planner, PlannerError, SchedulerOptions, State, Submission};
use nomad_state::command::{AllocUpdateDesiredTransition, EvalUpdate, JobDeregister, JobRegister};
use nomad_state::{ApplyError, Command, StateSnapshot};
use nomad_types::api::{
    AllocStopRequest, AllocStopResponse, JobDeregisterRequest, JobDeregisterResponse,
    JobEvaluateRequest, JobPlanRequest, JobRegisterRequest, JobRegisterResponse,
};
use nomad_types::consts::{eval_status, eval_trigger};
use nomad_types::{
    AllocMetric, Allocation, Deployment, DesiredTransition, Evaluation, Job, JobPlanResponse, Node,
    SchedulerConfiguration,
};

use crate::error::ServerError;
use crate::server::Server;

pub(crate) const ENFORCE_PREFIX: &str = "Enforcing job modify index";

pub(crate) fn new_eval(job: &Job, triggered_by: &str, now: i64) -> Evaluation {
    Evaluation {
        id: crate::new_id(),
        namespace: job.namespace().to_string(),
        priority: job.priority(),
        eval_type: job.job_type().to_string(),
        triggered_by: triggered_by.to_string(),
        job_id: job.id().to_string(),
        status: eval_status::PENDING.to_string(),
        create_time: now,
        modify_time: now,
        ..Evaluation::default()
    }
}

fn prepare(job: Option<Job>, namespace: &str) -> Result<Job, ServerError> {
    let mut job = job.ok_or_else(|| ServerError::BadRequest("Job must be specified".into()))?;
    if job.namespace.as_deref().unwrap_or("").is_empty() && !namespace.is_empty() {
        job.namespace = Some(namespace.to_string());
    }
    job.canonicalize();
    // Past the structural checks, periodic specs must parse and their
    // time zone exist (which needs the time zone database).
    let errs: Vec<String> = match job.validate_canonical() {
        Err(errs) => errs.iter().map(|e| e.to_string()).collect(),
        Ok(()) => crate::periodic::check_periodic(&job),
    };
    if !errs.is_empty() {
        let lines: Vec<String> = errs.iter().map(|e| format!("* {e}")).collect();
        return Err(ServerError::BadRequest(format!(
            "{} error{} occurred:\n\t{}\n",
            errs.len(),
            if errs.len() == 1 { "" } else { "s" },
            lines.join("\n\t")
        )));
    }
    Ok(job)
}

fn enforce(snap: &StateSnapshot, job: &Job, want: u64) -> Result<(), ServerError> {
    match snap.job_by_id(job.namespace(), job.id()) {
        Some(_) if want == 0 => Err(ServerError::Conflict(format!(
            "{ENFORCE_PREFIX} 0: job already exists"
        ))),
        Some(ex) if ex.job_modify_index.unwrap_or(0) != want => {
            Err(ServerError::Conflict(format!(
                "{ENFORCE_PREFIX} {want}: job exists with conflicting job modify index: {}",
                ex.job_modify_index.unwrap_or(0)
            )))
        }
        None if want != 0 => Err(ServerError::Conflict(format!(
            "{ENFORCE_PREFIX} {want}: job does not exist"
        ))),
        _ => Ok(()),
    }
}

pub(crate) fn apply_error(e: ApplyError) -> ServerError {
    match e {
        ApplyError::NotFound { .. } => ServerError::NotFound(e.to_string()),
        ApplyError::Conflict(m) => ServerError::Conflict(m),
        ApplyError::Invalid(m) => ServerError::BadRequest(m),
        other => ServerError::Internal(other.to_string()),
    }
}

impl Server {
    /// `Job.Register`: validate, then commit the job with its evaluation.
    pub async fn job_register(
        &self,
        req: JobRegisterRequest,
    ) -> Result<JobRegisterResponse, ServerError> {
        let job = prepare(req.job, &req.namespace)?;
        let snap = self.inner.reader.snapshot();
        if req.enforce_index {
            enforce(&snap, &job, req.job_modify_index)?;
        }
        let now = crate::now_nanos();
        let eval = (!job.is_periodic() && !job.is_parameterized()).then(|| {
            let mut e = new_eval(&job, eval_trigger::JOB_REGISTER, now);
            if req.eval_priority > 0 {
                e.priority = req.eval_priority;
            }
            e
        });
        let eval_id = eval.as_ref().map(|e| e.id.clone()).unwrap_or_default();
        let (ns, id) = (job.namespace().to_string(), job.id().to_string());
        let cmd = Command::JobRegister(JobRegister {
            job,
            eval,
            deployment: None,
            submit_time: now,
            enforce_index: req.enforce_index.then_some(req.job_modify_index),
            preserve_counts: req.preserve_counts,
            // `prepare` canonicalized it.
            canonical: true,
        });
        let r = self.propose(cmd).await?;
        if let Some(e) = r.error {
            if req.enforce_index {
                // Re-check against the state the entry met, for Nomad's text.
                enforce(
                    &self.inner.reader.snapshot(),
                    &prepare_key(&ns, &id),
                    req.job_modify_index,
                )?;
            }
            return Err(apply_error(e));
        }
        tracing::debug!(job_id = %id, namespace = %ns, eval_id = %eval_id, index = r.index, "job registered");
        Ok(JobRegisterResponse {
            eval_id,
            eval_create_index: r.index,
            job_modify_index: r.job_modify_index.unwrap_or(r.index),
            index: r.index,
            known_leader: true,
            ..JobRegisterResponse::default()
        })
    }

    /// `Job.Deregister`: stop, or with `purge` remove, a job.
    pub async fn job_deregister(
        &self,
        req: JobDeregisterRequest,
    ) -> Result<JobDeregisterResponse, ServerError> {
        let ns = if req.namespace.is_empty() {
            "default".to_string()
        } else {
            req.namespace.clone()
        };
        let snap = self.inner.reader.snapshot();
        let job = snap.job_by_id(&ns, &req.job_id);
        let now = crate::now_nanos();
        let eval = job.as_ref().map(|j| {
            let mut e = new_eval(j, eval_trigger::JOB_DEREGISTER, now);
            if req.eval_priority > 0 {
                e.priority = req.eval_priority;
            }
            e
        });
        let eval_id = eval.as_ref().map(|e| e.id.clone()).unwrap_or_default();
        let r = self
            .propose(Command::JobDeregister(JobDeregister {
                namespace: ns.clone(),
                job_id: req.job_id.clone(),
                purge: req.purge,
                eval,
                submit_time: now,
                no_shutdown_delay: req.no_shutdown_delay,
            }))
            .await?;
        if let Some(e) = r.error {
            if job.is_none() {
                return Err(ServerError::NotFound("job not found".into()));
            }
            return Err(apply_error(e));
        }
        if let Some(b) = self.inner.blocked.untrack(&ns, &req.job_id) {
            self.write_status(vec![b], eval_status::CANCELLED, "job deregistered")
                .await;
        }
        tracing::debug!(job_id = %req.job_id, purge = req.purge, eval_id = %eval_id, "job deregistered");
        Ok(JobDeregisterResponse {
            eval_id,
            eval_create_index: r.index,
            job_modify_index: r.job_modify_index.unwrap_or(r.index),
            index: r.index,
            known_leader: true,
            ..JobDeregisterResponse::default()
        })
    }

    /// `Job.Evaluate`: a new evaluation of a registered job.
    pub async fn job_evaluate(
        &self,
        req: JobEvaluateRequest,
    ) -> Result<JobRegisterResponse, ServerError> {
        let ns = if req.namespace.is_empty() {
            "default"
        } else {
            req.namespace.as_str()
        };
        let snap = self.inner.reader.snapshot();
        let job = snap
            .job_by_id(ns, &req.job_id)
            .ok_or_else(|| ServerError::NotFound("job not found".into()))?;
        if job.is_periodic() || job.is_parameterized() {
            return Err(ServerError::BadRequest(
                "can't evaluate periodic or parameterized job".into(),
            ));
        }
        let mut eval = new_eval(&job, eval_trigger::JOB_REGISTER, crate::now_nanos());
        eval.job_modify_index = job.job_modify_index.unwrap_or(0);
        let eval_id = eval.id.clone();
        let r = self
            .propose(Command::EvalUpdate(EvalUpdate { evals: vec![eval] }))
            .await?;
        if let Some(e) = r.error {
            return Err(apply_error(e));
        }
        Ok(JobRegisterResponse {
            eval_id,
            eval_create_index: r.index,
            job_modify_index: job.job_modify_index.unwrap_or(0),
            index: r.index,
            known_leader: true,
            ..JobRegisterResponse::default()
        })
    }

    /// `Alloc.Stop`: mark an allocation to migrate and evaluate its job.
    pub async fn alloc_stop(
        &self,
        req: AllocStopRequest,
    ) -> Result<AllocStopResponse, ServerError> {
        let snap = self.inner.reader.snapshot();
        let alloc = snap
            .alloc_by_id(&req.alloc_id)
            .ok_or_else(|| ServerError::NotFound(format!("alloc not found: {}", req.alloc_id)))?;
        let job = alloc
            .job
            .clone()
            .or_else(|| snap.job_by_id(&alloc.namespace, &alloc.job_id))
            .ok_or_else(|| ServerError::NotFound("job not found".into()))?;
        let eval = new_eval(&job, eval_trigger::ALLOC_STOP, crate::now_nanos());
        let eval_id = eval.id.clone();
        let mut allocs = BTreeMap::new();
        allocs.insert(
            alloc.id.clone(),
            DesiredTransition {
                migrate: Some(true),
                no_shutdown_delay: req.no_shutdown_delay.then_some(true),
                ..DesiredTransition::default()
            },
        );
        let r = self
            .propose(Command::AllocUpdateDesiredTransition(
                AllocUpdateDesiredTransition {
                    allocs,
                    evals: vec![eval],
                },
            ))
            .await?;
        if let Some(e) = r.error {
            return Err(apply_error(e));
        }
        tracing::info!(alloc_id = %alloc.id, eval_id = %eval_id, "allocation stop requested");
        Ok(AllocStopResponse {
            eval_id,
            index: r.index,
        })
    }

    /// `Job.Plan`: a dry run of the scheduler; nothing is committed.
    pub async fn job_plan(&self, req: JobPlanRequest) -> Result<JobPlanResponse, ServerError> {
        let job = prepare(req.job, &req.namespace)?;
        let snap = self.inner.reader.snapshot();
        let old = snap.job_by_id(job.namespace(), job.id());
        let mut resp = JobPlanResponse {
            job_modify_index: old.as_ref().and_then(|j| j.job_modify_index).unwrap_or(0),
            ..JobPlanResponse::default()
        };
        if req.diff {
            resp.diff = Some(nomad_types::diff_jobs(old.as_deref(), &job, true));
        }
        if job.is_periodic() || job.is_parameterized() {
            if let Some(next) = crate::periodic::next_launch_from_now(&job) {
                resp.next_periodic_launch = nomad_types::GoTime::from_unix_nanos(next);
            }
            return Ok(resp);
        }
        let mut planned = job.clone();
        let next = snap.latest_index() + 1;
        planned.version = Some(match &old {
            Some(o) => o.version.unwrap_or(0) + 1,
            None => 0,
        });
        planned.job_modify_index = Some(next);
        planned.modify_index = Some(next);
        planned.create_index = Some(old.as_ref().and_then(|o| o.create_index).unwrap_or(next));
        let mut eval = new_eval(&planned, eval_trigger::JOB_REGISTER, crate::now_nanos());
        eval.annotate_plan = true;
        let overlay = PlanState {
            snap,
            job: Arc::new(planned),
        };
        let out = tokio::task::spawn_blocking(move || {
            let mut rec = Recorder::default();
            let opts = SchedulerOptions {
                now: crate::now_nanos(),
                seed: fastrand::u64(..),
            };
            let r = process_eval(&overlay, &mut rec, &eval, &opts);
            (r, rec)
        })
        .await
        .map_err(|e| ServerError::Internal(format!("plan: {e}")))?;
        let (r, rec) = out;
        let outcome = r.map_err(|e| ServerError::Internal(format!("plan: {e}")))?;
        resp.annotations = rec.plan.and_then(|p| p.annotations);
        resp.failed_tg_allocs = outcome.eval.failed_tg_allocs.clone();
        if resp.failed_tg_allocs.is_empty() {
            resp.failed_tg_allocs = rec.failed;
        }
        resp.created_evals = rec.created;
        Ok(resp)
    }
}

fn prepare_key(ns: &str, id: &str) -> Job {
    let mut j = Job::new(id, "service");
    j.namespace = Some(ns.to_string());
    j
}

/// A snapshot with one job replaced (the job being planned).
struct PlanState {
    snap: StateSnapshot,
    job: Arc<Job>,
}

impl State for PlanState {
    fn nodes(&self) -> Cow<'_, [Arc<Node>]> {
        State::nodes(&self.snap)
    }
    fn nodes_by_pool(&self, pool: &str) -> Cow<'_, [Arc<Node>]> {
        State::nodes_by_pool(&self.snap, pool)
    }
    fn node_by_id(&self, id: &str) -> Option<Arc<Node>> {
        State::node_by_id(&self.snap, id)
    }
    fn allocs_by_node(&self, node_id: &str) -> Cow<'_, [Arc<Allocation>]> {
        State::allocs_by_node(&self.snap, node_id)
    }
    fn node_usage(&self, node_id: &str) -> nomad_scheduler::NodeUsage {
        State::node_usage(&self.snap, node_id)
    }
    fn allocs_by_job(&self, namespace: &str, job_id: &str) -> Cow<'_, [Arc<Allocation>]> {
        State::allocs_by_job(&self.snap, namespace, job_id)
    }
    fn alloc_by_id(&self, id: &str) -> Option<Arc<Allocation>> {
        State::alloc_by_id(&self.snap, id)
    }
    fn job_by_id(&self, namespace: &str, id: &str) -> Option<Arc<Job>> {
        if namespace == self.job.namespace() && id == self.job.id() {
            return Some(self.job.clone());
        }
        State::job_by_id(&self.snap, namespace, id)
    }
    fn job_by_id_and_version(&self, namespace: &str, id: &str, version: u64) -> Option<Arc<Job>> {
        if namespace == self.job.namespace()
            && id == self.job.id()
            && Some(version) == self.job.version
        {
            return Some(self.job.clone());
        }
        State::job_by_id_and_version(&self.snap, namespace, id, version)
    }
    fn latest_deployment_by_job(&self, namespace: &str, job_id: &str) -> Option<Arc<Deployment>> {
        State::latest_deployment_by_job(&self.snap, namespace, job_id)
    }
    fn deployment_by_id(&self, id: &str) -> Option<Arc<Deployment>> {
        State::deployment_by_id(&self.snap, id)
    }
    fn scheduler_config(&self) -> Cow<'_, SchedulerConfiguration> {
        State::scheduler_config(&self.snap)
    }
    fn latest_index(&self) -> u64 {
        State::latest_index(&self.snap)
    }
}

/// A planner that records instead of committing (for `Job.Plan`).
#[derive(Default)]
struct Recorder {
    plan: Option<Plan>,
    failed: BTreeMap<String, AllocMetric>,
    created: Vec<Evaluation>,
}

impl Planner<PlanState> for Recorder {
    fn submit_plan(&mut self, plan: &Plan) -> Result<Submission<PlanState>, PlannerError> {
        self.plan = Some(plan.clone());
        Ok(Submission::new(PlanResult::committed(plan, 0)))
    }
    fn update_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError> {
        self.failed = eval.failed_tg_allocs.clone();
        Ok(())
    }
    fn create_eval(&mut self, eval: &Evaluation) -> Result<(), PlannerError> {
        self.created.push(eval.clone());
        Ok(())
    }
    fn reblock_eval(&mut self, _eval: &Evaluation) -> Result<(), PlannerError> {
        Ok(())
    }
}
