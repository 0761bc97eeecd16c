//! The job diff shown by `nomad job plan`.
//!
//! [`diff_jobs`] compares two jobs (normally both canonicalized) and reports
//! changed fields using Nomad's flattened names: primitive fields by their Go
//! field name (`Count`, `Driver`, `KillTimeout`), map entries as
//! `Meta[owner]` / `Env[PORT]`, and free-form task config as `image`,
//! `args[0]`, `port_map[0][http]`. Values are rendered as Go prints them:
//! durations as integer nanoseconds, booleans as `true`/`false`.
//!
//! Nested blocks become [`ObjectDiff`]s named as Nomad names them
//! (`RestartPolicy`, `Update`, `Network`, `Static Port`, `Service`, `Check`,
//! `Template`, `Config`, `Resources`, …). Lists without identity
//! (constraints, affinities, networks) are compared as sets, so an edit shows
//! as a deletion plus an addition, like Nomad.
//!
//! Not diffed, as in Nomad: spreads, task lifecycle, job-level `Update`.
//! Scheduler annotations (`Annotations`, `Updates`) are left empty for the
//! scheduler to fill.

mod flat;
mod nested;
mod objects;

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::group::TaskGroup;
use crate::job::Job;
use crate::serde_util::nullable;
use crate::task::Task;

use flat::Flat;

/// Kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum DiffType {
    /// Unchanged (only reported in contextual diffs).
    #[default]
    None,
    /// Present only in the new job.
    Added,
    /// Present only in the old job.
    Deleted,
    /// Present in both, changed.
    Edited,
}

impl DiffType {
    /// Nomad's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DiffType::None => "None",
            DiffType::Added => "Added",
            DiffType::Deleted => "Deleted",
            DiffType::Edited => "Edited",
        }
    }

    // Nomad sorts Edited first, then Added, Deleted, None.
    fn rank(self) -> u8 {
        match self {
            DiffType::Edited => 0,
            DiffType::Added => 1,
            DiffType::Deleted => 2,
            DiffType::None => 3,
        }
    }
}

impl std::fmt::Display for DiffType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Diff of two jobs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobDiff {
    /// Overall change.
    #[serde(rename = "Type")]
    pub diff_type: DiffType,
    /// Job ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Changed primitive fields.
    #[serde(with = "nullable")]
    pub fields: Vec<FieldDiff>,
    /// Changed blocks.
    #[serde(with = "nullable")]
    pub objects: Vec<ObjectDiff>,
    /// Per-group diffs, sorted by name.
    #[serde(with = "nullable")]
    pub task_groups: Vec<TaskGroupDiff>,
}

/// Diff of a task group.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskGroupDiff {
    /// Change.
    #[serde(rename = "Type")]
    pub diff_type: DiffType,
    /// Group name.
    pub name: String,
    /// Changed primitive fields.
    #[serde(with = "nullable")]
    pub fields: Vec<FieldDiff>,
    /// Changed blocks.
    #[serde(with = "nullable")]
    pub objects: Vec<ObjectDiff>,
    /// Per-task diffs, sorted by name.
    #[serde(with = "nullable")]
    pub tasks: Vec<TaskDiff>,
    /// Planned update counts (filled by the scheduler).
    #[serde(with = "nullable")]
    pub updates: BTreeMap<String, u64>,
}

/// Diff of a task.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskDiff {
    /// Change.
    #[serde(rename = "Type")]
    pub diff_type: DiffType,
    /// Task name.
    pub name: String,
    /// Changed primitive fields.
    #[serde(with = "nullable")]
    pub fields: Vec<FieldDiff>,
    /// Changed blocks.
    #[serde(with = "nullable")]
    pub objects: Vec<ObjectDiff>,
    /// Scheduler annotations (`forces create`, …).
    #[serde(with = "nullable")]
    pub annotations: Vec<String>,
}

/// Diff of a nested block.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ObjectDiff {
    /// Change.
    #[serde(rename = "Type")]
    pub diff_type: DiffType,
    /// Block name.
    pub name: String,
    /// Changed fields.
    #[serde(with = "nullable")]
    pub fields: Vec<FieldDiff>,
    /// Changed nested blocks.
    #[serde(with = "nullable")]
    pub objects: Vec<ObjectDiff>,
}

