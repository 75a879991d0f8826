//! Carrying out a [`DevicePlan`](super::DevicePlan): write, `netplan
//! apply`, settle, verify, and revert when the result is wrong or would cut
//! Ansible's SSH connection.

use super::{Device, DevicePlan, Host};
use crate::netlink::Kernel;
use crate::{Error, Mutation, PresentAbsent, Result, cmd, fs, netdev_exists, netplan};
use std::time::{Duration, Instant};

/// How long to wait for the kernel after `netplan apply`:
/// `KVMNET_VERIFY_TIMEOUT` seconds, default 60.
fn verify_timeout() -> Duration {
    let secs = std::env::var("KVMNET_VERIFY_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// Poll the kernel until it matches the task; netplan apply returns before
/// networkd has finished.
fn wait_for_kernel<D: Device>(p: &D, timeout: Duration) -> Result<Vec<String>> {
    let start = Instant::now();
    loop {
        let differs = super::mismatches(p, &Kernel::read()?);
        if differs.is_empty() || start.elapsed() > timeout {
            return Ok(differs);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Poll until the device and its members are there (what networkd does
/// after netplan apply); the kernel as it then is.
fn wait_for_members<D: Device>(p: &D, timeout: Duration) -> Result<Kernel> {
    let c = p.common();
    let start = Instant::now();
    loop {
        let k = Kernel::read()?;
        let ready = super::device(p, &k).is_some_and(|dev| {
            c.members
                .iter()
                .all(|m| k.link(m).is_some_and(|l| l.master == Some(dev.index)))
        });
        if ready || start.elapsed() > timeout {
            return Ok(k);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// When Ansible runs over SSH: is the address the connection came in on
/// still on an up interface, and the client still reachable?
fn connection_guard() -> Result<Option<String>> {
    let Ok(conn) = std::env::var("SSH_CONNECTION") else {
        return Ok(None);
    };
    let parts: Vec<&str> = conn.split_whitespace().collect();
    let (Some(client), Some(server)) = (parts.first(), parts.get(2)) else {
        return Ok(None);
    };
    let Ok(server_ip) = server.parse() else {
        return Ok(None);
    };
    if !Kernel::read()?.has_up_address(server_ip) {
        return Ok(Some(format!(
            "the SSH connection's address {server} is no longer on an up interface"
        )));
    }
    if cmd::read(&["ip", "route", "get", client]).is_err() {
        return Ok(Some(format!(
            "the SSH client {client} is no longer routable"
        )));
    }
    Ok(None)
}

fn delete_link(name: &str, token: &Mutation) -> Result<()> {
    if netdev_exists(name) {
        cmd::change(&["ip", "link", "del", "dev", name], token)?;
    }
    Ok(())
}

/// Put the previous file back, apply it, and undo what the failed apply
/// did to links: links it created (or created anew) are deleted, so that
/// networkd makes them from the previous file; members that were down are
/// put down again.
pub fn revert(plan: &DevicePlan, token: &Mutation) -> String {
    let mut problems = Vec::new();
    let restored = match &plan.previous {
        Some(prev) => fs::write_atomic(&plan.file, prev, 0o600, token),
        None => fs::remove(&plan.file, token),
    };
    for l in &plan.recreate {
        if let Err(e) = delete_link(l, token) {
            problems.push(e.msg);
        }
    }
    if let Err(e) = restored.and_then(|()| netplan::apply(token)) {
        problems.push(e.msg);
    }
    // networkd finishes the reload after netplan apply returns, and may
    // re-create a deleted link or bring a released member up once more:
    // settle for a few seconds.
    let settle = Instant::now();
    loop {
        for l in &plan.new_links {
            if let Err(e) = delete_link(l, token) {
                problems.push(e.msg);
            }
        }
        let k = Kernel::read();
        let up: Vec<&String> = plan
            .down_members
            .iter()
            .filter(|m| {
                let link = k.as_ref().ok().and_then(|k| k.link(m).cloned());
                link.is_some_and(|l| l.up && l.master.is_none())
            })
            .collect();
        for m in &up {
            if let Err(e) = cmd::change(&["ip", "link", "set", "dev", m, "down"], token) {
                problems.push(e.msg);
            }
        }
        if settle.elapsed() > Duration::from_secs(5) || !problems.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    if problems.is_empty() {
        format!("reverted: {} restored and applied", plan.file.display())
    } else {
        format!("reverting failed too: {}", problems.join("; "))
    }
}

/// A failure after the file went live: revert, and say both.
fn reverted(e: Error, plan: &DevicePlan, token: &Mutation) -> Error {
    Error {
        kind: e.kind,
        msg: format!("{}; {}", e.msg, revert(plan, token)),
    }
}

pub fn apply<D: Device>(host: &Host, p: &D, plan: &DevicePlan, token: &Mutation) -> Result<()> {
    if let Some(dest) = &plan.backup_to {
        fs::backup(&plan.file, dest, token)?;
    }
    if let Some(content) = &plan.write {
        fs::write_atomic(&plan.file, content, 0o600, token)?;
    }
    if plan.remove {
        fs::remove(&plan.file, token)?;
    }
    if !host.apply || plan.apply_because.is_empty() && plan.delete.is_empty() {
        return Ok(());
    }
    for l in &plan.recreate {
        delete_link(l, token).map_err(|e| reverted(e, plan, token))?;
    }
    netplan::apply(token).map_err(|e| reverted(Error::backend(e.msg), plan, token))?;
    // netplan leaves a removed device (and its VLANs) in the kernel.
    for l in &plan.delete {
        delete_link(l, token)?;
    }
    if p.common().state == PresentAbsent::Absent {
        return Ok(());
    }
    let k = wait_for_members(p, verify_timeout())?;
    for argv in super::fixes(p, &k) {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        cmd::change(&argv, token).map_err(|e| reverted(Error::backend(e.msg), plan, token))?;
    }
    let differs = wait_for_kernel(p, verify_timeout())?;
    if !differs.is_empty() {
        return Err(reverted(
            Error::verification(format!(
                "after netplan apply the kernel does not match: {}",
                differs.join(", ")
            )),
            plan,
            token,
        ));
    }
    if let Some(cut) = connection_guard()? {
        return Err(reverted(
            Error::verification(format!("after netplan apply {cut}")),
            plan,
            token,
        ));
    }
    Ok(())
}
