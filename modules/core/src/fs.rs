//! Files the modules own: atomic writes with the mode set before the file
//! goes live, backups as ansible.builtin.copy makes them, removal.

use crate::error::{Error, Result};
use crate::run::Mutation;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn io(doing: impl std::fmt::Display, e: std::io::Error) -> Error {
    Error::backend(format!("{doing}: {e}"))
}

/// Read a file; None when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(format!("reading {}", path.display()), e)),
    }
}

/// Write `content` to `path` atomically: a temp file in the same
/// directory, mode set, fsync, rename, fsync of the directory. Readers see
/// the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, content: &str, mode: u32, _: &Mutation) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::invalid(format!("{} has no directory", path.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| io(format!("creating {}", dir.display()), e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.kvmnet-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(content.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| io(format!("writing {}", path.display()), e))
}

/// Where a backup of `path` goes: `path.<pid>.<timestamp>~`, as Ansible's
/// `backup: true` names it.
pub fn backup_path(path: &Path) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    PathBuf::from(format!("{}.{}.{secs}~", path.display(), std::process::id()))
}

/// Copy `path` to `dest`, keeping its mode.
pub fn backup(path: &Path, dest: &Path, _: &Mutation) -> Result<()> {
    std::fs::copy(path, dest)
        .map(drop)
        .map_err(|e| io(format!("backing up {}", path.display()), e))
}

pub fn remove(path: &Path, _: &Mutation) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(io(format!("removing {}", path.display()), e))
        }
        _ => Ok(()),
    }
}
