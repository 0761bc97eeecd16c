//! The top level: exactly one `job` block, its own blocks, and the
//! normalisation Nomad's parser applies (ID and Name from the label,
//! top-level tasks as groups, job-level vault and secrets given to tasks).

use nomad_hcl::{Block, Body, Diagnostic, Span};
use serde_json::Value;

use super::group::GROUP;
use super::placement::{AFFINITY, CONSTRAINT, MIGRATE, PERIODIC, RESCHEDULE, SPREAD, UPDATE};
use super::schema::{
    attr, custom, decode_block, decode_body, describe, labels, many, one, ordered, schema, Ctx,
    Field, Item, Obj, Schema,
};
use super::task::{propagate, stash, TASK};
use super::value::Kind::{Bool, Int, Map, Str, StrList};

static MULTIREGION_STRATEGY: Schema = schema(
    "strategy",
    &[],
    &[
        attr("max_parallel", "MaxParallel", Int),
        attr("on_failure", "OnFailure", Str),
    ],
);

static MULTIREGION_REGION: Schema = schema(
    "region",
    &[("Name", "name")],
    &[
        attr("count", "Count", Int),
        attr("datacenters", "Datacenters", StrList),
        attr("node_pool", "NodePool", Str),
        attr("meta", "Meta", super::value::Kind::MapBlock),
    ],
);

static MULTIREGION: Schema = schema(
    "multiregion",
    &[],
    &[
        one("strategy", "Strategy", &MULTIREGION_STRATEGY),
        many("region", "Regions", &MULTIREGION_REGION),
    ],
);

static PARAMETERIZED: Schema = schema(
    "parameterized",
    &[],
    &[
        attr("payload", "Payload", Str),
        attr("meta_required", "MetaRequired", StrList),
        attr("meta_optional", "MetaOptional", StrList),
    ],
);

static UI_LINK: Schema = schema(
    "link",
    &[],
    &[attr("label", "Label", Str), attr("url", "URL", Str)],
);

static UI: Schema = schema(
    "ui",
    &[],
    &[
        attr("description", "Description", Str),
        many("link", "Links", &UI_LINK),
    ],
);

