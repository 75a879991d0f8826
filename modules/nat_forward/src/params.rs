//! The task's options; doc comments are the module's documentation.

pub use kvmnet_core::PresentAbsent;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Forward a port of the host to a guest behind a libvirt NAT network.
///
/// The forward's rules live in a table of their own (nftables, V(ip
/// kvmnet)) or in the built-in chains (iptables), every rule tagged with a
/// comment naming the forward: the module reads, diffs and changes only
/// its own rules and never touches libvirt's or anyone else's. The one
/// exception is where libvirt's own firewall would reject the forwarded
/// connection: with libvirt's nftables backend an accept in another table
/// does not help, so one tagged accept rule goes at the top of libvirt's
/// V(forward) chain, above its jump to V(guest_input) (where libvirt
/// rejects, and re-adds its rules on every restart); with the iptables
/// backend one tagged accept goes into V(FORWARD) above the jump to
/// V(LIBVIRT_FWI).
///
/// Only connections to the host's own addresses are forwarded (or to
/// O(host_address)): traffic passing through the host to other machines
/// on the same port is left alone.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The forward's identity: its rules are tagged C(kvmnet:<name>:...).
    /// Letters, digits, C(_), C(.) and C(-), up to 32 characters.
    pub name: String,
    /// V(present) makes the forward's rules exist as the task says;
    /// V(absent) removes every rule tagged with O(name), in both backends,
    /// and its persisted copy.
    #[serde(default)]
    pub state: PresentAbsent,
    /// The protocol forwarded.
    #[serde(default)]
    pub protocol: Protocol,
    /// The host port clients connect to, V(80), or a range V(8000-8010).
    /// Required with O(state=present).
    pub host_port: Option<String>,
    /// The guest's IPv4 address, in the network's subnet. Either this or
    /// O(domain).
    pub dest: Option<String>,
    /// The guest by libvirt domain name: its address on O(network) is
    /// found through the network's DHCP leases, then the host's ARP table.
    /// Give the guest a DHCP reservation (libvirt_network's C(dhcp.hosts))
    /// so the address does not change.
    pub domain: Option<String>,
    /// The libvirt network the guest is on; its bridge and subnet are read
    /// from libvirt. Required with O(state=present).
    pub network: Option<String>,
    /// The guest's port. Default: O(host_port). A range is forwarded to
    /// the same ports, so with a range this must be left out or equal.
    pub dest_port: Option<String>,
    /// Forward only connections arriving on this host interface, for
    /// example V(eth0).
    pub in_interface: Option<String>,
    /// Forward only connections to this address of the host. Default: any
    /// address of the host.
    pub host_address: Option<String>,
    /// Clients allowed to use the forward, as IPv4 addresses or CIDRs.
    /// Default: any.
    #[serde(default)]
    pub source: Vec<String>,
    /// Also reach the forward from the host itself and from guests on the
    /// same network (the guests' connections are masqueraded, so the
    /// reply comes back the way it went).
    #[serde(default)]
    pub hairpin: bool,
    /// Which firewall holds the rules. V(auto) uses the one libvirt uses
    /// for O(network): V(nftables) when libvirt's C(libvirt_network) table
    /// has the network's rules, V(iptables) when its C(LIBVIRT_FWI) chain
    /// does.
    #[serde(default)]
    pub backend: Backend,
    /// Keep the forward across reboots and anything else that removes its
    /// rules (a flushed firewall, libvirt making its table anew): a copy of
    /// the resolved forward is saved under C(/etc/libvirt/hooks/kvmnet/forwards)
    /// and a libvirt hook (C(network.d) and C(qemu.d)) puts the rules back
    /// whenever libvirt starts the network or the guest, creates the
    /// guest's port, or reconnects to it after its daemon restarted.
    /// (Network and daemon restarts alone do not disturb the rules: see the
    /// module's description.) libvirt looks for hooks when its daemon
    /// starts: a hook installed for the first time runs after the next
    /// restart of libvirtd (or virtnetworkd and virtqemud); the module
    /// warns then.
    #[serde(default)]
    pub persist: bool,
    /// Make sure the kernel forwards IPv4 (C(net.ipv4.ip_forward=1)) now
    /// and after a reboot (C(/etc/sysctl.d/60-kvmnet-ip-forward.conf)).
    /// libvirt turns it on when it starts a NAT network; this keeps it on.
    /// Never turned off by the module.
    #[serde(default)]
    pub ip_forward: bool,
    /// Prefix of the files the module writes (hooks, saved forwards,
    /// sysctl.d); for tests and images. Default V(/).
    pub root_dir: Option<String>,
    /// libvirt connection URI. Default: C(LIBVIRT_DEFAULT_URI), else
    /// C(qemu:///system).
    pub uri: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Auto,
    Nftables,
    Iptables,
}