/// Diff of one flattened field.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct FieldDiff {
    /// Change.
    #[serde(rename = "Type")]
    pub diff_type: DiffType,
    /// Flattened field name.
    pub name: String,
    /// Old value.
    pub old: String,
    /// New value.
    pub new: String,
    /// Scheduler annotations.
    #[serde(with = "nullable")]
    pub annotations: Vec<String>,
}

/// Error from [`try_diff_jobs`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("can not diff jobs with different IDs: {old:?} and {new:?}")]
pub struct DiffError {
    /// Old job ID.
    pub old: String,
    /// New job ID.
    pub new: String,
}

/// Diffs two jobs. `old = None` yields an `Added` diff. With `contextual`,
/// unchanged fields of changed blocks are included with type `None`.
///
/// Jobs with different IDs are diffed anyway (the ID of `new` is reported);
/// use [`try_diff_jobs`] to reject them like Nomad does.
pub fn diff_jobs(old: Option<&Job>, new: &Job, contextual: bool) -> JobDiff {
    job_diff(old, Some(new), contextual)
}

/// Like [`diff_jobs`] but fails when the IDs differ.
pub fn try_diff_jobs(old: Option<&Job>, new: &Job, contextual: bool) -> Result<JobDiff, DiffError> {
    if let Some(o) = old {
        if o.id() != new.id() {
            return Err(DiffError {
                old: o.id().to_string(),
                new: new.id().to_string(),
            });
        }
    }
    Ok(diff_jobs(old, new, contextual))
}

/// Diffs two optional jobs (`None` on either side gives `Added`/`Deleted`).
pub fn job_diff(old: Option<&Job>, new: Option<&Job>, contextual: bool) -> JobDiff {
    let mut diff = JobDiff::default();
    let empty = Job::default();
    let (o, n) = match (old, new) {
        (None, None) => return diff,
        (None, Some(n)) => {
            diff.diff_type = DiffType::Added;
            diff.id = n.id().to_string();
            (&empty, n)
        }
        (Some(o), None) => {
            diff.diff_type = DiffType::Deleted;
            diff.id = o.id().to_string();
            (o, &empty)
        }
        (Some(o), Some(n)) => {
            diff.id = n.id().to_string();
            (o, n)
        }
    };
    let old_flat = old.map(flat::job);
    let new_flat = new.map(flat::job);
    diff.fields = field_diffs(old_flat.as_ref(), new_flat.as_ref(), false);

    if let Some(d) = string_set_diff(&o.datacenters, &n.datacenters, "Datacenters", contextual) {
        if d.diff_type != DiffType::None {
            diff.objects.push(d);
        }
    }
    diff.objects.extend(objects::constraint_diffs(
        &o.constraints,
        &n.constraints,
        contextual,
    ));
    diff.objects.extend(objects::affinity_diffs(
        &o.affinities,
        &n.affinities,
        contextual,
    ));
    diff.task_groups = group_diffs(&o.task_groups, &n.task_groups, contextual);
    diff.objects.extend(objects::periodic_diff(
        o.periodic.as_ref(),
        n.periodic.as_ref(),
        contextual,
    ));
    diff.objects.extend(objects::parameterized_diff(
        o.parameterized_job.as_ref(),
        n.parameterized_job.as_ref(),
        contextual,
    ));
    diff.objects
        .extend(objects::ui_diff(o.ui.as_ref(), n.ui.as_ref(), contextual));

    if diff.diff_type == DiffType::None
        && (diff.fields.iter().any(|f| f.diff_type != DiffType::None)
            || diff.objects.iter().any(|f| f.diff_type != DiffType::None)
            || diff
                .task_groups
                .iter()
                .any(|f| f.diff_type != DiffType::None))
    {
        diff.diff_type = DiffType::Edited;
    }
    diff
}

