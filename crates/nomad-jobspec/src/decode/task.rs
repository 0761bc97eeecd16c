//! `task` and its blocks: resources, templates, artifacts, logs, lifecycle,
//! vault, secrets, identities, actions, task-level scaling policies.

use nomad_hcl::Block;
use serde_json::Value;

use super::group::{extra_schema, CONSUL, NETWORK, SCALING_FIELDS};
use super::placement::{AFFINITY, CONSTRAINT, RESTART};
use super::schema::{
    attr, custom, decode_block, derived, many, one, ordered, push, req, schema, schema_post, Ctx,
    Field, Item, Obj, Schema,
};
use super::services::SERVICE;
use super::value::Kind::{Bool, Dur, Free, Int, Map, MapBlock, Str, StrList, Uint64};

static DEVICE: Schema = schema(
    "device",
    &[("Name", "name")],
    &[
        attr("count", "Count", Uint64),
        many("constraint", "Constraints", &CONSTRAINT),
        many("affinity", "Affinities", &AFFINITY),
    ],
);

static NUMA: Schema = schema(
    "numa",
    &[],
    &[
        attr("affinity", "Affinity", Str),
        attr("devices", "Devices", StrList),
    ],
);

pub(crate) static RESOURCES: Schema = schema(
    "resources",
    &[],
    &[
        attr("cpu", "CPU", Int),
        attr("cores", "Cores", Int),
        attr("memory", "MemoryMB", Int),
        attr("memory_max", "MemoryMaxMB", Int),
        attr("disk", "DiskMB", Int),
        many("network", "Networks", &NETWORK),
        many("device", "Devices", &DEVICE),
        one("numa", "NUMA", &NUMA),
        attr("secrets", "SecretsMB", Int),
        attr("iops", "IOPS", Int),
    ],
);

pub(crate) static LOGS: Schema = schema(
    "logs",
    &[],
    &[
        attr("max_files", "MaxFiles", Int),
        attr("max_file_size", "MaxFileSizeMB", Int),
        attr("enabled", "Enabled", Bool),
        attr("disabled", "Disabled", Bool),
    ],
);

static LIFECYCLE: Schema = schema(
    "lifecycle",
    &[],
    &[req("hook", "Hook", Str), attr("sidecar", "Sidecar", Bool)],
);

static ARTIFACT: Schema = schema(
    "artifact",
    &[],
    &[
        attr("source", "GetterSource", Str),
        attr("options", "GetterOptions", MapBlock),
        attr("headers", "GetterHeaders", MapBlock),
        attr("mode", "GetterMode", Str),
        attr("insecure", "GetterInsecure", Bool),
        attr("destination", "RelativeDest", Str),
        attr("chown", "Chown", Bool),
    ],
);

static WAIT: Schema = schema(
    "wait",
    &[],
    &[req("min", "Min", Dur), req("max", "Max", Dur)],
);

/// Defaults Nomad's parser gives a change script.
fn change_script_post(_ctx: &mut Ctx, obj: &mut Obj, _b: &Block) {
    obj.entry("Args")
        .or_insert_with(|| Value::Array(Vec::new()));
    obj.entry("Timeout")
        .or_insert_with(|| Value::from(5_000_000_000_i64));
    obj.entry("FailOnError").or_insert(Value::Bool(false));
    obj.entry("RunOnFirstRender").or_insert(Value::Bool(false));
}

static CHANGE_SCRIPT: Schema = schema_post(
    "change_script",
    &[],
    &[
        req("command", "Command", Str),
        attr("args", "Args", StrList),
        attr("timeout", "Timeout", Dur),
        req("fail_on_error", "FailOnError", Bool),
        attr("run_on_first_render", "RunOnFirstRender", Bool),
    ],
    change_script_post,
);

