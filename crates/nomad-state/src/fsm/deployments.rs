//! Deployments: upsert, status changes, promotion, allocation health, and
//! the placement / health counts that follow allocations.

use std::collections::BTreeMap;
use std::sync::Arc;

use nomad_types::consts::{deployment_description, deployment_status};
use nomad_types::{Allocation, Deployment, GoTime};

use super::Txn;
use crate::command::{
    DeploymentAllocHealth, DeploymentPromotion, DeploymentStatusUpdate,
    DeploymentStatusUpdateRequest,
};
use crate::error::ApplyError;
use crate::table::Table;

fn is_terminal(d: &Deployment) -> bool {
    matches!(
        d.status.as_str(),
        deployment_status::CANCELLED | deployment_status::FAILED | deployment_status::SUCCESSFUL
    )
}

impl Txn<'_> {
    /// Inserts or replaces a deployment (Nomad's `upsertDeploymentImpl`);
    /// a successful one marks its job version stable.
    pub fn upsert_deployment(&mut self, mut d: Deployment) -> Result<(), ApplyError> {
        if d.id.is_empty() {
            return Err(ApplyError::Invalid("deployment without an ID".into()));
        }
        match self.t.deployments.get(&d.id) {
            Some(ex) => {
                for (tg, old) in &ex.task_groups {
                    if old.promoted && d.task_groups.get(tg).is_some_and(|s| !s.promoted) {
                        return Err(ApplyError::Conflict(
                            "deployment promotion cannot be undone".into(),
                        ));
                    }
                }
                d.create_index = ex.create_index;
            }
            None => d.create_index = self.index,
        }
        d.modify_index = self.index;
        let successful = d.status == deployment_status::SUCCESSFUL;
        let (ns, job, version) = (d.namespace.clone(), d.job_id.clone(), d.job_version);
        self.put_deployment(Arc::new(d));
        self.touch(Table::Deployment);
        if successful {
            self.update_job_stability(&ns, &job, version, true)?;
        }
        Ok(())
    }

    /// Nomad's `updateDeploymentStatusImpl`; `now` is Unix nanoseconds.
    pub fn update_deployment_status(
        &mut self,
        u: &DeploymentStatusUpdate,
        now: i64,
    ) -> Result<(), ApplyError> {
        let ex = self
            .t
            .deployments
            .get(&u.deployment_id)
            .cloned()
            .ok_or_else(|| ApplyError::not_found("deployment", &u.deployment_id))?;
        if is_terminal(&ex) {
            return Err(ApplyError::Conflict(format!(
                "deployment {:?} has terminal status {:?}",
                ex.id, ex.status
            )));
        }
        let mut d = (*ex).clone();
        d.status = u.status.clone();
        d.status_description = u.status_description.clone();
        d.modify_index = self.index;
        d.modify_time = now;
        if matches!(
            d.status.as_str(),
            deployment_status::PAUSED | deployment_status::RUNNING
        ) {
            for s in d.task_groups.values_mut() {
                if s.progress_deadline.0 != 0 {
                    s.require_progress_by =
                        GoTime::from_unix_nanos(now.saturating_add(s.progress_deadline.0));
                }
            }
        }
        let successful = d.status == deployment_status::SUCCESSFUL;
        let (ns, job, version) = (d.namespace.clone(), d.job_id.clone(), d.job_version);
        self.put_deployment(Arc::new(d));
        self.touch(Table::Deployment);
        if successful {
            self.update_job_stability(&ns, &job, version, true)?;
        }
        Ok(())
    }

    pub(super) fn deployment_status_update(
        &mut self,
        c: DeploymentStatusUpdateRequest,
    ) -> Result<(), ApplyError> {
        self.update_deployment_status(&c.deployment_update, c.updated_at)?;
        if let Some(mut job) = c.job {
            job.canonicalize();
            self.upsert_job(job, false)?;
        }
        if let Some(e) = c.eval {
            self.nested_upsert_eval(e)?;
        }
        Ok(())
    }

    pub(super) fn deployment_promotion(
        &mut self,
        c: DeploymentPromotion,
    ) -> Result<(), ApplyError> {
        let ex = self
            .t
            .deployments
            .get(&c.deployment_id)
            .cloned()
            .ok_or_else(|| ApplyError::not_found("deployment", &c.deployment_id))?;
        if is_terminal(&ex) {
            return Err(ApplyError::Conflict(format!(
                "deployment {:?} has terminal status {:?}",
                ex.id, ex.status
            )));
        }
        let selected = |tg: &str| c.all || c.groups.iter().any(|g| g == tg);
        let canaries: Vec<&String> = ex
            .task_groups
            .values()
            .flat_map(|s| &s.placed_canaries)
            .collect();
        let allocs = self.t.allocs_of_deployment(&c.deployment_id);
        let mut healthy: BTreeMap<&str, i64> = BTreeMap::new();
        let mut promotable: Vec<Arc<Allocation>> = Vec::new();
        for a in allocs.iter() {
            if !canaries.contains(&&a.id) || !selected(&a.task_group) {
                continue;
            }
            let is_healthy = a
                .deployment_status
                .as_ref()
                .is_some_and(|d| d.healthy == Some(true));
            if a.terminal_status() || !is_healthy {
                continue;
            }
            *healthy.entry(a.task_group.as_str()).or_default() += 1;
            promotable.push(Arc::clone(a));
        }
        let mut problems = Vec::new();
        for (tg, s) in &ex.task_groups {
            if !selected(tg) || s.desired_canaries == 0 {
                continue;
            }
            let have = healthy.get(tg.as_str()).copied().unwrap_or(0);
            if have < s.desired_canaries {
                problems.push(format!(
                    "Task group {tg:?} has {have}/{} healthy allocations",
                    s.desired_canaries
                ));
            }
        }
        if !problems.is_empty() {
            return Err(ApplyError::Conflict(problems.join("; ")));
        }

        let mut d = (*ex).clone();
        for (tg, s) in d.task_groups.iter_mut() {
            if !selected(tg) {
                continue;
            }
            if s.progress_deadline.0 > 0 && !s.require_progress_by.is_zero() {
                s.require_progress_by =
                    GoTime::from_unix_nanos(c.promoted_at.saturating_add(s.progress_deadline.0));
            }
            s.promoted = true;
        }
        if !d.requires_promotion() && d.status == deployment_status::RUNNING {
            d.status_description = deployment_description::RUNNING.to_string();
        }
        d.modify_time = c.promoted_at;
        self.upsert_deployment(d)?;
        if let Some(e) = c.eval {
            self.nested_upsert_eval(e)?;
        }
        for a in promotable {
            let mut p = (*a).clone();
            if let Some(ds) = &mut p.deployment_status {
                ds.canary = false;
                ds.modify_index = self.index;
            }
            p.modify_index = self.index;
            p.alloc_modify_index = self.index;
            self.put_alloc(Arc::new(p));
        }
        self.touch(Table::Allocs);
        Ok(())
    }

    pub(super) fn deployment_alloc_health(
        &mut self,
        c: DeploymentAllocHealth,
    ) -> Result<(), ApplyError> {
        let ex = self
            .t
            .deployments
            .get(&c.deployment_id)
            .cloned()
            .ok_or_else(|| ApplyError::not_found("deployment", &c.deployment_id))?;
        if is_terminal(&ex) {
            return Err(ApplyError::Conflict(format!(
                "deployment {:?} has terminal status {:?}",
                ex.id, ex.status
            )));
        }
        let marks = c
            .healthy_allocation_ids
            .iter()
            .map(|id| (id, true))
            .chain(c.unhealthy_allocation_ids.iter().map(|id| (id, false)));
        let mut any = false;
        for (id, healthy) in marks {
            any = true;
            let old = self
                .t
                .allocs
                .get(id)
                .cloned()
                .ok_or_else(|| ApplyError::not_found("alloc", id))?;
            if old.deployment_id != c.deployment_id {
                return Err(ApplyError::Conflict(format!(
                    "alloc {id:?} is not part of deployment {:?}",
                    c.deployment_id
                )));
            }
            let mut a = (*old).clone();
            let ds = a.deployment_status.get_or_insert_with(Default::default);
            ds.healthy = Some(healthy);
            ds.timestamp = GoTime::from_unix_nanos(c.timestamp);
            ds.modify_index = self.index;
            a.modify_time = c.timestamp;
            a.modify_index = self.index;
            self.update_deployment_with_alloc(&mut a, Some(&old))?;
            self.put_alloc(Arc::new(a));
        }
        if any {
            self.touch(Table::Allocs);
        }
        if let Some(u) = &c.deployment_update {
            self.update_deployment_status(u, c.timestamp)?;
        }
        if let Some(mut job) = c.job {
            job.canonicalize();
            self.upsert_job(job, false)?;
        }
        if let Some(e) = c.eval {
            self.nested_upsert_eval(e)?;
        }
        Ok(())
    }

    pub(super) fn deployment_delete(&mut self, ids: &[String]) -> Result<(), ApplyError> {
        for id in ids {
            self.remove_deployment(id)
                .ok_or_else(|| ApplyError::not_found("deployment", id))?;
            self.touch(Table::Deployment);
        }
        Ok(())
    }

    /// Counts a placement, or a health change, in the allocation's
    /// deployment (Nomad's `updateDeploymentWithAlloc`).
    pub fn update_deployment_with_alloc(
        &mut self,
        alloc: &mut Allocation,
        existing: Option<&Allocation>,
    ) -> Result<(), ApplyError> {
        if alloc.deployment_id.is_empty() {
            return Ok(());
        }
        let Some(dep) = self.t.deployments.get(&alloc.deployment_id).cloned() else {
            return Ok(());
        };
        if !dep.task_groups.contains_key(&alloc.task_group) {
            return Ok(());
        }
        let health = |a: Option<&Allocation>| {
            a.and_then(|a| a.deployment_status.as_ref())
                .and_then(|d| d.healthy)
        };
        let (old_h, new_h) = (health(existing), health(Some(alloc)));
        let (mut placed, mut healthy, mut unhealthy) = (0i64, 0i64, 0i64);
        if existing.is_none_or(|e| e.deployment_id != alloc.deployment_id) {
            placed = 1;
        } else if old_h.is_none() && new_h.is_some() {
            if new_h == Some(true) {
                healthy = 1;
            } else {
                unhealthy = 1;
            }
        } else if old_h == Some(true) && new_h == Some(false) {
            healthy = -1;
            unhealthy = 1;
        }
        if placed == 0 && healthy == 0 && unhealthy == 0 {
            return Ok(());
        }
        if healthy + unhealthy != 0 {
            if let Some(ds) = &mut alloc.deployment_status {
                ds.modify_index = self.index;
            }
        }
        let mut d = (*dep).clone();
        d.modify_index = self.index;
        d.modify_time = alloc.modify_time;
        let Some(s) = d.task_groups.get_mut(&alloc.task_group) else {
            return Ok(());
        };
        s.placed_allocs = s.placed_allocs.saturating_add(placed);
        s.healthy_allocs = s.healthy_allocs.saturating_add(healthy);
        s.unhealthy_allocs = s.unhealthy_allocs.saturating_add(unhealthy);
        if alloc.deployment_status.as_ref().is_some_and(|ds| ds.canary)
            && !s.placed_canaries.contains(&alloc.id)
        {
            s.placed_canaries.push(alloc.id.clone());
        }
        let pd = s.progress_deadline.0;
        if pd != 0 {
            if placed != 0 && s.require_progress_by.is_zero() {
                s.require_progress_by =
                    GoTime::from_unix_nanos(alloc.modify_time.saturating_add(pd));
            } else if healthy != 0 {
                let ts = alloc
                    .deployment_status
                    .as_ref()
                    .and_then(|ds| ds.timestamp.to_unix_nanos())
                    .unwrap_or(i64::MIN);
                let candidate = ts.saturating_add(pd);
                let current = s.require_progress_by.to_unix_nanos().unwrap_or(i64::MIN);
                if candidate > current {
                    s.require_progress_by = GoTime::from_unix_nanos(candidate);
                }
            }
        }
        self.upsert_deployment(d)
    }
}
