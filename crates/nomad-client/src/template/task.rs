//! A task's templates: rendered into the task directory before every
//! start, then watched while the task runs.
//!
//! Without Consul or Vault, what can change under a running task is on
//! disk: a template's `source` file and the files its `file` calls read.
//! The [`Watcher`] polls their modification time, length and inode every
//! [`POLL_INTERVAL`] (consul-template polls file dependencies every 2 s
//! too), renders again the templates whose inputs moved, and when a
//! destination's content changes writes it and asks for the template's
//! `change_mode`: `noop` only writes, `restart` restarts the task,
//! `signal` sends `change_signal`. As in Nomad, one restart wins over any
//! signals, signals are sent once each, and the action waits a random
//! time up to the largest `splay` of the changed templates. `once = true`
//! templates are never watched; `change_mode = "script"` is not supported
//! and behaves as `noop` (with a warning).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use nomad_types::consts::template_change_mode;
use nomad_types::Template;

use super::{render, sandboxed_reader, Context};
use crate::taskenv::TaskEnv;

/// How often the inputs of running templates are looked at.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// What a re-render asks of the task runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Restart the task (`change_mode = "restart"`).
    Restart,
    /// Send these signals (`change_mode = "signal"`), each once.
    Signal(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mode {
    Noop,
    Restart,
    Signal(String),
}

/// One template with its paths resolved for the task.
#[derive(Debug, Clone)]
struct Spec {
    /// Source path relative to the task directory, when not embedded.
    source: Option<String>,
    embedded: String,
    left: String,
    right: String,
    dest: PathBuf,
    mode_bits: u32,
    envvars: bool,
    change: Mode,
    splay: Duration,
    watch: bool,
}

/// What identifies a version of an input file (`None`: it is missing).
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len(), m.ino()))
}

/// The templates of a running task and the inputs they were rendered from.
#[derive(Debug)]
pub struct Watcher {
    specs: Vec<Spec>,
    inputs: Vec<Vec<(PathBuf, Stamp)>>,
    /// Templates to render at the next poll whatever their inputs say.
    stale: Vec<bool>,
    env: BTreeMap<String, String>,
    sandbox: PathBuf,
    base: PathBuf,
    poll: Duration,
}

/// Renders every template of a task into `task_dir` (reads confined to
/// `alloc_dir`) and returns the variables of `env = true` templates and a
/// watcher of their inputs.
pub fn render_task_templates(
    templates: &[Template],
    env: &TaskEnv,
    alloc_dir: &Path,
    task_dir: &Path,
) -> Result<(BTreeMap<String, String>, Watcher), String> {
    let mut specs = Vec::new();
    for t in templates {
        specs.push(resolve(t, env, task_dir)?);
    }
    let mut w = Watcher::new(specs, env, alloc_dir, task_dir);
    let mut vars = BTreeMap::new();
    for i in 0..w.specs.len() {
        let rendered = w.render_one(i)?;
        w.write(i, &rendered)?;
        if w.specs[i].envvars {
            vars.extend(super::parse_env_file(&rendered).map_err(|e| e.to_string())?);
        }
    }
    Ok((vars, w))
}

/// A watcher of the templates of a task that an earlier client started
/// (re-attached after a client restart): nothing is written now; the first
/// poll renders every template and applies its change mode where the file
/// on disk differs (an input changed while no client watched).
pub fn resume_task_templates(
    templates: &[Template],
    env: &TaskEnv,
    alloc_dir: &Path,
    task_dir: &Path,
) -> Result<Watcher, String> {
    let mut specs = Vec::new();
    for t in templates {
        specs.push(resolve(t, env, task_dir)?);
    }
    let mut w = Watcher::new(specs, env, alloc_dir, task_dir);
    w.stale = vec![true; w.specs.len()];
    Ok(w)
}

