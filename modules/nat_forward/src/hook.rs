//! This binary as a libvirt hook: libvirt runs
//! `<hooks>/network.d/kvmnet-nat-forward <network> <op> <sub-op> -` when a
//! network starts or a guest's port on it is made (and `qemu.d/…` with the
//! domain when a guest starts, or libvirtd reconnects to it).
//! For each saved forward of that network (or guest) it puts the rules
//! back as the module would: missing ones added, one that libvirt's
//! restart left below its reject moved to the top again.
//!
//! A hook must not call libvirt back (libvirt waits for the hook), and a
//! failing "started" hook would stop the network: errors go to stderr
//! (libvirt's log) and the hook always exits 0.

use crate::firewall;
use crate::persist::{HOOK_NAME, Paths};
use crate::plan::{self, State};
use crate::rules::{self, Forward};
use kvmnet_core::Result;
use std::io::Read;
use std::path::Path;

/// Whether libvirt ran us as the hook.
pub fn is_hook(argv: &[String]) -> bool {
    argv.first()
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|n| n == HOOK_NAME)
}

pub fn main(argv: &[String]) -> i32 {
    // libvirt writes the object's XML to our stdin; read it so libvirt's
    // write does not fail.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    let argv0 = Path::new(&argv[0]);
    let kind = argv0
        .parent()
        .and_then(|d| d.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (Some(object), Some(op)) = (argv.get(1), argv.get(2)) else {
        return 0;
    };
    // "started": the network (or guest) has just started, libvirt's rules
    // are fresh. "port-created" and "reconnect" also come when libvirtd
    // restarts with guests running — measured: before libvirt re-adds its
    // guest_input rules, which is why the accept does not live there. The
    // hook puts back rules that are gone (a reboot, a flushed firewall).
    let relevant = match kind.as_str() {
        "network.d" => matches!(op.as_str(), "started" | "port-created"),
        "qemu.d" => matches!(op.as_str(), "started" | "reconnect"),
        _ => false,
    };
    if !relevant {
        return 0;
    }
    let Some(paths) = Paths::of_hook(argv0) else {
        return 0;
    };
    for f in saved_forwards(&paths) {
        let ours = match kind.as_str() {
            "network.d" => &f.network == object,
            "qemu.d" => f.domain.as_ref() == Some(object),
            _ => false,
        };
        if ours {
            if let Err(e) = reapply(&f) {
                eprintln!("kvmnet-nat-forward: forward {}: {}", f.name, e.msg);
            }
        }
    }
    0
}

fn saved_forwards(paths: &Paths) -> Vec<Forward> {
    let Ok(dir) = std::fs::read_dir(paths.forwards()) else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path()).ok()?;
            serde_json::from_str(&text)
                .map_err(|err| eprintln!("kvmnet-nat-forward: {}: {err}", e.path().display()))
                .ok()
        })
        .collect()
}

/// The saved forward's rules, made true again.
pub fn reapply(f: &Forward) -> Result<()> {
    let observed = firewall::observe(&f.name)?;
    let current = State {
        rules: observed.rules,
        table_exists: observed.table_exists,
        others_in_table: observed.others_in_table,
        ..State::default()
    };
    let desired = State {
        rules: rules::render(f),
        ..State::default()
    };
    let c = plan::changes(&current, &desired, "");
    kvmnet_core::run::as_hook(|token| firewall::change(&c.remove, &c.add, c.drop_table, token))
}