/// Defaults Nomad's parser gives every template.
fn template_post(_ctx: &mut Ctx, obj: &mut Obj, _b: &Block) {
    obj.entry("ChangeMode")
        .or_insert_with(|| Value::String("restart".into()));
    obj.entry("Perms")
        .or_insert_with(|| Value::String("0644".into()));
    obj.entry("Splay")
        .or_insert_with(|| Value::from(5_000_000_000_i64));
    obj.entry("ErrMissingKey").or_insert(Value::Bool(false));
}

static TEMPLATE: Schema = schema_post(
    "template",
    &[],
    &[
        attr("source", "SourcePath", Str),
        attr("destination", "DestPath", Str),
        attr("data", "EmbeddedTmpl", Str),
        attr("change_mode", "ChangeMode", Str),
        one("change_script", "ChangeScript", &CHANGE_SCRIPT),
        attr("change_signal", "ChangeSignal", Str),
        attr("once", "Once", Bool),
        attr("splay", "Splay", Dur),
        attr("perms", "Perms", Str),
        attr("uid", "Uid", Int),
        attr("gid", "Gid", Int),
        attr("left_delimiter", "LeftDelim", Str),
        attr("right_delimiter", "RightDelim", Str),
        attr("env", "Envvars", Bool),
        attr("vault_grace", "VaultGrace", Dur),
        one("wait", "Wait", &WAIT),
        attr("error_on_missing_key", "ErrMissingKey", Bool),
    ],
    template_post,
);

/// Defaults Nomad's parser gives every vault block.
fn vault_post(_ctx: &mut Ctx, obj: &mut Obj, _b: &Block) {
    obj.entry("Env").or_insert(Value::Bool(true));
    obj.entry("DisableFile").or_insert(Value::Bool(false));
    obj.entry("ChangeMode")
        .or_insert_with(|| Value::String("restart".into()));
}

pub(crate) static VAULT: Schema = schema_post(
    "vault",
    &[],
    &[
        attr("policies", "Policies", StrList),
        attr("role", "Role", Str),
        attr("namespace", "Namespace", Str),
        attr("cluster", "Cluster", Str),
        attr("env", "Env", Bool),
        attr("disable_file", "DisableFile", Bool),
        attr("change_mode", "ChangeMode", Str),
        attr("change_signal", "ChangeSignal", Str),
        attr("allow_token_expiration", "AllowTokenExpiration", Bool),
    ],
    vault_post,
);

pub(crate) static SECRET: Schema = schema(
    "secret",
    &[("Name", "name")],
    &[
        attr("provider", "Provider", Str),
        attr("path", "Path", Str),
        attr("config", "Config", Free),
        attr("env", "Env", MapBlock),
    ],
);

static CSI_PLUGIN: Schema = schema(
    "csi_plugin",
    &[],
    &[
        attr("id", "ID", Str),
        attr("type", "Type", Str),
        attr("mount_dir", "MountDir", Str),
        attr("stage_publish_base_dir", "StagePublishBaseDir", Str),
        attr("health_timeout", "HealthTimeout", Dur),
    ],
);

pub(crate) static IDENTITY: Schema = schema(
    "identity",
    &[],
    &[
        attr("name", "Name", Str),
        attr("aud", "Audience", StrList),
        attr("change_mode", "ChangeMode", Str),
        attr("change_signal", "ChangeSignal", Str),
        attr("env", "Env", Bool),
        attr("file", "File", Bool),
        attr("filepath", "Filepath", Str),
        attr("service_name", "ServiceName", Str),
        attr("ttl", "TTL", Dur),
        attr("extra_claims", "ExtraClaims", StrList),
    ],
);

static ACTION: Schema = schema(
    "action",
    &[("Name", "name")],
    &[
        req("command", "Command", Str),
        attr("args", "Args", StrList),
    ],
);

pub(crate) static VOLUME_MOUNT: Schema = schema(
    "volume_mount",
    &[],
    &[
        attr("volume", "Volume", Str),
        attr("destination", "Destination", Str),
        attr("read_only", "ReadOnly", Bool),
        attr("propagation_mode", "PropagationMode", Str),
        attr("selinux_label", "SELinuxLabel", Str),
    ],
);

