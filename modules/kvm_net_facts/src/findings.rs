//! The troubleshooting checklist over gathered facts: one finding per
//! problem, each with what to do about it. Pure.

use crate::facts::{Bridge, DomainNic, Facts, Network};
use crate::params::Check;
use crate::rules;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Guests' networking is broken or will break.
    Error,
    /// Likely a problem, or a cost worth knowing.
    Warning,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    /// V(error) or V(warning).
    pub severity: Severity,
    /// Which check found it (the names O(ignore) takes).
    pub check: Check,
    /// What it is about: V(domain web, NIC 52:54:00:6c:3c:01),
    /// V(bridge br0), V(network default) or V(host).
    pub subject: String,
    /// What is wrong, with the values seen.
    pub detail: String,
    /// What to do about it.
    pub hint: String,
}

/// What the checks are told beyond the facts.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Checks not to run.
    pub ignore: Vec<Check>,
    /// Drops on a bridge or its ports at or below this are not reported.
    pub max_drops: u64,
}

struct Out<'a> {
    settings: &'a Settings,
    list: Vec<Finding>,
}

impl Out<'_> {
    fn add(
        &mut self,
        severity: Severity,
        check: Check,
        subject: String,
        detail: String,
        hint: &str,
    ) {
        if !self.settings.ignore.contains(&check) {
            self.list.push(Finding {
                severity,
                check,
                subject,
                detail,
                hint: hint.to_string(),
            });
        }
    }
}

fn nic_subject(domain: &str, nic: &DomainNic) -> String {
    match (&nic.mac, &nic.source) {
        (Some(mac), _) => format!("domain {domain}, NIC {mac}"),
        (None, Some(src)) => format!("domain {domain}, NIC on {src}"),
        (None, None) => format!("domain {domain}, a {} NIC", nic.kind),
    }
}

/// The bridge a NIC should be on: its own for type bridge, its network's
/// for type network (None for a macvtap or hostdev network).
fn expected_bridge<'a>(facts: &'a Facts, nic: &'a DomainNic) -> Option<&'a str> {
    match nic.kind.as_str() {
        "bridge" => nic.source.as_deref(),
        "network" => network(facts, nic.source.as_deref()?)?.bridge.as_deref(),
        _ => None,
    }
}

fn network<'a>(facts: &'a Facts, name: &str) -> Option<&'a Network> {
    facts.networks.iter().find(|n| n.name == name)
}

/// Whether the host has an interface of that name: a Linux bridge, or
/// another kind a NIC of type bridge can name (an Open vSwitch bridge).
fn interface_exists(facts: &Facts, name: &str) -> bool {
    facts.interfaces.iter().any(|i| i.name == name)
}

fn bridge_exists(facts: &Facts, name: &str) -> bool {
    facts.bridges.iter().any(|b| b.name == name)
}

/// `10.93.1.1/24` → `10.93.1.0/24`; None for IPv6 or nonsense.
fn ipv4_subnet(cidr: &str) -> Option<String> {
    let (ip, prefix) = cidr.split_once('/')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let prefix: u32 = prefix.parse().ok().filter(|p| *p <= 32)?;
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    Some(format!(
        "{}/{prefix}",
        std::net::Ipv4Addr::from(u32::from(ip) & mask)
    ))
}

/// Every check on `facts`, in the checklist's order.
pub fn check(facts: &Facts, settings: &Settings) -> Vec<Finding> {
    let mut out = Out {
        settings,
        list: Vec::new(),
    };
    if !facts.libvirt.reachable {
        out.add(
            Severity::Error,
            Check::LibvirtUnreachable,
            format!("libvirt {}", facts.libvirt.uri),
            facts.libvirt.error.clone().unwrap_or_default(),
            "Start libvirtd (or virtqemud and virtnetworkd), or give the module's uri option; the host checks ran, the guest and network checks did not.",
        );
    }
    bridges_and_nics(facts, &mut out);
    forwarding(facts, &mut out);
    for b in &facts.bridges {
        spanning_tree(b, &mut out);
        drops(facts, b, &mut out);
    }
    out.list
}

