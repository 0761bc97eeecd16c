//! File system functions; relative paths start at the jobspec's directory.

use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use hcl::Value;

use super::{resolve, str_arg, FnCtx};

type R = Result<Value, String>;

fn read(ctx: &FnCtx, path: &str) -> Result<Vec<u8>, String> {
    let full = resolve(ctx.base_dir, path);
    std::fs::read(&full).map_err(|e| format!("cannot read {}: {e}", full.display()))
}

pub(super) fn file(ctx: &FnCtx, a: Vec<Value>) -> R {
    let path = str_arg(&a, 0);
    let bytes = read(ctx, path)?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| format!("the contents of {path} are not valid UTF-8; use filebase64 instead"))
}

pub(super) fn filebase64(ctx: &FnCtx, a: Vec<Value>) -> R {
    let bytes = read(ctx, str_arg(&a, 0))?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

pub(super) fn fileexists(ctx: &FnCtx, a: Vec<Value>) -> R {
    let full = resolve(ctx.base_dir, str_arg(&a, 0));
    match std::fs::metadata(&full) {
        Ok(m) if m.is_file() => Ok(Value::Bool(true)),
        Ok(_) => Err(format!("{} is not a regular file", full.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Bool(false)),
        Err(e) => Err(format!("cannot stat {}: {e}", full.display())),
    }
}

pub(super) fn basename(_: &FnCtx, a: Vec<Value>) -> R {
    let p = str_arg(&a, 0);
    let trimmed = p.trim_end_matches('/');
    let out = if p.is_empty() {
        "."
    } else if trimmed.is_empty() {
        "/"
    } else {
        trimmed.rsplit('/').next().unwrap_or(trimmed)
    };
    Ok(Value::String(out.to_string()))
}

/// Lexically cleans a path (`a/./b/../c` to `a/c`), like Go's `filepath.Clean`.
fn clean(p: &Path) -> PathBuf {
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            other => out.push(other),
        }
    }
    let joined: PathBuf = out.iter().collect();
    if joined.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        joined
    }
}

pub(super) fn dirname(_: &FnCtx, a: Vec<Value>) -> R {
    let p = str_arg(&a, 0);
    let dir = match p.rfind('/') {
        Some(0) => "/".to_string(),
        Some(i) => clean(Path::new(&p[..i])).display().to_string(),
        None => ".".to_string(),
    };
    Ok(Value::String(dir))
}

pub(super) fn abspath(_: &FnCtx, a: Vec<Value>) -> R {
    let p = Path::new(str_arg(&a, 0));
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("cannot find the working directory: {e}"))?
            .join(p)
    };
    Ok(Value::String(clean(&full).display().to_string()))
}

pub(super) fn pathexpand(_: &FnCtx, a: Vec<Value>) -> R {
    let p = str_arg(&a, 0);
    let rest = match p.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => return Ok(Value::String(p.to_string())),
    };
    let home = std::env::var("HOME").map_err(|_| "HOME is not set".to_string())?;
    Ok(Value::String(format!("{home}{rest}")))
}
