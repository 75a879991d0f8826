//! Keeping VFs across reboots, in exactly one place: a netplan file of the
//! module's own with the PF's `virtual-function-count` (netplan apply and
//! boot create the VFs), or a udev rule that sets the count and the VFs'
//! settings when the PF and each VF netdev appear. Rendering is pure.

use crate::params::{Persist, VfParams, VlanProto};
use kvmnet_core::{Mutation, Result, fs};
use std::path::{Path, PathBuf};

/// Our two files for a PF, under `root`.
pub fn netplan_file(root: &Path, pf: &str) -> PathBuf {
    root.join(format!("etc/netplan/60-kvmnet-sriov-{pf}.yaml"))
}

pub fn udev_file(root: &Path, pf: &str) -> PathBuf {
    root.join(format!("etc/udev/rules.d/70-kvmnet-sriov-{pf}.rules"))
}

pub fn render_netplan(pf: &str, num_vfs: u32) -> String {
    format!(
        "# Written by kvmnet.network.sriov_vfs: the VFs of {pf}.\n\
         network:\n  version: 2\n  ethernets:\n    {pf}:\n      virtual-function-count: {num_vfs}\n"
    )
}

/// `ip link set`'s arguments for the settings a VF lists; None when it
/// lists only its id (an `ip link set ... vf N` without settings fails).
fn ip_vf_args(v: &VfParams) -> Option<String> {
    let mut a = vec![];
    if let Some(m) = &v.mac {
        a.push(format!("mac {}", m.to_ascii_lowercase()));
    }
    if let Some(vlan) = v.vlan {
        a.push(format!("vlan {vlan}"));
        if let Some(q) = v.qos {
            a.push(format!("qos {q}"));
        }
        if v.vlan_proto == Some(VlanProto::Dot1Ad) {
            a.push("proto 802.1ad".into());
        }
    }
    if let Some(t) = v.trust {
        a.push(format!("trust {}", if t { "on" } else { "off" }));
    }
    if let Some(s) = v.spoofchk {
        a.push(format!("spoofchk {}", if s { "on" } else { "off" }));
    }
    if let Some(l) = v.link_state {
        a.push(format!("state {}", kvmnet_core::enum_name(&l)));
    }
    if let Some(r) = v.min_tx_rate {
        a.push(format!("min_tx_rate {r}"));
    }
    if let Some(r) = v.max_tx_rate {
        a.push(format!("max_tx_rate {r}"));
    }
    (!a.is_empty()).then(|| format!("vf {} {}", v.id, a.join(" ")))
}

/// Rules for the PF's netdev (matched by the PF's PCI address, whatever
/// its name): autoprobe and count as sysfs attributes, then each VF's
/// settings with `ip`, the PF found by the PCI address too.
///
/// Each VF's settings are set twice: when the PF appears (a VF without a
/// driver never gets a netdev), and again when that VF's own netdev is
/// added (`%k`, its kernel name, under the PF's `virtfnN`). The second is
/// needed because udev's RUN comes after its net_setup_link, which gives
/// a new VF netdev whose driver made a random MAC a MAC of its own
/// (systemd's MACAddressPolicy=persistent) — and igb takes that from a
/// trusted VF even over the MAC set on the PF (a guest test saw VF 1's
/// MAC replaced in 2 of 10 runs with the first line alone, 0 of 25 with
/// both).
pub fn render_udev(pf: &str, pci: &str, num_vfs: u32, autoprobe: bool, vfs: &[VfParams]) -> String {
    let pf_added = format!("ACTION==\"add\", SUBSYSTEM==\"net\", KERNELS==\"{pci}\"");
    let mut out = format!(
        "# Written by kvmnet.network.sriov_vfs: the VFs of {pf} ({pci}).\n\
         {pf_added}, ATTR{{device/sriov_drivers_autoprobe}}=\"{}\", ATTR{{device/sriov_numvfs}}=\"{num_vfs}\"\n",
        u8::from(autoprobe)
    );
    for v in vfs.iter().filter(|v| v.id < num_vfs) {
        let Some(args) = ip_vf_args(v) else { continue };
        let vf_added = format!(
            "ACTION==\"add\", SUBSYSTEM==\"net\", TEST==\"/sys/bus/pci/devices/{pci}/virtfn{}/net/%k\"",
            v.id
        );
        // `$$`: a `$` for the shell, not a udev substitution.
        let run = format!(
            "RUN+=\"/bin/sh -c 'ip link set dev $$(ls /sys/bus/pci/devices/{pci}/net) {args}'\""
        );
        out += &format!("{pf_added}, {run}\n{vf_added}, {run}\n");
    }
    out
}

/// What the module has written for this PF: (netplan, udev) contents.
pub fn observe(root: &Path, pf: &str) -> Result<(Option<String>, Option<String>)> {
    Ok((
        fs::read_optional(&netplan_file(root, pf))?,
        fs::read_optional(&udev_file(root, pf))?,
    ))
}

/// The contents each of our files should have.
pub fn desired(
    persist: Persist,
    pf: &str,
    pci: &str,
    num_vfs: u32,
    autoprobe: bool,
    vfs: &[VfParams],
) -> (Option<String>, Option<String>) {
    match persist {
        Persist::None => (None, None),
        Persist::Netplan => (Some(render_netplan(pf, num_vfs)), None),
        Persist::Udev => (None, Some(render_udev(pf, pci, num_vfs, autoprobe, vfs))),
    }
}

/// Write or remove one of our files (netplan's mode: 0600).
pub fn put(path: &Path, content: Option<&str>, mode: u32, token: &Mutation) -> Result<()> {
    match content {
        Some(c) => fs::write_atomic(path, c, mode, token),
        None => fs::remove(path, token),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udev_rule_sets_count_then_each_vf() {
        let vfs = [
            VfParams {
                id: 0,
                mac: Some("52:54:00:AA:00:01".into()),
                vlan: Some(42),
                trust: Some(true),
                spoofchk: Some(false),
                ..VfParams::default()
            },
            VfParams {
                id: 9,
                trust: Some(true),
                ..VfParams::default()
            },
            // Listed with no settings: no rule line.
            VfParams {
                id: 1,
                ..VfParams::default()
            },
        ];
        let rule = render_udev("enp1s0", "0000:01:00.0", 2, true, &vfs);
        assert_eq!(
            rule,
            "# Written by kvmnet.network.sriov_vfs: the VFs of enp1s0 (0000:01:00.0).\n\
ACTION==\"add\", SUBSYSTEM==\"net\", KERNELS==\"0000:01:00.0\", ATTR{device/sriov_drivers_autoprobe}=\"1\", ATTR{device/sriov_numvfs}=\"2\"\n\
ACTION==\"add\", SUBSYSTEM==\"net\", KERNELS==\"0000:01:00.0\", RUN+=\"/bin/sh -c 'ip link set dev $$(ls /sys/bus/pci/devices/0000:01:00.0/net) vf 0 mac 52:54:00:aa:00:01 vlan 42 trust on spoofchk off'\"\n\
ACTION==\"add\", SUBSYSTEM==\"net\", TEST==\"/sys/bus/pci/devices/0000:01:00.0/virtfn0/net/%k\", RUN+=\"/bin/sh -c 'ip link set dev $$(ls /sys/bus/pci/devices/0000:01:00.0/net) vf 0 mac 52:54:00:aa:00:01 vlan 42 trust on spoofchk off'\"\n"
        );
    }
}
