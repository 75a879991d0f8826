//! The task's options. Doc comments here are the module's documentation
//! (`libvirt_network --doc`); the leaf types double as parts of the
//! normalised network model, so they derive ordering and serialisation too.

pub use kvmnet_core::PresentAbsent;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Manage one libvirt virtual network by typed options: NAT, routed, open,
/// isolated, a host bridge, macvtap pools, SR-IOV hostdev pools; DHCP, DNS,
/// port groups and static routes.
///
/// The task describes the whole network: options left out are removed from
/// it, except what libvirt chooses by itself (UUID, bridge name, MAC
/// address), which is kept.
///
/// Changes libvirt can make to a running network (DHCP hosts and ranges, DNS
/// hosts, SRV and TXT records, port groups, forward interfaces) are applied
/// live and to the definition. Any other change to a running network needs
/// it restarted, which is refused unless O(allow_restart=true); after a
/// restart, running guests' NICs on the network are plugged back into it.
///
/// Networks other than O(name) are never touched.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Name of the network.
    pub name: String,
    /// V(present) defines the network as described; V(absent) stops and
    /// undefines it.
    #[serde(default)]
    pub state: PresentAbsent,
    /// Whether the network should be running.
    #[serde(default = "yes")]
    pub active: bool,
    /// Start the network when libvirtd starts. Left as it is when not given
    /// (a new network does not autostart).
    pub autostart: Option<bool>,
    /// libvirt connection URI. Defaults to E(LIBVIRT_DEFAULT_URI), else
    /// V(qemu:///system).
    pub uri: Option<String>,
    /// How traffic leaves the network. Not given: an isolated network.
    pub forward: Option<Forward>,
    /// The Linux bridge libvirt creates for the network (not for macvtap or
    /// hostdev pools). For O(forward.mode=bridge), the existing host bridge
    /// to use.
    pub bridge: Option<Bridge>,
    /// MTU of the network's bridge, 68 to 65535.
    #[schemars(range(min = 68, max = 65535))]
    pub mtu: Option<u32>,
    /// DNS domain of the DHCP clients.
    pub domain: Option<DnsDomain>,
    /// MAC address of the bridge. Not given: libvirt's own choice is kept.
    pub mac: Option<String>,
    /// IP addresses of the host on the network, with their DHCP service.
    #[serde(default)]
    pub ips: Vec<Ip>,
    /// DNS service of the network (dnsmasq).
    pub dns: Option<Dns>,
    /// Port groups: named sets of VLAN and bandwidth settings guests can use.
    #[serde(default)]
    pub portgroups: Vec<Portgroup>,
    /// Static routes the host adds via guests on the network.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Allow stopping and starting a running network when a change needs it.
    /// Running guests' NICs are plugged back in afterwards.
    #[serde(default)]
    pub allow_restart: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Forward {
    /// Forward mode.
    pub mode: ForwardMode,
    /// Restrict forwarding to this host interface (nat, route, open), or the
    /// first interface of a macvtap pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<String>,
    /// Address and port ranges for NAT (O(forward.mode=nat) only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat: Option<Nat>,
    /// Host interfaces of a macvtap pool (bridge, private, vepa,
    /// passthrough), or those a nat/route network may use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<String>,
    /// SR-IOV physical function whose virtual functions form the pool
    /// (O(forward.mode=hostdev)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pf: Option<String>,
    /// PCI addresses (V(0000:02:10.0)) of the pool's devices
    /// (O(forward.mode=hostdev)), instead of O(forward.pf).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// Let libvirt detach the devices from the host driver
    /// (O(forward.mode=hostdev)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ForwardMode {
    /// NAT to the host's network (the guide's default network).
    Nat,
    /// Routed, no NAT.
    Route,
    /// Routed, and libvirt adds no firewall rules.
    Open,
    /// An existing host bridge (O(bridge.name)), or a macvtap pool in
    /// bridge mode (O(forward.interfaces)).
    Bridge,
    /// macvtap pool, private mode.
    Private,
    /// macvtap pool, VEPA mode.
    Vepa,
    /// macvtap pool, passthrough mode.
    Passthrough,
    /// SR-IOV virtual functions handed to guests as PCI devices.
    Hostdev,
}

