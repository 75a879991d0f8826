//! Carrying out a plan, all or nothing.
//!
//! Steps run in order. When one fails — libvirt refusing to start a network
//! whose subnet clashes, say — the steps already done are undone in reverse
//! (a define by putting libvirt's previous XML back verbatim, an update by
//! its inverse), and a network that ran before runs again with its guests
//! plugged back in. The error says what failed and what was rolled back.

use crate::model::has_own_bridge;
use crate::plan::{Action, NetworkPlan};
use crate::xmlio;
use kvmnet_core::libvirt::Libvirt;
use kvmnet_core::{Error, Mutation, Plan, Result};

/// The running domains' tap devices on network `name`.
fn guest_taps(host: &Libvirt, name: &str) -> Result<Vec<String>> {
    let mut taps = Vec::new();
    for d in host.running_domains()? {
        let Ok(doc) = roxmltree::Document::parse(&d.live_xml) else {
            continue;
        };
        let ifaces = doc
            .descendants()
            .filter(|n| n.has_tag_name("interface") && n.attribute("type") == Some("network"));
        for iface in ifaces {
            let on_net = iface
                .children()
                .any(|c| c.has_tag_name("source") && c.attribute("network") == Some(name));
            let tap = iface
                .children()
                .find(|c| c.has_tag_name("target"))
                .and_then(|t| t.attribute("dev"));
            if let (true, Some(tap)) = (on_net, tap) {
                taps.push(tap.to_string());
            }
        }
    }
    Ok(taps)
}

/// Plug guests' taps back into the network's bridge: a network restart
/// leaves them without one (libvirt re-plugs only when libvirtd restarts).
fn replug(host: &Libvirt, name: &str, taps: &[String], token: &Mutation) -> Result<()> {
    let live = host
        .network(name)?
        .and_then(|n| n.live_xml)
        .ok_or_else(|| Error::backend(format!("network {name} is not running after its start")))?;
    let (_, def) = xmlio::parse(&live)?;
    let own = has_own_bridge(def.forward.as_ref().map(|f| f.mode));
    let Some(bridge) = def.bridge.and_then(|b| b.name).filter(|_| own) else {
        return Ok(());
    };
    for tap in taps {
        if kvmnet_core::netdev_exists(tap)
            && kvmnet_core::netdev_master(tap).as_deref() != Some(bridge.as_str())
        {
            kvmnet_core::cmd::change(&["ip", "link", "set", "dev", tap, "master", &bridge], token)
                .map_err(|e| e.context(format!("plugging guest NIC {tap} back into {bridge}")))?;
        }
    }
    Ok(())
}

fn step(
    host: &Libvirt,
    name: &str,
    action: &Action,
    taps: &[String],
    token: &Mutation,
) -> Result<()> {
    match action {
        Action::Define { xml, .. } => host.define_network(xml, token),
        Action::Start => host.start_network(name, token),
        Action::Stop => host.stop_network(name, token),
        Action::Restart => {
            host.stop_network(name, token)?;
            host.start_network(name, token)?;
            replug(host, name, taps, token)
        }
        Action::Update(u) => host.update_network(
            name,
            u.command,
            u.section,
            u.parent_index,
            &u.xml,
            u.live,
            u.config,
            token,
        ),
        Action::Autostart(on) => host.set_network_autostart(name, *on, token),
        Action::Undefine { .. } => host.undefine_network(name, token),
    }
}

/// The steps that undo `done`, in the order to run them.
fn undo_steps(done: &[&Action]) -> Vec<Action> {
    let mut undo = Vec::new();
    let mut restart = false;
    for action in done.iter().rev() {
        match action {
            Action::Define {
                previous: Some(prev),
                xml,
                ..
            } => undo.push(Action::Define {
                xml: prev.clone(),
                previous: Some(xml.clone()),
                changed: vec!["its previous definition, put back".to_string()],
            }),
            Action::Define {
                previous: None,
                xml,
                ..
            } => undo.push(Action::Undefine {
                previous: xml.clone(),
            }),
            Action::Start => undo.push(Action::Stop),
            Action::Stop => undo.push(Action::Start),
            // The old definition has to be back before the restart.
            Action::Restart => restart = true,
            Action::Update(u) => undo.push(Action::Update(u.inverse())),
            Action::Autostart(on) => undo.push(Action::Autostart(!on)),
            Action::Undefine { previous } => undo.push(Action::Define {
                xml: previous.clone(),
                previous: None,
                changed: Vec::new(),
            }),
        }
    }
    if restart {
        undo.push(Action::Restart);
    }
    undo
}

pub fn apply(host: &Libvirt, plan: &NetworkPlan, token: &Mutation) -> Result<()> {
    let name = &plan.name;
    // Guests' taps are needed only where the network may go down and come
    // back (a restart, or a stop a rollback would undo): reading every
    // running domain's XML for a live DHCP edit would be wasted.
    let may_stop = plan
        .actions
        .iter()
        .any(|a| matches!(a, Action::Restart | Action::Stop));
    let taps = if plan.was_active && may_stop {
        guest_taps(host, name)?
    } else {
        Vec::new()
    };
    let mut done = Vec::new();
    for action in &plan.actions {
        if let Err(e) = step(host, name, action, &taps, token) {
            let outcome = rollback(host, plan, &done, &taps, token);
            return Err(Error::new(e.kind, format!("{}; {outcome}", e.msg)));
        }
        done.push(action);
    }
    Ok(())
}

/// Undo `done`; returns what happened, for the error message.
fn rollback(
    host: &Libvirt,
    plan: &NetworkPlan,
    done: &[&Action],
    taps: &[String],
    token: &Mutation,
) -> String {
    let name = &plan.name;
    let undo = undo_steps(done);
    let mut problems = Vec::new();
    for action in &undo {
        if let Err(e) = step(host, name, action, taps, token) {
            problems.push(e.msg);
        }
    }
    // A failed restart or start may have left a running network stopped.
    let running = host
        .network(name)
        .ok()
        .flatten()
        .is_some_and(|n| n.live_xml.is_some());
    let mut restarted = false;
    if plan.was_active && !running {
        match host
            .start_network(name, token)
            .and_then(|()| replug(host, name, taps, token))
        {
            Ok(()) => restarted = true,
            Err(e) => problems.push(e.msg),
        }
    }
    let mut steps = NetworkPlan {
        name: name.clone(),
        was_active: false,
        actions: undo,
    }
    .actions();
    if restarted {
        steps.push(format!("start network {name} again"));
    }
    match (steps.is_empty(), problems.is_empty()) {
        (true, true) => "nothing had been changed".to_string(),
        (false, true) => format!("rolled back: {}", steps.join(", ")),
        (_, false) => format!(
            "rolling back ({}) failed: {}; the network may be half-changed, check it with virsh net-dumpxml {name}",
            steps.join(", "),
            problems.join("; ")
        ),
    }
}
