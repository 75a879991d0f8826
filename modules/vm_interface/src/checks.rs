//! The task checked on its own (which source keys go with which type,
//! what libvirt supports for that type) and against the host (the domain,
//! bridge, network, host NIC or virtual function it names).

use crate::model::{self, Source};
use crate::params::{NicType, Params};
use kvmnet_core::libvirt::Libvirt;
use kvmnet_core::{Error, PresentAbsent, Result, validate};
use std::path::Path;

/// The source keys each type takes.
fn keys_for(kind: NicType) -> &'static [&'static str] {
    match kind {
        NicType::Bridge => &["bridge"],
        NicType::Network => &["network", "portgroup"],
        NicType::Direct => &["dev", "mode"],
        NicType::Hostdev => &["pci", "pf", "vf"],
    }
}

/// The task's source as the place it names; the PCI address of a
/// `{pf, vf}` is looked up on this host.
pub fn source(p: &Params) -> Result<Option<Source>> {
    let Some(kind) = p.kind else {
        if p.source.is_some() {
            return Err(Error::invalid("source needs type"));
        }
        return Ok(None);
    };
    let s = p.source.clone().unwrap_or_default();
    let given: Vec<(&str, bool)> = vec![
        ("bridge", s.bridge.is_some()),
        ("network", s.network.is_some()),
        ("portgroup", s.portgroup.is_some()),
        ("dev", s.dev.is_some()),
        ("mode", s.mode.is_some()),
        ("pci", s.pci.is_some()),
        ("pf", s.pf.is_some()),
        ("vf", s.vf.is_some()),
    ];
    let allowed = keys_for(kind);
    for (key, set) in &given {
        if *set && !allowed.contains(key) {
            return Err(Error::invalid(format!(
                "source.{key} does not go with type {}: it takes source.{}",
                name(kind),
                allowed.join(", source.")
            )));
        }
    }
    let missing = |key: &str| Error::invalid(format!("type {} needs source.{key}", name(kind)));
    let src = match kind {
        NicType::Bridge => {
            let bridge = s.bridge.ok_or_else(|| missing("bridge"))?;
            validate::ifname("source.bridge", &bridge)?;
            Source::Bridge { bridge }
        }
        NicType::Network => Source::Network {
            network: s.network.ok_or_else(|| missing("network"))?,
            portgroup: s.portgroup,
        },
        NicType::Direct => {
            let dev = s.dev.ok_or_else(|| missing("dev"))?;
            validate::ifname("source.dev", &dev)?;
            Source::Direct {
                dev,
                mode: s.mode.unwrap_or(crate::params::DirectMode::Vepa),
            }
        }
        NicType::Hostdev => match (s.pci, s.pf, s.vf) {
            (Some(pci), None, None) => {
                let Some((d, b, sl, f)) = model::parse_pci(&pci) else {
                    return Err(Error::invalid(format!(
                        "source.pci: '{pci}' is not a PCI address, as in 0000:01:10.0"
                    )));
                };
                Source::Hostdev {
                    pci: format!("{d:04x}:{b:02x}:{sl:02x}.{f:x}"),
                }
            }
            (None, Some(pf), Some(vf)) => {
                validate::ifname("source.pf", &pf)?;
                Source::Hostdev {
                    pci: vf_address(&pf, vf)?,
                }
            }
            _ => {
                return Err(Error::invalid(
                    "type hostdev needs source.pci, or source.pf with source.vf",
                ));
            }
        },
    };
    Ok(Some(src))
}

fn name(kind: NicType) -> String {
    crate::model::lower(&kind)
}

/// The PCI address of virtual function `vf` of the physical NIC `pf`.
fn vf_address(pf: &str, vf: u32) -> Result<String> {
    let dev = Path::new("/sys/class/net").join(pf).join("device");
    if !dev.exists() {
        return Err(Error::not_found(format!(
            "source.pf: {pf} is not a PCI network device on this host"
        )));
    }
    let link = std::fs::read_link(dev.join(format!("virtfn{vf}"))).map_err(|_| {
        let total = std::fs::read_to_string(dev.join("sriov_numvfs")).unwrap_or_default();
        Error::not_yet(format!(
            "source.vf: {pf} has no virtual function {vf} ({} enabled; sriov_vfs enables them)",
            total.trim().parse::<u32>().unwrap_or(0)
        ))
    })?;
    Ok(link
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default())
}

