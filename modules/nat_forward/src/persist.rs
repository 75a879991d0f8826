//! What keeps a forward across network restarts and reboots: a saved copy
//! of the resolved forward and a libvirt hook that puts its rules back, and
//! the sysctl that keeps IPv4 forwarding on.
//!
//! The hook is this very binary (Ansible removes its own copy after the
//! task), installed once under `<hooks>/kvmnet/nat_forward` and linked
//! from `network.d` and `qemu.d`. libvirt must not be called back from a
//! hook, so the saved forward holds everything already resolved (bridge,
//! guest address): the hook talks to the firewall only.

use kvmnet_core::{Error, Mutation, Result, fs};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The file name libvirt runs, in `network.d` and `qemu.d`.
pub const HOOK_NAME: &str = "kvmnet-nat-forward";
pub const SYSCTL_LINE: &str = "net.ipv4.ip_forward = 1\n";
const HOOK_KINDS: [&str; 2] = ["network", "qemu"];

/// The module's paths under a root directory.
#[derive(Debug, Clone)]
pub struct Paths {
    pub hooks: PathBuf,
    pub sysctl: PathBuf,
}

impl Paths {
    pub fn under(root: &Path) -> Paths {
        Paths {
            hooks: root.join("etc/libvirt/hooks"),
            sysctl: root.join("etc/sysctl.d/60-kvmnet-ip-forward.conf"),
        }
    }

    /// The paths as the hook binary finds them from where libvirt ran it:
    /// `<hooks>/<kind>.d/kvmnet-nat-forward`.
    pub fn of_hook(argv0: &Path) -> Option<Paths> {
        let hooks = argv0.parent()?.parent()?.to_path_buf();
        Some(Paths {
            hooks,
            sysctl: PathBuf::new(),
        })
    }

    pub fn binary(&self) -> PathBuf {
        self.hooks.join("kvmnet/nat_forward")
    }

    pub fn forwards(&self) -> PathBuf {
        self.hooks.join("kvmnet/forwards")
    }

    pub fn saved(&self, name: &str) -> PathBuf {
        self.forwards().join(format!("{name}.json"))
    }

    fn link(&self, kind: &str) -> PathBuf {
        self.hooks.join(format!("{kind}.d")).join(HOOK_NAME)
    }
}

/// The persisted side of the host, as far as one forward is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    /// This forward's saved copy.
    pub this: Option<String>,
    /// Whether other forwards are saved (they need the hook too).
    pub others: bool,
    /// Whether the hook is installed and is this module's build.
    pub hook: bool,
    /// Whether libvirt had any hook of each kind when the task started: a
    /// hook of a kind libvirt did not know runs only after its restart.
    pub libvirt_knew_hooks: bool,
}

pub fn observe(paths: &Paths, name: &str, exe: &[u8]) -> Result<Saved> {
    let this = fs::read_optional(&paths.saved(name))?;
    let others = std::fs::read_dir(paths.forwards())
        .map(|d| {
            d.filter_map(|e| e.ok()).any(|e| {
                let f = e.file_name().to_string_lossy().into_owned();
                f.ends_with(".json") && !f.starts_with('.') && f != format!("{name}.json")
            })
        })
        .unwrap_or(false);
    let binary_current = std::fs::read(paths.binary()).is_ok_and(|b| b == exe);
    let links = HOOK_KINDS.iter().all(|k| {
        std::fs::read_link(paths.link(k)).is_ok_and(|t| t == Path::new("../kvmnet/nat_forward"))
    });
    let libvirt_knew_hooks = HOOK_KINDS.iter().all(|k| has_hook(&paths.hooks, k));
    Ok(Saved {
        this,
        others,
        hook: binary_current && links,
        libvirt_knew_hooks,
    })
}

/// Whether libvirt finds a hook of `kind`: the script itself, or an
/// executable in `<kind>.d`.
fn has_hook(hooks: &Path, kind: &str) -> bool {
    let exec = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    exec(&hooks.join(kind))
        || std::fs::read_dir(hooks.join(format!("{kind}.d")))
            .is_ok_and(|d| d.filter_map(|e| e.ok()).any(|e| exec(&e.path())))
}

fn io(doing: String) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::backend(format!("{doing}: {e}"))
}

/// Install the hook: the binary (atomically replaced) and both links.
pub fn install_hook(paths: &Paths, exe: &[u8], token: &Mutation) -> Result<()> {
    let bin = paths.binary();
    let dir = bin.parent().unwrap_or(&paths.hooks);
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    let tmp = dir.join(format!(".nat_forward.{}", std::process::id()));
    std::fs::write(&tmp, exe).map_err(io(format!("writing {}", tmp.display())))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
        .map_err(io(format!("setting the mode of {}", tmp.display())))?;
    std::fs::rename(&tmp, &bin).map_err(io(format!("installing {}", bin.display())))?;
    for kind in HOOK_KINDS {
        let link = paths.link(kind);
        let d = link.parent().unwrap_or(&paths.hooks);
        std::fs::create_dir_all(d).map_err(io(format!("creating {}", d.display())))?;
        fs::remove(&link, token)?;
        std::os::unix::fs::symlink("../kvmnet/nat_forward", &link)
            .map_err(io(format!("linking {}", link.display())))?;
    }
    Ok(())
}

/// Remove the hook: links first (libvirt stops running it), then the binary.
pub fn remove_hook(paths: &Paths, token: &Mutation) -> Result<()> {
    for kind in HOOK_KINDS {
        fs::remove(&paths.link(kind), token)?;
    }
    fs::remove(&paths.binary(), token)?;
    // Directories we made, when empty; others' files keep theirs.
    for d in [paths.forwards(), paths.hooks.join("kvmnet")] {
        let _ = std::fs::remove_dir(d);
    }
    Ok(())
}

/// `/proc/sys/net/ipv4/ip_forward` and our sysctl.d file both say 1.
pub fn ip_forward_on(paths: &Paths) -> Result<bool> {
    let now = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
        .map_err(io("reading /proc/sys/net/ipv4/ip_forward".into()))?;
    let file = fs::read_optional(&paths.sysctl)?;
    Ok(now.trim() == "1" && file.as_deref() == Some(SYSCTL_LINE))
}

pub fn set_ip_forward(paths: &Paths, token: &Mutation) -> Result<()> {
    fs::write_atomic(&paths.sysctl, SYSCTL_LINE, 0o644, token)?;
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
        .map_err(io("writing /proc/sys/net/ipv4/ip_forward".into()))
}