static DISPATCH_PAYLOAD: Schema = schema("dispatch_payload", &[], &[attr("file", "File", Str)]);

static SCHEDULE_CRON: Schema = schema(
    "cron",
    &[],
    &[
        attr("start", "Start", Str),
        attr("end", "End", Str),
        attr("timezone", "Timezone", Str),
    ],
);

static SCHEDULE: Schema = schema("schedule", &[], &[one("cron", "Cron", &SCHEDULE_CRON)]);

static TASK_SCALING: Schema = schema("scaling", &[("_label", "cpu or mem")], SCALING_FIELDS);

/// `scaling "cpu" { }` / `scaling "mem" { }`: vertical policies.
fn task_scaling(ctx: &mut Ctx, obj: &mut Obj, f: &Field, item: Item<'_>) {
    let Item::Block(b) = item else {
        if let Item::Attr(a) = item {
            ctx.error(
                &a.key_span,
                "scaling is a block, not an argument: write scaling \"cpu\" { ... }",
            );
        }
        return;
    };
    let policy_type = match b.labels.first().map(|l| l.to_lowercase()).as_deref() {
        Some("cpu") => "vertical_cpu",
        Some("mem") => "vertical_mem",
        Some(_) => {
            ctx.error(
                &b.span,
                "invalid scaling policy name: a task's scaling policy is named \"cpu\" or \"mem\"",
            );
            return;
        }
        None => "",
    };
    let duplicate = obj.get(f.json).and_then(Value::as_array).is_some_and(|ps| {
        ps.iter()
            .any(|p| p.get("Type").and_then(Value::as_str) == Some(policy_type))
    });
    if duplicate && !policy_type.is_empty() {
        ctx.error(
            &b.span,
            format!(
                "only one scaling \"{}\" block is allowed in a task",
                b.labels[0]
            ),
        );
        return;
    }
    let index = obj
        .get(f.json)
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
        .to_string();
    let Some(mut p) = ctx.with_path(&[f.json, &index], |ctx| decode_block(ctx, b, &TASK_SCALING))
    else {
        return;
    };
    p.remove("_label");
    match p.get("Type").and_then(Value::as_str) {
        None | Some("") => {
            p.insert("Type".into(), Value::String(policy_type.into()));
        }
        Some(t) if t == policy_type => {}
        Some(t) => {
            ctx.error(&b.span, format!("invalid scaling policy type {t:?}: the \"{}\" policy's type is {policy_type:?}", b.labels[0]));
            return;
        }
    }
    ctx.record(&[f.json, &index], &b.span);
    push(obj, f.json, Value::Object(p));
}

/// `identity { }` blocks: the unnamed (or "default") one is the task's
/// `Identity`; the others are `Identities`.
fn identity(ctx: &mut Ctx, obj: &mut Obj, f: &Field, item: Item<'_>) {
    let Item::Block(b) = item else {
        if let Item::Attr(a) = item {
            ctx.error(
                &a.key_span,
                "identity is a block, not an argument: write identity { ... }",
            );
        }
        return;
    };
    let probe = b
        .body
        .attribute("name")
        .and_then(|a| a.value.as_str().map(str::to_string));
    let is_default = probe
        .as_deref()
        .is_none_or(|n| n.is_empty() || n == "default");
    if is_default && !obj.contains_key("Identity") {
        if let Some(v) = ctx.with_path(&["Identity"], |ctx| decode_block(ctx, b, &IDENTITY)) {
            obj.insert("Identity".into(), Value::Object(v));
            ctx.record(&["Identity"], &b.span);
        }
        return;
    }
    let index = obj
        .get(f.json)
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
        .to_string();
    if let Some(v) = ctx.with_path(&[f.json, &index], |ctx| decode_block(ctx, b, &IDENTITY)) {
        ctx.record(&[f.json, &index], &b.span);
        push(obj, f.json, Value::Object(v));
    }
}