impl Watcher {
    fn new(specs: Vec<Spec>, env: &TaskEnv, alloc_dir: &Path, task_dir: &Path) -> Self {
        Watcher {
            inputs: vec![Vec::new(); specs.len()],
            stale: vec![false; specs.len()],
            specs,
            env: env.env.clone(),
            sandbox: alloc_dir.to_path_buf(),
            base: task_dir.to_path_buf(),
            poll: POLL_INTERVAL,
        }
    }
}

fn resolve(t: &Template, env: &TaskEnv, task_dir: &Path) -> Result<Spec, String> {
    let source = match (&t.embedded_tmpl, &t.source_path) {
        (Some(e), _) if !e.is_empty() => None,
        (_, Some(p)) if !p.is_empty() => Some(env.replace(p)),
        _ => None,
    };
    let dest_rel = env.replace(t.dest_path.as_deref().unwrap_or(""));
    if dest_rel.is_empty() {
        return Err("template has no destination".into());
    }
    let dest = crate::artifact::join_inside(task_dir, &dest_rel)
        .map_err(|e| format!("template destination: {e}"))?;
    let perms = t.perms.as_deref().unwrap_or("0644");
    let mode_bits = u32::from_str_radix(perms.trim_start_matches("0o"), 8)
        .map_err(|_| format!("invalid template perms {perms:?}"))?;
    let change = match t
        .change_mode
        .as_deref()
        .unwrap_or(template_change_mode::RESTART)
    {
        template_change_mode::NOOP => Mode::Noop,
        template_change_mode::SIGNAL => {
            let sig = t.change_signal.as_deref().unwrap_or("").trim();
            Mode::Signal(if sig.is_empty() {
                "SIGHUP".into()
            } else {
                sig.to_uppercase()
            })
        }
        template_change_mode::RESTART | "" => Mode::Restart,
        other => {
            tracing::warn!(change_mode = other, dest = %dest_rel,
                "template change_mode not supported; re-rendered files are only written");
            Mode::Noop
        }
    };
    Ok(Spec {
        source,
        embedded: t.embedded_tmpl.clone().unwrap_or_default(),
        left: t.left_delim.clone().unwrap_or_default(),
        right: t.right_delim.clone().unwrap_or_default(),
        dest,
        mode_bits: mode_bits & 0o7777,
        envvars: t.envvars == Some(true),
        change,
        splay: t.splay.and_then(|n| n.to_std()).unwrap_or_default(),
        watch: t.once != Some(true),
    })
}

impl Watcher {
    /// Polls every `poll` instead of [`POLL_INTERVAL`].
    pub fn with_poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// True when no template can change while the task runs.
    pub fn is_idle(&self) -> bool {
        !self.specs.iter().any(|s| s.watch)
    }