/// Missing bridges, NICs on no bridge, guests without an address, models.
fn bridges_and_nics(facts: &Facts, out: &mut Out) {
    for n in &facts.networks {
        let Some(bridge) = &n.bridge else { continue };
        // libvirt makes its own bridges when it starts a network; a
        // host-bridge network's bridge must be there already.
        let needed = n.active || n.forward_mode == "bridge";
        if needed && !interface_exists(facts, bridge) {
            out.add(
                Severity::Error,
                Check::BridgeMissing,
                format!("network {}", n.name),
                format!("its bridge {bridge} does not exist on the host"),
                if n.forward_mode == "bridge" {
                    "Create the bridge (kvmnet.network.netplan_bridge) before the network's guests start."
                } else {
                    "Something removed libvirt's bridge: restart the network (virsh net-destroy, then net-start)."
                },
            );
        }
    }
    for d in &facts.domains {
        for nic in &d.nics {
            let subject = || nic_subject(&d.name, nic);
            if nic.kind == "bridge" {
                if let Some(b) = nic
                    .source
                    .as_deref()
                    .filter(|b| !interface_exists(facts, b))
                {
                    out.add(
                        Severity::Error,
                        Check::BridgeMissing,
                        subject(),
                        format!("the NIC's bridge {b} does not exist on the host"),
                        "Create the bridge (kvmnet.network.netplan_bridge), or move the NIC to an existing one (kvmnet.network.vm_interface); until then the guest does not start, or its NIC cannot be plugged.",
                    );
                }
            }
            if matches!(nic.kind.as_str(), "network" | "bridge" | "direct")
                && nic.model.as_deref() != Some("virtio")
            {
                out.add(
                    Severity::Warning,
                    Check::NicModel,
                    subject(),
                    match &nic.model {
                        Some(m) => format!("model {m}: an emulated NIC"),
                        None => "no model: the hypervisor's default emulated NIC".to_string(),
                    },
                    "Use model virtio (kvmnet.network.vm_interface model: virtio): several times the throughput at a fraction of the CPU; the guest needs virtio-net drivers (Linux has them; Windows needs virtio-win).",
                );
            }
            if !d.running {
                continue;
            }
            if let (Some(want), Some(tap)) = (expected_bridge(facts, nic), &nic.tap) {
                if nic.bridge.as_deref() != Some(want) && bridge_exists(facts, want) {
                    out.add(
                        Severity::Error,
                        Check::NicNotOnBridge,
                        subject(),
                        match &nic.bridge {
                            None => format!("its tap {tap} is a port of no bridge; it should be on {want}"),
                            Some(other) => format!("its tap {tap} is a port of {other}; it should be on {want}"),
                        },
                        "The guest's traffic goes nowhere. Plug the tap back (ip link set <tap> master <bridge>), or re-attach the NIC (kvmnet.network.vm_interface with link_state down, then up, or detach and attach).",
                    );
                }
            }
            if matches!(nic.kind.as_str(), "network" | "bridge" | "direct")
                && nic.link_state == "up"
                && nic.ips.is_empty()
            {
                out.add(
                    Severity::Warning,
                    Check::GuestWithoutIp,
                    subject(),
                    "no IPv4 address found in the network's DHCP leases, from the guest agent, or in the host's ARP table".to_string(),
                    "Check that the guest asks for DHCP (and that the network's DHCP server runs), or give it a static address; a guest agent (qemu-guest-agent) reports addresses whatever their origin.",
                );
            }
        }
    }
}

