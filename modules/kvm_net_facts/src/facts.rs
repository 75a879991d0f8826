//! What the module reports: the host's KVM networking as plain data.
//! Doc comments here are the module's RETURN documentation.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Everything gathered, in one object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Facts {
    /// Whether the host routes IPv4 (C(net.ipv4.ip_forward)); NAT and
    /// routed networks need it.
    pub ip_forward: bool,
    /// Every network interface but loopback: its kind, state and drop
    /// counters.
    pub interfaces: Vec<Interface>,
    /// Linux bridges with their ports and spanning tree settings.
    pub bridges: Vec<Bridge>,
    /// Bonds and their members.
    pub bonds: Vec<Bond>,
    /// 802.1Q VLAN interfaces.
    pub vlans: Vec<Vlan>,
    /// NICs that can have SR-IOV virtual functions.
    pub sriov: Vec<SriovPf>,
    /// libvirt's networks (empty when libvirt cannot be reached).
    pub networks: Vec<Network>,
    /// libvirt's domains (guests) with their NICs.
    pub domains: Vec<Domain>,
    /// The NAT and forward rules of libvirt and of kvmnet.
    pub firewall: FirewallRules,
    /// The libvirt connection.
    pub libvirt: LibvirtStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LibvirtStatus {
    /// The URI connected to.
    pub uri: String,
    /// Whether libvirt answered.
    pub reachable: bool,
    /// libvirt's error when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Interface {
    pub name: String,
    /// V(nic) for a plain NIC, else the kernel's kind (V(bridge),
    /// V(bond), V(vlan), V(veth), V(tun), V(macvtap), ...).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    pub mtu: u32,
    /// Administratively up.
    pub up: bool,
    /// Operationally up (carrier).
    pub carrier: bool,
    /// In promiscuous mode (bridge ports and macvtap lower devices are).
    pub promisc: bool,
    /// The bridge or bond it is a port of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master: Option<String>,
    /// The interface it sits on (a VLAN's or macvtap's lower device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Packets dropped, received and sent, since the interface was made.
    pub rx_dropped: u64,
    pub tx_dropped: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Bridge {
    pub name: String,
    /// Spanning tree protocol on.
    pub stp: bool,
    /// Seconds a port spends in each of listening and learning before it
    /// forwards, when STP is on.
    pub forward_delay: f64,
    pub ports: Vec<BridgePort>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BridgePort {
    pub name: String,
    /// The port's STP state: V(disabled), V(listening), V(learning),
    /// V(forwarding) or V(blocking).
    pub state: String,
    /// The domain whose NIC this port is (a tap), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Bond {
    pub name: String,
    /// The bonding mode, as netplan and C(ip) name it (V(802.3ad),
    /// V(active-backup), ...).
    pub mode: String,
    pub members: Vec<String>,
    /// The member carrying traffic (active-backup, balance-tlb/alb).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Vlan {
    pub name: String,
    pub id: u16,
    pub parent: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SriovPf {
    /// The physical function's interface.
    pub name: String,
    /// Its PCI address.
    pub pci: String,
    /// How many VFs it can have (C(sriov_totalvfs)).
    pub total_vfs: u32,
    /// How many it has (C(sriov_numvfs)).
    pub num_vfs: u32,
    /// Its virtual functions, in VF order.
    pub vfs: Vec<Vf>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Vf {
    /// The VF's number on its PF.
    pub index: u32,
    /// Its PCI address (what a hostdev NIC names).
    pub pci: String,
    /// Its interface on the host; none while a guest has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Network {
    pub name: String,
    pub active: bool,
    pub autostart: bool,
    /// V(nat), V(route), V(open), V(isolated) (no forward), V(bridge),
    /// V(private), V(vepa), V(passthrough) or V(hostdev).
    pub forward_mode: String,
    /// The bridge the network's guests are plugged into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// The host interfaces a macvtap or hostdev network hands out, or a
    /// NAT/routed network sends through.
    pub forward_devices: Vec<String>,
    /// The network's addresses on the host, as CIDRs (V(192.168.122.1/24)).
    pub addresses: Vec<NetAddress>,
    /// Whether a DHCP server (libvirt's dnsmasq) runs for the network;
    /// absent when the network has no DHCP, is not active, or libvirt is
    /// remote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dhcp_running: Option<bool>,
    /// The DHCP leases libvirt's dnsmasq handed out.
    pub leases: Vec<Lease>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NetAddress {
    /// The host's address with the prefix length.
    pub cidr: String,
    /// Whether the network serves DHCP on it.
    pub dhcp: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Lease {
    pub mac: String,
    pub ip: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// When the lease ends, in seconds since the epoch.
    pub expiry_time: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Domain {
    pub name: String,
    pub running: bool,
    /// Its NICs: the live ones when it runs, else the persistent ones.
    pub nics: Vec<DomainNic>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DomainNic {
    /// libvirt's interface type: V(network), V(bridge), V(direct),
    /// V(hostdev), V(user), V(ethernet), ...
    #[serde(rename = "type")]
    pub kind: String,
    /// What it is plugged into: the network, bridge, host interface
    /// (direct) or PCI address (hostdev).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The host bridge the NIC's tap is a port of, when it runs (from the
    /// kernel, not from the XML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// The host device of the running NIC (tap or macvtap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tap: Option<String>,
    /// V(up) or V(down), as the guest sees its link.
    pub link_state: String,
    /// Its IPv4 addresses.
    pub ips: Vec<String>,
    /// Where the addresses came from: V(lease), V(agent) or V(arp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_source: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FirewallRules {
    /// libvirt's own rules: its C(LIBVIRT_*) iptables chains, or its
    /// C(libvirt_network) nft table.
    pub libvirt: Vec<FirewallRule>,
    /// Rules kvmnet made (nat_forward's, tagged C(kvmnet:<name>:...)).
    pub kvmnet: Vec<FirewallRule>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FirewallRule {
    /// V(iptables) or V(nftables).
    pub firewall: String,
    pub table: String,
    pub chain: String,
    /// The rule as the firewall lists it.
    pub rule: String,
}