/// Top-level `task` blocks were decoded first (see [`decode_job`]).
fn already_done(_ctx: &mut Ctx, _obj: &mut Obj, _f: &Field, _item: Item<'_>) {}

static JOB: Schema = schema(
    "job",
    &[("_label", "name")],
    &[
        attr("region", "Region", Str),
        attr("namespace", "Namespace", Str),
        attr("id", "ID", Str),
        attr("name", "Name", Str),
        attr("type", "Type", Str),
        attr("priority", "Priority", Int),
        attr("all_at_once", "AllAtOnce", Bool),
        attr("datacenters", "Datacenters", StrList),
        attr("node_pool", "NodePool", Str),
        many("constraint", "Constraints", &CONSTRAINT),
        many("affinity", "Affinities", &AFFINITY),
        many("group", "TaskGroups", &GROUP),
        one("update", "Update", &UPDATE),
        one("multiregion", "Multiregion", &MULTIREGION),
        many("spread", "Spreads", &SPREAD),
        one("periodic", "Periodic", &PERIODIC),
        one("parameterized", "ParameterizedJob", &PARAMETERIZED),
        one("reschedule", "Reschedule", &RESCHEDULE),
        one("migrate", "Migrate", &MIGRATE),
        attr("meta", "Meta", Map),
        one("ui", "UI", &UI),
        custom("task", "_tasks", already_done),
        custom("vault", "_vault", stash),
        custom("secret", "_secrets", stash),
    ],
);

/// Reports groups that share a name.
fn duplicate_groups(ctx: &mut Ctx, job: &Block) {
    let mut seen: Vec<&Block> = Vec::new();
    let named = job
        .body
        .blocks
        .iter()
        .filter(|b| b.ident == "group" || b.ident == "task");
    for g in named {
        let Some(name) = g.labels.first() else {
            continue;
        };
        if let Some(first) = seen.iter().find(|s| s.labels.first() == Some(name)) {
            ctx.error(
                &g.span,
                format!(
                    "duplicate group \"{name}\" in {}: group names must be unique within a job (the first is at {}:{})",
                    describe(job),
                    first.span.start.line,
                    first.span.start.col
                ),
            );
        } else {
            seen.push(g);
        }
    }
}

fn decode_one_job(ctx: &mut Ctx, job: &Block) -> Option<Obj> {
    let mut obj = Obj::new();
    if !labels(ctx, job, &JOB, &mut obj) {
        return None;
    }
    let id = match obj.remove("_label") {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    ctx.spans.remove("/_label");
    // Tasks written directly in the job become groups of one, ahead of the
    // job's groups.
    for t in job.body.blocks_of("task") {
        let index = obj
            .get("TaskGroups")
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
            .to_string();
        let task = ctx.with_path(&["TaskGroups", &index, "Tasks", "0"], |ctx| {
            decode_block(ctx, t, &TASK)
        });
        if let Some(task) = task {
            ctx.record(&["TaskGroups", &index], &t.span);
            let mut g = Obj::new();
            g.insert(
                "Name".into(),
                task.get("Name").cloned().unwrap_or(Value::Null),
            );
            g.insert("Tasks".into(), Value::Array(vec![Value::Object(task)]));
            super::schema::push(&mut obj, "TaskGroups", Value::Object(g));
        }
    }
    decode_body(ctx, job, &JOB, &mut obj);
    duplicate_groups(ctx, job);
    obj.entry("ID").or_insert_with(|| Value::String(id.clone()));
    obj.entry("Name").or_insert_with(|| Value::String(id));
    propagate(&mut obj);
    Some(ordered(obj, &JOB))
}

/// Decodes an evaluated jobspec into the API's job JSON (the object
/// `nomad job run -output` prints under `"Job"`), and the position of every
/// decoded field, keyed by JSON pointer (`/TaskGroups/0/Count`).
pub fn decode_job_spanned(
    body: &Body,
) -> Result<(Value, super::schema::Spans), nomad_hcl::Diagnostics> {
    let mut ctx = Ctx::default();
    for a in &body.attributes {
        ctx.error(
            &a.key_span,
            format!("unexpected argument \"{}\" at the top level; a job file holds one job block (plus variable and locals blocks)", a.key),
        );
    }
    let mut found: Option<&Block> = None;
    let mut job = None;
    for b in &body.blocks {
        if b.ident != "job" {
            let hint = nomad_hcl::did_you_mean(&b.ident, &["job", "variable", "locals"])
                .map(|s| format!("did you mean \"{s}\"?"));
            ctx.error_hint(
                &b.span,
                format!("unsupported block type \"{}\" at the top level; valid blocks: job, variable, locals", b.ident),
                hint,
            );
            continue;
        }
        if let Some(first) = found {
            ctx.error(
                &b.span,
                format!(
                    "duplicate job block: a file holds only one job (the first is at {}:{})",
                    first.span.start.line, first.span.start.col
                ),
            );
            continue;
        }
        found = Some(b);
        job = decode_one_job(&mut ctx, b);
    }
    if found.is_none() {
        ctx.diags.push(Diagnostic::new(
            Span {
                file: body.span.file.clone(),
                start: body.span.start,
                end: body.span.start,
            },
            "missing job block: a job file needs a job \"name\" { ... } block",
        ));
    }
    match job {
        Some(job) if ctx.diags.is_empty() => Ok((Value::Object(job), ctx.spans)),
        _ => {
            let mut diags = ctx.diags;
            diags.sort_by_key(|d| d.span.start);
            Err(nomad_hcl::Diagnostics(diags))
        }
    }
}

/// Decodes an evaluated jobspec into the API's job JSON (see
/// [`decode_job_spanned`]).
pub fn decode_job(body: &Body) -> Result<Value, nomad_hcl::Diagnostics> {
    decode_job_spanned(body).map(|(job, _)| job)
}
