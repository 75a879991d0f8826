//! The task's options; doc comments are the module's documentation.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Enable SR-IOV virtual functions (VFs) on a physical NIC (the PF) and
/// set each VF as the task says.
///
/// The VF count is written to the PF's C(sriov_numvfs); the kernel takes a
/// new non-zero count only from zero, so a change from one non-zero count
/// to another goes through 0, which removes every VF and its settings (the
/// diff says so). Such a change, or a change of a VF's settings, is refused
/// while a libvirt guest holds an affected VF (a hostdev NIC or PCI device
/// of a running domain, or a NIC on a hostdev network of this PF), naming
/// the guests, unless O(force=true).
///
/// Per-VF settings are set over rtnetlink through the PF, as C(ip link set
/// <pf> vf N ...) does, and read back from the PF's VF list to verify.
/// Only the settings the task names are compared and changed.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The PF: its netdev name (V(enp1s0)) or PCI address (V(0000:01:00.0)).
    pub device: String,
    /// How many VFs the PF has. Default: as many as it has now.
    pub num_vfs: Option<u32>,
    /// Settings of single VFs; VFs not listed are left as they are.
    #[serde(default)]
    pub vfs: Vec<VfParams>,
    /// Whether the kernel binds VFs to their driver as they appear (they
    /// then get netdevs). V(false) leaves them unbound, for vfio-pci.
    pub drivers_autoprobe: Option<bool>,
    /// Make the VF count survive a reboot: V(netplan) writes
    /// C(virtual-function-count) for the PF in a netplan file of its own
    /// (C(/etc/netplan/60-kvmnet-sriov-<pf>.yaml); netplan apply creates
    /// the VFs), V(udev) a udev rule (C(/etc/udev/rules.d/70-kvmnet-sriov-<pf>.rules))
    /// that sets the count and the VFs' settings when the PF appears,
    /// V(none) removes either that the module wrote. Exactly one is kept.
    #[serde(default)]
    pub persist: Persist,
    /// Change VFs that libvirt guests hold (they lose their NIC).
    #[serde(default)]
    pub force: bool,
    /// Seconds to wait for new VFs (PCI functions, and netdevs when their
    /// driver binds) to appear.
    #[schemars(range(min = 1, max = 600))]
    pub wait_timeout: Option<u32>,
    /// Prefix of the files O(persist) writes; for tests and images.
    /// Default V(/).
    pub root_dir: Option<String>,
    /// libvirt connection URI, to find guests that hold VFs. Default:
    /// C(LIBVIRT_DEFAULT_URI), else C(qemu:///system). Without a reachable
    /// libvirtd, no guest is assumed to hold a VF.
    pub uri: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VfParams {
    /// The VF's index on the PF, from 0.
    pub id: u32,
    /// The VF's MAC address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// VLAN the PF tags the VF's traffic with, 0 to 4095 (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 4095))]
    pub vlan: Option<u32>,
    /// 802.1p priority of that VLAN, 0 to 7.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 7))]
    pub qos: Option<u32>,
    /// The VLAN's protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan_proto: Option<VlanProto>,
    /// Let the VF change its MAC and use promiscuous modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust: Option<bool>,
    /// Drop frames the VF sends with another source MAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spoofchk: Option<bool>,
    /// The VF's link: following the PF's (V(auto)), or forced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_state: Option<LinkState>,
    /// Guaranteed transmit rate, Mbit/s (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_tx_rate: Option<u32>,
    /// Transmit rate limit, Mbit/s (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tx_rate: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum VlanProto {
    #[serde(rename = "802.1Q")]
    Dot1Q,
    #[serde(rename = "802.1ad")]
    Dot1Ad,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    Auto,
    Enable,
    Disable,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Persist {
    #[default]
    None,
    Netplan,
    Udev,
}
