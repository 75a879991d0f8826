//! The task's options; doc comments are the module's documentation.

pub use kvmnet_core::PresentAbsent;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Make one network interface of a libvirt domain match the task, in the
/// running guest and in its persistent definition.
///
/// The NIC is found by O(mac) when given; otherwise by O(type) and
/// O(source), and the MAC address libvirt generated is returned. Each side
/// (live, persistent) is compared on what the task sets, and changed by the
/// least disruptive means: link state, bandwidth and the bridge or network
/// of a running NIC are updated in place (update-device); a NIC missing on
/// one side is attached there; a change libvirt cannot make in place on a
/// running guest (model, type, MTU, VLAN, a direct or hostdev source) needs
/// a detach and attach, which happens only with O(allow_reattach=true) and
/// is refused otherwise, naming what would need it. The persistent
/// definition alone is changed without that, as nothing running is
/// disturbed.
///
/// A live detach waits until the guest has released the device (it must
/// answer the hot-unplug); a timeout fails and says what each side holds.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The domain (guest) by name.
    pub domain: String,
    /// V(present) makes the NIC exist as the task says; V(absent) detaches
    /// it (found by O(mac), or by O(type) and O(source)).
    #[serde(default)]
    pub state: PresentAbsent,
    /// How the NIC reaches the host: a host bridge, a libvirt network, a
    /// macvtap device on a host NIC (V(direct)), or a PCI device (an SR-IOV
    /// virtual function) passed through (V(hostdev)). Required unless
    /// O(state=absent) with O(mac).
    #[serde(rename = "type")]
    pub kind: Option<NicType>,
    /// Where the NIC connects; which keys apply depends on O(type).
    pub source: Option<Source>,
    /// The NIC model the guest sees. V(virtio) unless given, as the KVM
    /// networking guide advises. Not for O(type=hostdev).
    pub model: Option<String>,
    /// The NIC's MAC address and identity. Without it the NIC is matched
    /// by O(type) and O(source).
    pub mac: Option<String>,
    /// Link state the guest sees: V(down) is a cable pulled out.
    pub link_state: Option<LinkState>,
    /// MTU of the NIC, 68 to 65535 (bridge and network NICs).
    #[schemars(range(min = 68, max = 65535))]
    pub mtu: Option<u32>,
    /// VLAN tags. libvirt applies them for hostdev NICs (SR-IOV VFs, one
    /// tag), for NICs on Open vSwitch, and on Linux host bridges from
    /// libvirt 11.1; elsewhere they are refused.
    pub vlan: Option<Vlan>,
    /// Quality of service: traffic shaping into and out of the guest.
    pub bandwidth: Option<Bandwidth>,
    /// Change the running guest. Default: when the domain runs.
    pub live: Option<bool>,
    /// Change the persistent definition. Default V(true).
    pub persistent: Option<bool>,
    /// Allow a detach and attach of a running guest's NIC for changes
    /// libvirt cannot make in place (the guest loses the NIC for a moment).
    #[serde(default)]
    pub allow_reattach: bool,
    /// Seconds to wait for a running guest to release a detached NIC.
    #[schemars(range(min = 1, max = 3600))]
    pub detach_timeout: Option<u32>,
    /// libvirt connection URI. Default: C(LIBVIRT_DEFAULT_URI), else
    /// C(qemu:///system).
    pub uri: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NicType {
    Bridge,
    Network,
    Direct,
    Hostdev,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// O(type=bridge): the host bridge, for example V(br0).
    pub bridge: Option<String>,
    /// O(type=network): the libvirt network, for example V(default).
    pub network: Option<String>,
    /// O(type=network): a port group of the network.
    pub portgroup: Option<String>,
    /// O(type=direct): the host NIC the macvtap device sits on.
    pub dev: Option<String>,
    /// O(type=direct): the macvtap mode.
    pub mode: Option<DirectMode>,
    /// O(type=hostdev): the PCI address of a virtual function, as
    /// V(0000:01:10.0).
    pub pci: Option<String>,
    /// O(type=hostdev): the physical function's netdev (with O(source.vf)),
    /// for example V(enp1s0).
    pub pf: Option<String>,
    /// O(type=hostdev): the virtual function's index on O(source.pf).
    pub vf: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DirectMode {
    Bridge,
    Vepa,
    Private,
    Passthrough,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    Up,
    Down,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vlan {
    /// VLAN IDs, 1 to 4094.
    pub tags: Vec<u16>,
    /// A trunk carries several tags; libvirt assumes one when there are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trunk: Option<bool>,
    /// The tag whose frames travel untagged (V(untagged)) or tagged
    /// (V(tagged)) as the native VLAN; one of O(vlan.tags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native: Option<u16>,
    /// How the native VLAN's frames travel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_mode: Option<NativeMode>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NativeMode {
    Tagged,
    Untagged,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bandwidth {
    /// Traffic into the guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound: Option<Rate>,
    /// Traffic out of the guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<Rate>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Average rate in KiB/s, 1 or more.
    #[schemars(range(min = 1))]
    pub average: u64,
    /// Peak rate in KiB/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak: Option<u64>,
    /// KiB that may burst at peak rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u64>,
}
