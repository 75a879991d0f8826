//! netplan: the whole configuration as netplan reads it, validation of a
//! changed file with `netplan generate` on a staged copy, and `netplan
//! apply`. Shared by the netplan modules so they cannot drift apart.

use crate::error::{Error, Result};
use crate::run::Mutation;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// netplan's configuration directories, lowest precedence first: a file in
/// /run shadows the same name in /etc, which shadows /lib.
pub const DIRS: [&str; 3] = ["lib/netplan", "etc/netplan", "run/netplan"];

/// The device sections of a netplan file.
pub const DEVICE_TYPES: [&str; 8] = [
    "ethernets",
    "bonds",
    "bridges",
    "vlans",
    "wifis",
    "tunnels",
    "vrfs",
    "dummy-devices",
];

/// One YAML file of the configuration.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub doc: Value,
}

/// One device defined in one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub file: PathBuf,
    /// `ethernets`, `bridges`, ...
    pub kind: String,
    pub name: String,
    pub body: Value,
}

fn under(root: &Path, rel: &str) -> PathBuf {
    root.join(rel.trim_start_matches('/'))
}

/// Every netplan file under `root`, in the order netplan reads them (by
/// file name), after shadowing; `skip` (the caller's own file) left out.
pub fn read_config(root: &Path, skip: Option<&Path>) -> Result<Vec<ConfigFile>> {
    let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in DIRS {
        let Ok(entries) = std::fs::read_dir(under(root, dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".yaml") {
                by_name.insert(name, e.path());
            }
        }
    }
    let mut files = Vec::new();
    for path in by_name.into_values() {
        if Some(path.as_path()) == skip {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::backend(format!("reading {}: {e}", path.display())))?;
        let doc: Value = serde_yaml::from_str(&text)
            .map_err(|e| Error::backend(format!("{} is not valid YAML: {e}", path.display())))?;
        files.push(ConfigFile { path, doc });
    }
    Ok(files)
}

/// Every device definition of the files, in order.
pub fn definitions(files: &[ConfigFile]) -> Vec<Definition> {
    let mut out = Vec::new();
    for f in files {
        for kind in DEVICE_TYPES {
            if let Some(Value::Object(devs)) = f.doc.get("network").and_then(|n| n.get(kind)) {
                for (name, body) in devs {
                    out.push(Definition {
                        file: f.path.clone(),
                        kind: kind.to_string(),
                        name: name.clone(),
                        body: body.clone(),
                    });
                }
            }
        }
    }
    out
}

/// Run `netplan generate` on a copy of `root`'s configuration in which
/// `file` holds `content` (or is gone). netplan's messages name the real
/// paths, not the staging copy.
pub fn validate(root: &Path, file: &Path, content: Option<&str>) -> Result<()> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let stage = std::env::temp_dir().join(format!("kvmnet-netplan-{}-{nanos}", std::process::id()));
    let result = stage_and_generate(root, &stage, file, content);
    let _ = std::fs::remove_dir_all(&stage);
    result
}

fn stage_and_generate(root: &Path, stage: &Path, file: &Path, content: Option<&str>) -> Result<()> {
    let io = |e: std::io::Error| {
        Error::backend(format!(
            "staging the netplan configuration in {}: {e}",
            stage.display()
        ))
    };
    for dir in DIRS {
        let Ok(entries) = std::fs::read_dir(under(root, dir)) else {
            continue;
        };
        let dest = under(stage, dir);
        std::fs::create_dir_all(&dest).map_err(io)?;
        for e in entries.flatten() {
            if e.path().is_file() {
                // 0600 in the stage: netplan's warning about a readable
                // file is not a verdict on the configuration.
                let copy = dest.join(e.file_name());
                std::fs::copy(e.path(), &copy).map_err(io)?;
                std::fs::set_permissions(
                    &copy,
                    std::os::unix::fs::PermissionsExt::from_mode(0o600),
                )
                .map_err(io)?;
            }
        }
    }
    let rel = file.strip_prefix(root).map_err(|_| {
        Error::invalid(format!(
            "file: {} is not under root_dir {}",
            file.display(),
            root.display()
        ))
    })?;
    let staged = stage.join(rel);
    match content {
        Some(text) => {
            std::fs::create_dir_all(staged.parent().unwrap_or(stage)).map_err(io)?;
            std::fs::write(&staged, text).map_err(io)?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))
                .map_err(io)?;
        }
        None => {
            let _ = std::fs::remove_file(&staged);
        }
    }
    let stage_str = stage.to_string_lossy();
    let out = std::process::Command::new("netplan")
        .args(["generate", "--root-dir", &stage_str])
        .output()
        .map_err(|e| Error::backend(format!("running netplan generate: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let root_str = root.to_string_lossy();
    let root_str = root_str.trim_end_matches('/');
    let stderr = String::from_utf8_lossy(&out.stderr).replace(stage_str.as_ref(), root_str);
    Err(Error::invalid(format!(
        "netplan rejects the result: {}",
        stderr.trim()
    )))
}

/// `netplan apply`: make the running system match the files.
pub fn apply(token: &Mutation) -> Result<()> {
    crate::cmd::change(&["netplan", "apply"], token).map(drop)
}

/// Parse netplan YAML into a JSON value.
pub fn parse_yaml(text: &str) -> Result<Value> {
    serde_yaml::from_str(text).map_err(|e| Error::invalid(format!("not valid YAML: {e}")))
}
