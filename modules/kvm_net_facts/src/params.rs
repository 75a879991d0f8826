//! The task's options; doc comments are the module's documentation.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Gather a KVM host's networking in one read-only call, and check it
/// against the troubleshooting checklist.
///
/// Reads bridges (ports, STP, forward delay), bonds, VLANs, SR-IOV
/// physical functions, every interface's state and drop counters,
/// C(ip_forward), libvirt's networks (state, bridge, forward mode, DHCP
/// server and leases) and domains (each NIC's type, source, model, MAC,
/// tap, link state and IPv4 addresses), and the NAT and forward rules of
/// libvirt and of kvmnet.
///
/// Returns them, also as C(ansible_facts.kvmnet); a list of RV(findings),
/// one per problem the checklist looks for, each with a hint; and the
/// host's network as a picture (RV(topology), Mermaid and Graphviz DOT).
///
/// Changes nothing, ever: C(changed) is always V(false), and check mode
/// runs it the same way.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// libvirt connection URI. Default: C(LIBVIRT_DEFAULT_URI), else
    /// V(qemu:///system). When libvirt cannot be reached the host's side is
    /// still gathered, and a C(libvirt_unreachable) finding says why.
    pub uri: Option<String>,
    /// Checks not to run (their findings are not reported).
    #[serde(default)]
    pub ignore: Vec<Check>,
    /// A bridge, or a port of it, reports C(bridge_drops) only when it has
    /// dropped more packets than this (received and sent together, since
    /// the interface was made). A few drops are normal: a bridge without
    /// ports drops what the host sends on it, and counts frames of
    /// protocols the host does not speak as dropped.
    #[serde(default = "default_max_drops")]
    pub max_drops: u64,
}

fn default_max_drops() -> u64 {
    100
}

/// The checks, by the names findings carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// libvirt does not answer at O(uri).
    LibvirtUnreachable,
    /// A host bridge a NIC or an active (or host-bridge) network names does
    /// not exist.
    BridgeMissing,
    /// A running guest's tap is not a port of the bridge its NIC names.
    NicNotOnBridge,
    /// A running guest's NIC (link up) has no IPv4 address in the DHCP
    /// leases, from the guest agent, or in the ARP table.
    GuestWithoutIp,
    /// A NIC's model is not virtio.
    NicModel,
    /// C(net.ipv4.ip_forward) is off while a NAT or routed network is
    /// active.
    IpForwardOff,
    /// An active NAT network's subnet has no masquerade rule of libvirt's.
    NatRulesMissing,
    /// An active network with DHCP has no dnsmasq running.
    DhcpNotRunning,
    /// STP blocks a bridge port.
    StpBlocking,
    /// STP is on with a forward delay over 2 s on a bridge with at most one
    /// port that is not a guest's.
    StpForwardDelay,
    /// A bridge or one of its ports has dropped more than O(max_drops)
    /// packets.
    BridgeDrops,
}