    /// Renders template `i`, recording the files it read.
    fn render_one(&mut self, i: usize) -> Result<String, String> {
        let reader = sandboxed_reader(&self.sandbox, &self.base);
        let read: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
        let tracking = |p: &str| {
            crate::shared::lock(&read).push(self.base.join(p));
            reader(p)
        };
        let spec = &self.specs[i];
        let src = match &spec.source {
            Some(p) => tracking(p)?,
            None => spec.embedded.clone(),
        };
        let ctx = Context {
            env: &self.env,
            read_file: &tracking,
        };
        let out = render(&src, &spec.left, &spec.right, &ctx).map_err(|e| e.to_string());
        let files = std::mem::take(&mut *crate::shared::lock(&read));
        // Inputs are recorded even when rendering failed, so that fixing
        // (or creating) a file is noticed.
        self.inputs[i] = files
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|p| {
                let s = stamp(&p);
                (p, s)
            })
            .collect();
        out
    }

    fn write(&self, i: usize, rendered: &str) -> Result<(), String> {
        let dest = &self.specs[i].dest;
        if let Some(p) = dest.parent() {
            std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        crate::state::write_atomic(dest, rendered.as_bytes(), false).map_err(|e| e.to_string())?;
        std::fs::set_permissions(
            dest,
            std::fs::Permissions::from_mode(self.specs[i].mode_bits),
        )
        .map_err(|e| format!("{}: {e}", dest.display()))
    }

    /// Looks at the inputs once: renders again the templates whose inputs
    /// changed, writes those whose output changed, and returns what their
    /// change modes ask for (with the largest splay among them).
    pub fn poll_once(&mut self) -> Option<(Change, Duration)> {
        let mut restart = false;
        let mut signals = BTreeSet::new();
        let mut splay = Duration::ZERO;
        for i in 0..self.specs.len() {
            if !self.specs[i].watch {
                continue;
            }
            let moved = std::mem::take(&mut self.stale[i])
                || self.inputs[i].iter().any(|(p, s)| stamp(p) != *s);
            if !moved {
                continue;
            }
            let dest = self.specs[i].dest.clone();
            let rendered = match self.render_one(i) {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(dest = %dest.display(), error = %e,
                        "re-rendering template; keeping the previous file");
                    continue;
                }
            };
            if std::fs::read(&dest).ok().as_deref() == Some(rendered.as_bytes()) {
                continue;
            }
            if let Err(e) = self.write(i, &rendered) {
                tracing::warn!(dest = %dest.display(), error = %e, "writing re-rendered template");
                continue;
            }
            tracing::info!(dest = %dest.display(), "template re-rendered");
            match &self.specs[i].change {
                Mode::Noop => continue,
                Mode::Restart => restart = true,
                Mode::Signal(s) => {
                    signals.insert(s.clone());
                }
            }
            splay = splay.max(self.specs[i].splay);
        }
        if restart {
            Some((Change::Restart, splay))
        } else if !signals.is_empty() {
            Some((Change::Signal(signals.into_iter().collect()), splay))
        } else {
            None
        }
    }

    /// Waits until a re-render asks for a restart or signals (after the
    /// splay); never returns when nothing is watched.
    pub async fn next_change(&mut self) -> Change {
        if self.is_idle() {
            std::future::pending::<()>().await;
        }
        loop {
            tokio::time::sleep(self.poll).await;
            if let Some((change, splay)) = self.poll_once() {
                if !splay.is_zero() {
                    let nanos = u64::try_from(splay.as_nanos()).unwrap_or(u64::MAX);
                    tokio::time::sleep(Duration::from_nanos(fastrand::u64(0..nanos))).await;
                }
                return change;
            }
        }
    }
}