/// ip_forward, NAT rules and DHCP servers of active networks.
fn forwarding(facts: &Facts, out: &mut Out) {
    let active = || facts.networks.iter().filter(|n| n.active);
    if !facts.ip_forward {
        let routed: Vec<&str> = active()
            .filter(|n| matches!(n.forward_mode.as_str(), "nat" | "route" | "open"))
            .map(|n| n.name.as_str())
            .collect();
        if !routed.is_empty() {
            out.add(
                Severity::Error,
                Check::IpForwardOff,
                "host".to_string(),
                format!(
                    "net.ipv4.ip_forward is 0 while NAT or routed networks are active: {}",
                    routed.join(", ")
                ),
                "Guests cannot reach beyond the host. Set net.ipv4.ip_forward=1 (ansible.posix.sysctl) and find what turned it off (a sysctl.d file, a firewall script).",
            );
        }
    }
    for n in active() {
        if n.forward_mode == "nat" && facts.libvirt.reachable {
            for a in &n.addresses {
                let Some(subnet) = ipv4_subnet(&a.cidr) else {
                    continue;
                };
                if !rules::masquerades(&facts.firewall, &subnet) {
                    out.add(
                        Severity::Error,
                        Check::NatRulesMissing,
                        format!("network {}", n.name),
                        format!("no masquerade rule of libvirt's for {subnet} in iptables or nftables"),
                        "Something flushed libvirt's rules (a firewall restart, iptables -F): restart the network (virsh net-destroy, then net-start) or libvirtd to have libvirt add them again.",
                    );
                }
            }
        }
        if n.dhcp_running == Some(false) {
            out.add(
                Severity::Error,
                Check::DhcpNotRunning,
                format!("network {}", n.name),
                "the network serves DHCP, but no dnsmasq of libvirt's runs for it".to_string(),
                "Guests get no address. Restart the network (virsh net-destroy, then net-start); if dnsmasq exits again, see libvirt's log and the journal for why (a port taken by another DNS or DHCP server).",
            );
        }
    }
}

/// STP that blocks a port, or delays every guest port on a bridge that
/// has no loop to break.
fn spanning_tree(b: &Bridge, out: &mut Out) {
    for p in b.ports.iter().filter(|p| p.state == "blocking") {
        out.add(
            Severity::Warning,
            Check::StpBlocking,
            format!("bridge {}", b.name),
            format!("STP blocks port {}", p.name),
            "STP found a loop through this port and stopped forwarding on it: check the cabling and the switch (two uplinks on one bridge belong in a bond).",
        );
    }
    // The kernel's shortest forward delay with STP on is 2 s.
    let uplinks = b.ports.iter().filter(|p| p.domain.is_none()).count();
    if b.stp && b.forward_delay > 2.0 && uplinks <= 1 {
        out.add(
            Severity::Warning,
            Check::StpForwardDelay,
            format!("bridge {}", b.name),
            format!(
                "STP is on with a forward delay of {} s and at most one port that is not a guest's: a guest's port forwards only after {} s, and no loop is possible",
                b.forward_delay,
                b.forward_delay * 2.0
            ),
            "Turn STP off on a bridge with one uplink, or set its forward delay to 0 (netplan_bridge parameters: stp: false, forward_delay: 0); guests then get DHCP answers at boot.",
        );
    }
}

/// Drops on a bridge and its ports.
fn drops(facts: &Facts, b: &Bridge, out: &mut Out) {
    let counted: Vec<String> = std::iter::once(b.name.as_str())
        .chain(b.ports.iter().map(|p| p.name.as_str()))
        .filter_map(|name| facts.interfaces.iter().find(|i| i.name == name))
        .filter(|i| i.rx_dropped + i.tx_dropped > out.settings.max_drops)
        .map(|i| {
            format!(
                "{} rx_dropped {} tx_dropped {}",
                i.name, i.rx_dropped, i.tx_dropped
            )
        })
        .collect();
    if !counted.is_empty() {
        out.add(
            Severity::Warning,
            Check::BridgeDrops,
            format!("bridge {}", b.name),
            format!("packets dropped: {}", counted.join("; ")),
            "On a bridge, rx drops are often frames of a protocol the host does not speak (harmless; raise max_drops); tx drops on a guest's tap mean the guest does not keep up: use virtio with multiqueue, and look at the guest's load.",
        );
    }
}
