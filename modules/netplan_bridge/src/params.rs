//! The task's options; doc comments are the module's documentation.

pub use kvmnet_core::PresentAbsent;
pub use kvmnet_core::netplan_device::{Nameservers, Route, Vlan};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Manage one Linux bridge in netplan: its ports (NICs, bonds, VLANs),
/// addresses, routes, DNS and bridge parameters, in a netplan file of its
/// own.
///
/// The file is validated with C(netplan generate) before it goes live and
/// written atomically with mode 0600. With O(apply=true), C(netplan apply)
/// runs only when the file changed or the kernel differs from it; the
/// kernel is then read back over rtnetlink (bridge, ports, STP and timers,
/// addresses), and when that fails, or the SSH connection Ansible runs
/// over would be cut, the previous files are put back and applied again.
/// That is the revert C(netplan try) refuses for bridges.
///
/// Other netplan files are never written; they are read to spot the same
/// bridge or port defined elsewhere.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The bridge's interface name, for example V(br0).
    pub name: String,
    /// V(present) defines the bridge; V(absent) removes the module's file
    /// and, with O(apply=true), deletes the bridge from the kernel (netplan
    /// alone leaves it behind).
    #[serde(default)]
    pub state: PresentAbsent,
    /// The bridge's ports: NICs, bonds, or VLANs from O(vlans). NICs get a
    /// stanza without addresses or DHCP in this module's file.
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// VLAN interfaces defined in the same file, so that a VLAN bridge is
    /// one task. List them in O(interfaces) to make them ports.
    #[serde(default)]
    pub vlans: Vec<Vlan>,
    /// Static addresses with prefix, for example V(192.168.1.10/24).
    #[serde(default)]
    pub addresses: Vec<String>,
    /// DHCP for IPv4 on the bridge.
    pub dhcp4: Option<bool>,
    /// DHCP for IPv6 on the bridge.
    pub dhcp6: Option<bool>,
    /// Static routes via the bridge.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// DNS servers and search domains.
    pub nameservers: Option<Nameservers>,
    /// MTU of the bridge, 68 to 65535.
    #[schemars(range(min = 68, max = 65535))]
    pub mtu: Option<u32>,
    /// MAC address of the bridge.
    pub macaddress: Option<String>,
    /// Bridge parameters, with netplan's names.
    pub parameters: Option<Parameters>,
    /// The netplan file this module owns. Default
    /// C(/etc/netplan/60-kvmnet-<name>.yaml).
    pub file: Option<String>,
    /// Work on the netplan configuration under this root instead of C(/)
    /// (offline images, tests). The kernel is not touched then.
    pub root_dir: Option<String>,
    /// Run C(netplan apply) when needed, verify, and revert on failure.
    /// Default V(true) with the real root, V(false) with O(root_dir).
    pub apply: Option<bool>,
    /// Keep a timestamped copy of the file before changing it.
    #[serde(default)]
    pub backup: bool,
}

/// netplan's bridge parameters. Times are in seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Parameters {
    /// Spanning tree. netplan's default is on.
    pub stp: Option<bool>,
    /// Seconds in the listening and learning states.
    pub forward_delay: Option<u32>,
    /// Bridge priority for the root bridge election, 0 to 65535.
    #[schemars(range(min = 0, max = 65535))]
    pub priority: Option<u32>,
    /// Seconds between hello packets.
    pub hello_time: Option<u32>,
    /// Seconds a hello packet is valid.
    pub max_age: Option<u32>,
    /// Seconds a MAC address stays in the forwarding table.
    pub ageing_time: Option<u32>,
    /// Per port: its priority, 0 to 63.
    pub port_priority: Option<BTreeMap<String, u32>>,
    /// Per port: its path cost.
    pub path_cost: Option<BTreeMap<String, u32>>,
}