/// Waits for a change of `w`'s templates; never resolves without one.
pub async fn next_change(w: &mut Option<Watcher>) -> Change {
    match w {
        Some(w) => w.next_change().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpl(embedded: &str, source: &str, dest: &str, mode: &str) -> Template {
        Template {
            embedded_tmpl: Some(embedded.into()),
            source_path: Some(source.into()),
            dest_path: Some(dest.into()),
            change_mode: Some(mode.into()),
            change_signal: Some(if mode == "signal" { "SIGUSR1" } else { "" }.into()),
            ..Default::default()
        }
    }

    fn bump(path: &Path, content: &str) {
        // A different length is a change even on a coarse clock.
        std::fs::write(path, content).unwrap();
    }

    #[test]
    fn re_renders_changed_inputs_and_asks_for_the_change_mode() {
        let d = tempfile::tempdir().unwrap();
        let task = d.path().join("web");
        std::fs::create_dir_all(task.join("local")).unwrap();
        bump(&task.join("local/in.txt"), "one");
        bump(
            &task.join("local/src.tpl"),
            "src={{ file \"local/in.txt\" }}",
        );
        let env = TaskEnv::default();
        let templates = vec![
            tmpl(
                "v={{ file \"local/in.txt\" }}",
                "",
                "local/noop.out",
                "noop",
            ),
            tmpl("", "local/src.tpl", "local/restart.out", "restart"),
            tmpl(
                "s={{ file \"local/in.txt\" }}",
                "",
                "local/sig.out",
                "signal",
            ),
        ];
        let (_, mut w) = render_task_templates(&templates, &env, d.path(), &task).unwrap();
        let read = |p: &str| std::fs::read_to_string(task.join(p)).unwrap();
        assert_eq!(read("local/restart.out"), "src=one");
        assert_eq!(w.poll_once(), None, "nothing changed");

        bump(&task.join("local/in.txt"), "three");
        let (change, _) = w.poll_once().unwrap();
        assert_eq!(change, Change::Restart, "a restart wins over signals");
        assert_eq!(read("local/noop.out"), "v=three");
        assert_eq!(read("local/restart.out"), "src=three");
        assert_eq!(read("local/sig.out"), "s=three");
        assert_eq!(w.poll_once(), None, "handled once");

        // The source file itself is an input.
        bump(
            &task.join("local/src.tpl"),
            "src2={{ file \"local/in.txt\" }}",
        );
        assert_eq!(w.poll_once().map(|c| c.0), Some(Change::Restart));
        assert_eq!(read("local/restart.out"), "src2=three");
    }

    #[test]
    fn signal_templates_ask_for_their_signal_and_noop_for_nothing() {
        let d = tempfile::tempdir().unwrap();
        let task = d.path().join("web");
        std::fs::create_dir_all(task.join("local")).unwrap();
        bump(&task.join("local/in.txt"), "a");
        let templates = vec![
            tmpl("{{ file \"local/in.txt\" }}", "", "local/n.out", "noop"),
            tmpl("{{ file \"local/in.txt\" }}", "", "local/s.out", "signal"),
        ];
        let (_, mut w) =
            render_task_templates(&templates, &TaskEnv::default(), d.path(), &task).unwrap();
        bump(&task.join("local/in.txt"), "bb");
        assert_eq!(
            w.poll_once().map(|c| c.0),
            Some(Change::Signal(vec!["SIGUSR1".into()]))
        );

        let templates = vec![tmpl(
            "{{ file \"local/in.txt\" }}",
            "",
            "local/n.out",
            "noop",
        )];
        let (_, mut w) =
            render_task_templates(&templates, &TaskEnv::default(), d.path(), &task).unwrap();
        bump(&task.join("local/in.txt"), "ccc");
        assert_eq!(w.poll_once(), None);
        assert_eq!(
            std::fs::read_to_string(task.join("local/n.out")).unwrap(),
            "ccc"
        );
    }

    #[test]
    fn a_resumed_watcher_acts_only_where_the_file_on_disk_is_stale() {
        let d = tempfile::tempdir().unwrap();
        let task = d.path().join("web");
        std::fs::create_dir_all(task.join("local")).unwrap();
        bump(&task.join("local/in.txt"), "a");
        let templates = vec![
            tmpl(
                "{{ file \"local/in.txt\" }}",
                "",
                "local/same.out",
                "restart",
            ),
            tmpl("{{ file \"local/in.txt\" }}", "", "local/old.out", "signal"),
        ];
        render_task_templates(&templates, &TaskEnv::default(), d.path(), &task).unwrap();
        // The input changed while no client ran; one output was already
        // up to date.
        bump(&task.join("local/in.txt"), "bb");
        bump(&task.join("local/same.out"), "bb");
        let mut w =
            resume_task_templates(&templates, &TaskEnv::default(), d.path(), &task).unwrap();
        assert_eq!(
            w.poll_once().map(|c| c.0),
            Some(Change::Signal(vec!["SIGUSR1".into()]))
        );
        assert_eq!(
            std::fs::read_to_string(task.join("local/old.out")).unwrap(),
            "bb"
        );
        assert_eq!(w.poll_once(), None);
    }

    #[test]
    fn an_input_that_renders_the_same_output_changes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let task = d.path().join("web");
        std::fs::create_dir_all(task.join("local")).unwrap();
        bump(&task.join("local/in.txt"), "x=1\n");
        let templates = vec![tmpl(
            "{{ if contains \"x\" (file \"local/in.txt\") }}yes{{ end }}",
            "",
            "local/o",
            "restart",
        )];
        let (_, mut w) =
            render_task_templates(&templates, &TaskEnv::default(), d.path(), &task).unwrap();
        bump(&task.join("local/in.txt"), "x=22\n");
        assert_eq!(w.poll_once(), None);
    }
}
