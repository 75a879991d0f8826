//! The task's options; doc comments are the module's documentation.
//!
//! Each enumeration lists its values in the kernel's order (`enum` values
//! of `include/uapi/linux/if_bonding.h` and `bond_options.c`), so a value's
//! position is what rtnetlink reports.

pub use kvmnet_core::PresentAbsent;
/// A value's name as the task and netplan spell it.
pub use kvmnet_core::enum_name as name_of;
pub use kvmnet_core::netplan_device::{Nameservers, Route};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Manage one Linux bond in netplan: its members, every bond parameter
/// netplan knows, addresses, routes and DNS, in a netplan file of its own.
///
/// Parameters are checked against the mode and against each other before
/// anything is written (C(lacp_rate) only in V(802.3ad), C(primary) only
/// where a bond has an active member, ARP and MII monitoring not mixed,
/// delays in multiples of the MII interval...). The file is validated with
/// C(netplan generate) and written atomically with mode 0600. With
/// O(apply=true), C(netplan apply) runs only when the file changed or the
/// kernel differs; the bond is then read back over rtnetlink (mode,
/// members, every parameter the task sets, the active member) and, when
/// that fails or the SSH connection Ansible runs over would be cut, the
/// previous file is put back and applied again.
///
/// networkd sets a bond's parameters only when it creates the bond, and
/// the kernel changes a bond's mode only without members: when the running
/// bond's parameters differ from the task, the module deletes the bond
/// first and networkd creates it anew (the actions and diff say so).
/// Members no longer in the task are released from the bond.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The bond's interface name, for example V(bond0).
    pub name: String,
    /// V(present) defines the bond; V(absent) removes the module's file
    /// and, with O(apply=true), deletes the bond from the kernel (netplan
    /// alone leaves it behind), which releases its members.
    #[serde(default)]
    pub state: PresentAbsent,
    /// The bond's members (NICs). Each gets a stanza without addresses or
    /// DHCP in this module's file.
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// Static addresses with prefix, for example V(192.168.1.10/24). For a
    /// bond that is a bridge's port (the guide's bonded bridge), leave
    /// addresses to the bridge.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// DHCP for IPv4 on the bond.
    pub dhcp4: Option<bool>,
    /// DHCP for IPv6 on the bond.
    pub dhcp6: Option<bool>,
    /// Static routes via the bond.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// DNS servers and search domains.
    pub nameservers: Option<Nameservers>,
    /// MTU of the bond, 68 to 65535.
    #[schemars(range(min = 68, max = 65535))]
    pub mtu: Option<u32>,
    /// MAC address of the bond.
    pub macaddress: Option<String>,
    /// Bond parameters, with netplan's names in snake_case. Times are in
    /// milliseconds, except O(parameters.learn_packet_interval) (seconds).
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