fn group_diffs(old: &[TaskGroup], new: &[TaskGroup], contextual: bool) -> Vec<TaskGroupDiff> {
    let old_map: BTreeMap<&str, &TaskGroup> = old.iter().map(|g| (g.name(), g)).collect();
    let new_map: BTreeMap<&str, &TaskGroup> = new.iter().map(|g| (g.name(), g)).collect();
    let mut out: Vec<TaskGroupDiff> = old_map
        .iter()
        .map(|(name, g)| group_diff(Some(g), new_map.get(name).copied(), contextual))
        .collect();
    for (name, g) in &new_map {
        if !old_map.contains_key(name) {
            out.push(group_diff(None, Some(g), contextual));
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn group_diff(old: Option<&TaskGroup>, new: Option<&TaskGroup>, contextual: bool) -> TaskGroupDiff {
    let mut diff = TaskGroupDiff::default();
    let empty = TaskGroup::default();
    let (o, n) = match (old, new) {
        (None, None) => return diff,
        (None, Some(n)) => {
            diff.diff_type = DiffType::Added;
            (&empty, n)
        }
        (Some(o), None) => {
            diff.diff_type = DiffType::Deleted;
            (o, &empty)
        }
        (Some(o), Some(n)) => {
            if o != n {
                diff.diff_type = DiffType::Edited;
            }
            (o, n)
        }
    };
    diff.name = new
        .or(old)
        .map(|g| g.name().to_string())
        .unwrap_or_default();
    let mut old_flat = old.map(flat::group);
    let mut new_flat = new.map(flat::group);
    if let (Some(of), Some(nf)) = (&mut old_flat, &mut new_flat) {
        of.insert(
            "ShutdownDelay".into(),
            flat::opt_nanos_or_blank(o.shutdown_delay),
        );
        nf.insert(
            "ShutdownDelay".into(),
            flat::opt_nanos_or_blank(n.shutdown_delay),
        );
    }
    diff.fields = field_diffs(old_flat.as_ref(), new_flat.as_ref(), false);
    objects::group_objects(&mut diff.objects, o, n, contextual);
    diff.tasks = task_diffs(&o.tasks, &n.tasks, contextual);
    diff
}

fn task_diffs(old: &[Task], new: &[Task], contextual: bool) -> Vec<TaskDiff> {
    let old_map: BTreeMap<&str, &Task> = old.iter().map(|t| (t.name.as_str(), t)).collect();
    let new_map: BTreeMap<&str, &Task> = new.iter().map(|t| (t.name.as_str(), t)).collect();
    let mut out: Vec<TaskDiff> = old_map
        .iter()
        .map(|(name, t)| task_diff(Some(t), new_map.get(name).copied(), contextual))
        .collect();
    for (name, t) in &new_map {
        if !old_map.contains_key(name) {
            out.push(task_diff(None, Some(t), contextual));
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

fn task_diff(old: Option<&Task>, new: Option<&Task>, contextual: bool) -> TaskDiff {
    let mut diff = TaskDiff::default();
    let empty = Task::default();
    let (o, n) = match (old, new) {
        (None, None) => return diff,
        (None, Some(n)) => {
            diff.diff_type = DiffType::Added;
            (&empty, n)
        }
        (Some(o), None) => {
            diff.diff_type = DiffType::Deleted;
            (o, &empty)
        }
        (Some(o), Some(n)) => {
            if o != n {
                diff.diff_type = DiffType::Edited;
            }
            (o, n)
        }
    };
    diff.name = new.or(old).map(|t| t.name.clone()).unwrap_or_default();
    let old_flat = old.map(flat::task);
    let new_flat = new.map(flat::task);
    diff.fields = field_diffs(old_flat.as_ref(), new_flat.as_ref(), false);
    objects::task_objects(&mut diff.objects, o, n, contextual);
    diff
}

// ---------------------------------------------------------------------------
// Generic building blocks (Nomad's fieldDiff / primitiveObjectDiff / …).
// ---------------------------------------------------------------------------

fn field_diff(old: &str, new: &str, name: &str, contextual: bool) -> Option<FieldDiff> {
    let mut d = FieldDiff {
        name: name.to_string(),
        ..FieldDiff::default()
    };
    if old == new {
        if !contextual {
            return None;
        }
        d.old = old.to_string();
        d.new = new.to_string();
        return Some(d);
    }
    if old.is_empty() {
        d.diff_type = DiffType::Added;
        d.new = new.to_string();
    } else if new.is_empty() {
        d.diff_type = DiffType::Deleted;
        d.old = old.to_string();
    } else {
        d.diff_type = DiffType::Edited;
        d.old = old.to_string();
        d.new = new.to_string();
    }
    Some(d)
}

fn field_diffs(old: Option<&Flat>, new: Option<&Flat>, contextual: bool) -> Vec<FieldDiff> {
    let empty = Flat::new();
    let old = old.unwrap_or(&empty);
    let new = new.unwrap_or(&empty);
    let mut out = Vec::new();
    for (k, ov) in old {
        let nv = new.get(k).map(String::as_str).unwrap_or("");
        out.extend(field_diff(ov, nv, k, contextual));
    }
    for (k, nv) in new {
        if !old.contains_key(k) {
            out.extend(field_diff("", nv, k, contextual));
        }
    }
    out.sort_by(field_cmp);
    out
}

fn field_cmp(a: &FieldDiff, b: &FieldDiff) -> Ordering {
    a.name
        .cmp(&b.name)
        .then_with(|| a.old.cmp(&b.old))
        .then_with(|| a.new.cmp(&b.new))
}

fn object_cmp(a: &ObjectDiff, b: &ObjectDiff) -> Ordering {
    a.name
        .cmp(&b.name)
        .then_with(|| a.diff_type.rank().cmp(&b.diff_type.rank()))
        .then_with(|| a.fields.len().cmp(&b.fields.len()))
        .then_with(|| a.objects.len().cmp(&b.objects.len()))
        .then_with(|| {
            a.fields
                .iter()
                .zip(&b.fields)
                .map(|(x, y)| field_cmp(x, y))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
        .then_with(|| {
            a.objects
                .iter()
                .zip(&b.objects)
                .map(|(x, y)| object_cmp(x, y))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
}

fn sort_objects(objects: &mut [ObjectDiff]) {
    objects.sort_by(object_cmp);
}

/// Nomad's `primitiveObjectDiff`: the type is derived from the field changes;
/// `None` when nothing changed.
fn primitive_object_diff(
    old: Option<Flat>,
    new: Option<Flat>,
    name: &str,
    contextual: bool,
) -> Option<ObjectDiff> {
    let fields = field_diffs(old.as_ref(), new.as_ref(), contextual);
    let mut added = false;
    let mut deleted = false;
    let mut edited = false;
    for f in &fields {
        match f.diff_type {
            DiffType::Edited => edited = true,
            DiffType::Added => added = true,
            DiffType::Deleted => deleted = true,
            DiffType::None => {}
        }
    }
    let diff_type = if edited || (added && deleted) {
        DiffType::Edited
    } else if added {
        DiffType::Added
    } else if deleted {
        DiffType::Deleted
    } else {
        return None;
    };
    Some(ObjectDiff {
        diff_type,
        name: name.to_string(),
        fields,
        objects: Vec::new(),
    })
}

/// The common "whole struct" diff: `None` when equal, otherwise
/// Added / Deleted / Edited by presence, with the flattened fields.
fn struct_diff(
    name: &str,
    old: Option<Flat>,
    new: Option<Flat>,
    equal: bool,
    contextual: bool,
) -> Option<ObjectDiff> {
    if equal {
        return None;
    }
    let diff_type = match (&old, &new) {
        (None, None) => return None,
        (None, Some(_)) => DiffType::Added,
        (Some(_), None) => DiffType::Deleted,
        (Some(_), Some(_)) => DiffType::Edited,
    };
    Some(ObjectDiff {
        diff_type,
        name: name.to_string(),
        fields: field_diffs(old.as_ref(), new.as_ref(), contextual),
        objects: Vec::new(),
    })
}

/// Nomad's `stringSetDiff`.
fn string_set_diff(
    old: &[String],
    new: &[String],
    name: &str,
    contextual: bool,
) -> Option<ObjectDiff> {
    let old_set: std::collections::BTreeSet<&String> = old.iter().collect();
    let new_set: std::collections::BTreeSet<&String> = new.iter().collect();
    if old_set == new_set && !contextual {
        return None;
    }
    let mut fields = Vec::new();
    let (mut added, mut removed) = (false, false);
    for k in &old_set {
        if !new_set.contains(k) {
            fields.extend(field_diff(k, "", name, contextual));
            removed = true;
        } else if contextual {
            fields.extend(field_diff(k, k, name, contextual));
        }
    }
    for k in &new_set {
        if !old_set.contains(k) {
            fields.extend(field_diff("", k, name, contextual));
            added = true;
        }
    }
    fields.sort_by(field_cmp);
    let diff_type = match (added, removed) {
        (true, true) => DiffType::Edited,
        (true, false) => DiffType::Added,
        (false, true) => DiffType::Deleted,
        (false, false) if fields.is_empty() => return None,
        (false, false) => DiffType::None,
    };
    Some(ObjectDiff {
        diff_type,
        name: name.to_string(),
        fields,
        objects: Vec::new(),
    })
}