/// Group- and job-level `vault`/`secret` blocks, kept aside until the tasks
/// are decoded (see [`propagate`]).
pub(crate) fn stash(ctx: &mut Ctx, obj: &mut Obj, f: &Field, item: Item<'_>) {
    let Item::Block(b) = item else {
        if let Item::Attr(a) = item {
            ctx.error(
                &a.key_span,
                format!(
                    "{0} is a block, not an argument: write {0} {{ ... }}",
                    a.key
                ),
            );
        }
        return;
    };
    let s = extra_schema(f);
    if f.hcl == "vault" && obj.contains_key(f.json) {
        ctx.error(&b.span, "only one vault block is allowed here");
        return;
    }
    if let Some(v) = decode_block(ctx, b, s) {
        if f.hcl == "vault" {
            obj.insert(f.json.into(), Value::Object(v));
        } else {
            push(obj, f.json, Value::Object(v));
        }
    }
}

/// Gives stashed `vault`/`secret` blocks to the tasks in `obj["Tasks"]`
/// (or in every group's tasks, at job level): a task keeps its own vault
/// block, and gets the outer secrets after its own.
pub(crate) fn propagate(obj: &mut Obj) {
    let vault = obj.remove("_vault");
    let secrets = obj.remove("_secrets");
    if vault.is_none() && secrets.is_none() {
        return;
    }
    let apply = |task: &mut Value| {
        let Value::Object(t) = task else { return };
        if let Some(v) = &vault {
            t.entry("Vault").or_insert_with(|| v.clone());
        }
        if let Some(Value::Array(extra)) = &secrets {
            match t
                .entry("Secrets")
                .or_insert_with(|| Value::Array(Vec::new()))
            {
                Value::Array(own) => own.extend(extra.iter().cloned()),
                other => *other = Value::Array(extra.clone()),
            }
        }
        *t = ordered(std::mem::take(t), &TASK);
    };
    if let Some(Value::Array(tasks)) = obj.get_mut("Tasks") {
        tasks.iter_mut().for_each(apply);
    } else if let Some(Value::Array(groups)) = obj.get_mut("TaskGroups") {
        for g in groups {
            if let Some(Value::Array(tasks)) = g.get_mut("Tasks") {
                tasks.iter_mut().for_each(apply);
            }
        }
    }
}

pub(crate) static TASK: Schema = schema(
    "task",
    &[("Name", "name")],
    &[
        attr("driver", "Driver", Str),
        attr("user", "User", Str),
        one("lifecycle", "Lifecycle", &LIFECYCLE),
        attr("config", "Config", Free),
        many("constraint", "Constraints", &CONSTRAINT),
        many("affinity", "Affinities", &AFFINITY),
        attr("env", "Env", Map),
        many("service", "Services", &SERVICE),
        one("resources", "Resources", &RESOURCES),
        one("restart", "RestartPolicy", &RESTART),
        attr("meta", "Meta", Map),
        attr("kill_timeout", "KillTimeout", Dur),
        one("logs", "LogConfig", &LOGS),
        many("artifact", "Artifacts", &ARTIFACT),
        one("vault", "Vault", &VAULT),
        one("consul", "Consul", &CONSUL),
        many("template", "Templates", &TEMPLATE),
        one("dispatch_payload", "DispatchPayload", &DISPATCH_PAYLOAD),
        many("volume_mount", "VolumeMounts", &VOLUME_MOUNT),
        one("csi_plugin", "CSIPluginConfig", &CSI_PLUGIN),
        attr("leader", "Leader", Bool),
        attr("shutdown_delay", "ShutdownDelay", Dur),
        attr("kill_signal", "KillSignal", Str),
        attr("kind", "Kind", Str),
        custom("scaling", "ScalingPolicies", task_scaling),
        many("secret", "Secrets", &SECRET),
        derived("Identity"),
        custom("identity", "Identities", identity),
        many("action", "Actions", &ACTION),
        one("schedule", "Schedule", &SCHEDULE),
    ],
);