impl ForwardMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ForwardMode::Nat => "nat",
            ForwardMode::Route => "route",
            ForwardMode::Open => "open",
            ForwardMode::Bridge => "bridge",
            ForwardMode::Private => "private",
            ForwardMode::Vepa => "vepa",
            ForwardMode::Passthrough => "passthrough",
            ForwardMode::Hostdev => "hostdev",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Nat {
    /// Public IPv4 addresses to NAT to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<AddressRange>,
    /// Source ports to NAT to. libvirt's default is 1024-65535.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<PortRange>,
    /// NAT IPv6 traffic too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressRange {
    /// First address.
    pub start: String,
    /// Last address.
    pub end: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortRange {
    /// First port.
    #[schemars(range(min = 1, max = 65535))]
    pub start: u16,
    /// Last port.
    #[schemars(range(min = 1, max = 65535))]
    pub end: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bridge {
    /// Bridge name (at most 15 bytes). Not given: libvirt picks one
    /// (virbrN) and it is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Spanning tree on the bridge. libvirt's default is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stp: Option<bool>,
    /// Forward delay in seconds. libvirt's default is 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsDomain {
    /// Domain name, for example V(example.lan).
    pub name: String,
    /// Answer queries for the domain locally only, never forward them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_only: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ip {
    /// The host's address on the network, for example V(192.168.100.1).
    pub address: String,
    /// Prefix length (V(24)). Give this or O(ips[].netmask).
    pub prefix: Option<u8>,
    /// IPv4 netmask (V(255.255.255.0)), instead of O(ips[].prefix).
    pub netmask: Option<String>,
    /// Address family. Not given: taken from O(ips[].address).
    pub family: Option<Family>,
    /// DHCP service on this subnet.
    pub dhcp: Option<Dhcp>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Ipv4,
    Ipv6,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dhcp {
    /// Address ranges handed out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<AddressRange>,
    /// Fixed addresses for known guests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<DhcpHost>,
    /// Network boot (IPv4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootp: Option<Bootp>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DhcpHost {
    /// The guest NIC's MAC address (IPv4). Give this or O(ips[].dhcp.hosts[].name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// The guest's host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The address it gets.
    pub ip: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bootp {
    /// Boot file name, for example V(pxelinux.0).
    pub file: String,
    /// TFTP server. Not given: the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    /// Run the DNS server at all. libvirt's default is yes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    /// Forward queries for names without a domain to the host's resolver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_plain_names: Option<bool>,
    /// Upstream servers, optionally per domain (the guide's DNS forwarders).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forwarders: Vec<DnsForwarder>,
    /// Static host records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<DnsHost>,
    /// SRV records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub srv: Vec<DnsSrv>,
    /// TXT records.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub txt: Vec<DnsTxt>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsForwarder {
    /// Upstream server address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// Only for this domain. With no O(dns.forwarders[].addr), the domain is
    /// answered locally and never forwarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsHost {
    /// The address.
    pub ip: String,
    /// Names that resolve to it.
    pub hostnames: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsSrv {
    /// Service name, for example V(ldap).
    pub service: String,
    /// V(tcp) or V(udp).
    pub protocol: SrvProtocol,
    /// Domain of the record. Not given: the network's domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Host name that provides the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Port of the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Priority (lower is preferred).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
    /// Weight among records of the same priority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u16>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SrvProtocol {
    Tcp,
    Udp,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsTxt {
    /// Record name.
    pub name: String,
    /// Record text.
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Portgroup {
    /// Port group name, as guests' interfaces refer to it.
    pub name: String,
    /// Used by interfaces that name no port group. At most one.
    #[serde(default)]
    pub default: bool,
    /// VLAN tags: hostdev and passthrough networks only (libvirt refuses
    /// them elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<Vlan>,
    /// Bandwidth limits of the group's interfaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<Bandwidth>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vlan {
    /// VLAN IDs.
    pub tags: Vec<VlanTag>,
    /// Trunk port (several tags, or one with O(portgroups[].vlan.trunk)).
    #[serde(default)]
    pub trunk: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VlanTag {
    /// VLAN ID, 0 to 4095.
    #[schemars(range(min = 0, max = 4095))]
    pub id: u16,
    /// Untagged traffic belongs to this VLAN (V(tagged) or V(untagged)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_mode: Option<NativeMode>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum NativeMode {
    Tagged,
    Untagged,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bandwidth {
    /// Into the guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound: Option<Rate>,
    /// Out of the guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<Rate>,
}

/// Rates in KiB/s, bursts in KiB, as libvirt's `<bandwidth>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Average rate, KiB/s.
    pub average: u64,
    /// Peak rate, KiB/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak: Option<u64>,
    /// Burst size, KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Destination network address.
    pub address: String,
    /// Destination prefix length.
    pub prefix: u8,
    /// Next hop (a guest on this network).
    pub gateway: String,
    /// Route metric (lower is preferred).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
}