/// netplan's bond parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Parameters {
    /// The bonding mode. netplan's default is V(balance-rr).
    pub mode: Option<Mode>,
    /// How often the LACP partner is asked to send LACPDUs: V(slow) every
    /// 30 s, V(fast) every second. V(802.3ad) only.
    pub lacp_rate: Option<LacpRate>,
    /// Milliseconds between MII (carrier) checks of the members; V(0)
    /// disables MII monitoring.
    pub mii_monitor_interval: Option<u32>,
    /// Members that must be up for the bond to be up. V(802.3ad) only.
    pub min_links: Option<u32>,
    /// How traffic is spread over the members. V(balance-xor), V(802.3ad)
    /// and V(balance-tlb) only.
    pub transmit_hash_policy: Option<TransmitHashPolicy>,
    /// Which aggregator is active. V(802.3ad) only.
    pub ad_select: Option<AdSelect>,
    /// Deliver duplicate frames received on inactive members too.
    pub all_members_active: Option<bool>,
    /// Milliseconds between ARP checks; V(0) disables ARP monitoring. Not
    /// with MII monitoring, and not in V(802.3ad), V(balance-tlb) or
    /// V(balance-alb). Needs O(parameters.arp_ip_targets).
    pub arp_interval: Option<u32>,
    /// IPv4 addresses the ARP monitor asks, at most 16.
    pub arp_ip_targets: Option<Vec<String>>,
    /// Which members' ARP replies are validated. Needs
    /// O(parameters.arp_interval).
    pub arp_validate: Option<ArpValidate>,
    /// Whether one (V(any)) or every (V(all)) ARP target must answer for a
    /// member to be up. Needs O(parameters.arp_interval).
    pub arp_all_targets: Option<ArpAllTargets>,
    /// Milliseconds to wait before using a member that came up; a multiple
    /// of O(parameters.mii_monitor_interval).
    pub up_delay: Option<u32>,
    /// Milliseconds to wait before dropping a member that went down; a
    /// multiple of O(parameters.mii_monitor_interval).
    pub down_delay: Option<u32>,
    /// How the bond's and members' MAC addresses are set on failover.
    /// V(active-backup) only.
    pub fail_over_mac_policy: Option<FailOverMacPolicy>,
    /// Peer notifications (gratuitous ARPs) after a failover, 1 to 255.
    /// V(active-backup) only.
    #[schemars(range(min = 1, max = 255))]
    pub gratuitous_arp: Option<u32>,
    /// Packets sent through a member before moving to the next, 0 to 65535
    /// (0: a random member). V(balance-rr) only.
    #[schemars(range(min = 0, max = 65535))]
    pub packets_per_member: Option<u32>,
    /// When the primary becomes active again after it comes back. Needs
    /// O(parameters.primary).
    pub primary_reselect_policy: Option<PrimaryReselectPolicy>,
    /// IGMP membership reports after a failover, 0 to 255. V(balance-rr),
    /// V(active-backup), V(balance-tlb) and V(balance-alb) only.
    #[schemars(range(min = 0, max = 255))]
    pub resend_igmp: Option<u32>,
    /// Seconds between learning packets to each member, 1 to 2147483647.
    /// V(balance-tlb) and V(balance-alb) only.
    #[schemars(range(min = 1, max = 2147483647))]
    pub learn_packet_interval: Option<u32>,
    /// The member that is active whenever it is up; one of O(interfaces).
    /// V(active-backup), V(balance-tlb) and V(balance-alb) only.
    pub primary: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Mode {
    /// Round robin over the members.
    #[default]
    #[serde(rename = "balance-rr")]
    BalanceRr,
    /// One member carries traffic; another takes over when it fails.
    #[serde(rename = "active-backup")]
    ActiveBackup,
    /// A hash of the frame picks the member.
    #[serde(rename = "balance-xor")]
    BalanceXor,
    /// Every frame on every member.
    #[serde(rename = "broadcast")]
    Broadcast,
    /// IEEE 802.3ad dynamic link aggregation (LACP); needs a switch that
    /// speaks it.
    #[serde(rename = "802.3ad")]
    Lacp,
    /// Adaptive transmit load balancing.
    #[serde(rename = "balance-tlb")]
    BalanceTlb,
    /// Adaptive load balancing, receive too.
    #[serde(rename = "balance-alb")]
    BalanceAlb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LacpRate {
    Slow,
    Fast,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum TransmitHashPolicy {
    #[serde(rename = "layer2")]
    Layer2,
    #[serde(rename = "layer3+4")]
    Layer34,
    #[serde(rename = "layer2+3")]
    Layer23,
    #[serde(rename = "encap2+3")]
    Encap23,
    #[serde(rename = "encap3+4")]
    Encap34,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AdSelect {
    Stable,
    Bandwidth,
    Count,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ArpValidate {
    None,
    Active,
    Backup,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ArpAllTargets {
    Any,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailOverMacPolicy {
    None,
    Active,
    Follow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PrimaryReselectPolicy {
    Always,
    Better,
    Failure,
}
