//! The running bridge, read over rtnetlink, and how it differs from what
//! the task asks for.

use crate::params::Params;
use kvmnet_core::Result;
use kvmnet_core::netlink::{self, Address, Link};
use std::net::IpAddr;

/// What the kernel has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kernel {
    pub links: Vec<Link>,
    pub addresses: Vec<Address>,
}

impl Kernel {
    pub fn read() -> Result<Kernel> {
        Ok(Kernel {
            links: netlink::links()?,
            addresses: netlink::addresses()?,
        })
    }

    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    /// Whether an interface is up with `ip` on it.
    pub fn has_up_address(&self, ip: IpAddr) -> bool {
        self.addresses
            .iter()
            .filter(|a| a.address == ip)
            .any(|a| self.links.iter().any(|l| l.index == a.index && l.up))
    }
}

/// A bridge port's own setting, from sysfs (`brport/priority`, `path_cost`).
fn brport(port: &str, what: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/class/net/{port}/brport/{what}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The differences between the kernel and the task, in words; empty when
/// the kernel matches. Only what the task sets is compared: ports others
/// add (a guest's tap, say) are not a difference.
pub fn mismatches(p: &Params, k: &Kernel) -> Vec<String> {
    let mut out = Vec::new();
    for v in &p.vlans {
        match k.link(&v.name) {
            Some(l) if l.kind.as_deref() == Some("vlan") => {}
            _ => out.push(format!("VLAN {} missing", v.name)),
        }
    }
    let Some(br) = k
        .link(&p.name)
        .filter(|l| l.kind.as_deref() == Some("bridge"))
    else {
        out.push(format!("bridge {} missing", p.name));
        return out;
    };
    if !br.up {
        out.push(format!("bridge {} is down", p.name));
    }
    for port in &p.interfaces {
        match k.link(port) {
            None => out.push(format!("port {port} missing")),
            Some(l) if l.master != Some(br.index) => {
                out.push(format!("{port} is not a port of {}", p.name))
            }
            Some(_) => {}
        }
    }
    let info = br.bridge.clone().unwrap_or_default();
    if let Some(params) = &p.parameters {
        // netplan takes seconds; the kernel keeps centiseconds.
        // During an STP topology change the kernel reports a shortened
        // ageing time: not a difference.
        let ageing = if info.topology_change {
            params.ageing_time.map(|a| a * 100)
        } else {
            None
        };
        let timers = [
            ("forward-delay", params.forward_delay, info.forward_delay),
            ("hello-time", params.hello_time, info.hello_time),
            ("max-age", params.max_age, info.max_age),
            (
                "ageing-time",
                params.ageing_time,
                ageing.unwrap_or(info.ageing_time),
            ),
        ];
        for (name, want, have) in timers {
            if let Some(w) = want
                && w * 100 != have
            {
                out.push(format!("{name} is {}s, not {w}s", have / 100));
            }
        }
        if let Some(stp) = params.stp
            && stp != (info.stp_state != 0)
        {
            out.push(format!("STP is {}", if stp { "off" } else { "on" }));
        }
        if let Some(prio) = params.priority
            && prio != u32::from(info.priority)
        {
            out.push(format!("priority is {}, not {prio}", info.priority));
        }
        for (port, want) in params.port_priority.iter().flatten() {
            if brport(port, "priority") != Some(*want) {
                out.push(format!("port-priority of {port} is not {want}"));
            }
        }
        for (port, want) in params.path_cost.iter().flatten() {
            if brport(port, "path_cost") != Some(*want) {
                out.push(format!("path-cost of {port} is not {want}"));
            }
        }
    }
    for a in &p.addresses {
        let (ip, prefix) = a.split_once('/').unwrap_or((a, ""));
        let ip: Option<IpAddr> = ip.parse().ok();
        let present = k.addresses.iter().any(|x| {
            x.index == br.index && Some(x.address) == ip && x.prefix.to_string() == prefix
        });
        if !present {
            out.push(format!("address {a} missing on {}", p.name));
        }
    }
    if let Some(mtu) = p.mtu
        && br.mtu != mtu
    {
        out.push(format!("MTU is {}, not {mtu}", br.mtu));
    }
    if let Some(mac) = &p.macaddress
        && br.mac.as_deref() != Some(mac.to_ascii_lowercase().as_str())
    {
        out.push(format!(
            "MAC is {}, not {mac}",
            br.mac.clone().unwrap_or_default()
        ));
    }
    out
}

/// `ip` commands that set the task's bridge parameters on a bridge that
/// exists: networkd applies them only when it creates a bridge, so a drift
/// (STP switched on by hand, say) survives `netplan apply`. STP goes
/// first: with STP on, the kernel refuses a forward delay under 2 s.
pub fn parameter_fixes(p: &Params, k: &Kernel) -> Vec<Vec<String>> {
    let mut cmds = Vec::new();
    let Some(params) = &p.parameters else {
        return cmds;
    };
    let Some(br) = k
        .link(&p.name)
        .filter(|l| l.kind.as_deref() == Some("bridge"))
    else {
        return cmds;
    };
    let info = br.bridge.clone().unwrap_or_default();
    let base = |extra: &[String]| {
        let mut c: Vec<String> = ["ip", "link", "set", "dev", &p.name, "type", "bridge"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        c.extend_from_slice(extra);
        c
    };
    if let Some(stp) = params.stp
        && stp != (info.stp_state != 0)
    {
        cmds.push(base(&["stp_state".into(), u32::from(stp).to_string()]));
    }
    let mut timers = Vec::new();
    for (key, want, have) in [
        ("forward_delay", params.forward_delay, info.forward_delay),
        ("hello_time", params.hello_time, info.hello_time),
        ("max_age", params.max_age, info.max_age),
        ("ageing_time", params.ageing_time, info.ageing_time),
    ] {
        if let Some(w) = want
            && w * 100 != have
        {
            timers.extend([key.to_string(), (w * 100).to_string()]);
        }
    }
    if let Some(prio) = params.priority
        && prio != u32::from(info.priority)
    {
        timers.extend(["priority".to_string(), prio.to_string()]);
    }
    if !timers.is_empty() {
        cmds.push(base(&timers));
    }
    for (key, map, file) in [
        ("priority", &params.port_priority, "priority"),
        ("cost", &params.path_cost, "path_cost"),
    ] {
        for (port, want) in map.iter().flatten() {
            if brport(port, file) != Some(*want)
                && k.link(port).is_some_and(|l| l.master == Some(br.index))
            {
                cmds.push(
                    [
                        "ip",
                        "link",
                        "set",
                        "dev",
                        port,
                        "type",
                        "bridge_slave",
                        key,
                        &want.to_string(),
                    ]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                );
            }
        }
    }
    cmds
}