/// What does not depend on the host.
pub fn check(p: &Params) -> Result<()> {
    if p.domain.is_empty() {
        return Err(Error::invalid("domain: must not be empty"));
    }
    if let Some(m) = &p.mac {
        validate::mac("mac", m)?;
    }
    if p.state == PresentAbsent::Absent {
        if p.mac.is_none() && p.kind.is_none() {
            return Err(Error::invalid(
                "state absent needs mac, or type and source, to find the NIC",
            ));
        }
        return Ok(());
    }
    let Some(kind) = p.kind else {
        return Err(Error::invalid("missing required arguments: type"));
    };
    if p.persistent == Some(false) && p.live == Some(false) {
        return Err(Error::invalid(
            "live and persistent are both false: nothing would be changed",
        ));
    }
    if kind == NicType::Hostdev {
        for (option, set) in [
            ("model", p.model.is_some()),
            ("mtu", p.mtu.is_some()),
            ("bandwidth", p.bandwidth.is_some()),
        ] {
            if set {
                return Err(Error::invalid(format!(
                    "{option} does not apply to type hostdev: the guest drives the virtual function itself"
                )));
            }
        }
    }
    if kind == NicType::Direct && p.mtu.is_some() {
        return Err(Error::invalid(
            "mtu does not apply to type direct: a macvtap device takes its NIC's MTU",
        ));
    }
    if let Some(m) = &p.model
        && (m.is_empty()
            || !m
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)))
    {
        return Err(Error::invalid(format!(
            "model: '{m}' is not a NIC model name"
        )));
    }
    if let Some(v) = &p.vlan {
        if v.tags.is_empty() {
            return Err(Error::invalid("vlan.tags: give at least one VLAN ID"));
        }
        for (i, t) in v.tags.iter().enumerate() {
            if !(1..=4094).contains(t) {
                return Err(Error::invalid(format!(
                    "vlan.tags[{i}]: {t} is not a VLAN ID (1 to 4094)"
                )));
            }
        }
        if let Some(n) = v.native
            && !v.tags.contains(&n)
        {
            return Err(Error::invalid(format!(
                "vlan.native: {n} is not one of vlan.tags"
            )));
        }
        if v.native_mode.is_some() != v.native.is_some() {
            return Err(Error::invalid(
                "vlan.native and vlan.native_mode go together",
            ));
        }
        match kind {
            NicType::Hostdev if v.tags.len() > 1 || v.trunk == Some(true) || v.native.is_some() => {
                return Err(Error::invalid(
                    "vlan: an SR-IOV virtual function takes one tag, no trunk and no native VLAN",
                ));
            }
            NicType::Hostdev | NicType::Bridge => {}
            NicType::Direct | NicType::Network => {
                return Err(Error::invalid(format!(
                    "vlan does not apply to type {}: libvirt tags NICs only of type hostdev and bridge (Open vSwitch, or a Linux bridge with libvirt 11.1 or later); for a network, give the VLAN to a port group of the network and use source.portgroup",
                    name(kind)
                )));
            }
        }
    }
    if let Some(b) = &p.bandwidth {
        for (option, r) in [("inbound", &b.inbound), ("outbound", &b.outbound)] {
            if let Some(r) = r
                && r.peak.is_some_and(|pk| pk < r.average)
            {
                return Err(Error::invalid(format!(
                    "bandwidth.{option}.peak: below the average rate"
                )));
            }
        }
    }
    Ok(())
}

/// What the task names must exist: the network through libvirt; the
/// bridge, host NIC and virtual function on this host, when libvirt is
/// local.
pub fn check_references(lv: &Libvirt, src: &Source) -> Result<()> {
    let local = kvmnet_core::libvirt::is_local(&lv.uri);
    match src {
        Source::Network { network, .. } if !lv.network_exists(network)? => {
            return Err(Error::not_yet(format!(
                "source.network: libvirt has no network {network}"
            )));
        }
        Source::Bridge { bridge } if local && !kvmnet_core::is_bridge(bridge) => {
            return Err(Error::not_yet(format!(
                "source.bridge: {bridge} is not a bridge on this host (make it with netplan_bridge)"
            )));
        }
        Source::Direct { dev, .. } if local && !kvmnet_core::netdev_exists(dev) => {
            return Err(Error::not_yet(format!(
                "source.dev: {dev} is not a network interface on this host"
            )));
        }
        Source::Hostdev { pci } if local => {
            let dev = Path::new("/sys/bus/pci/devices").join(pci);
            if !dev.exists() {
                return Err(Error::not_found(format!(
                    "source: there is no PCI device {pci} on this host"
                )));
            }
            if !dev.join("physfn").exists() {
                return Err(Error::invalid(format!(
                    "source: PCI device {pci} is not an SR-IOV virtual function; type hostdev NICs take VFs (sriov_vfs makes them)"
                )));
            }
        }
        _ => {}
    }
    Ok(())
}
