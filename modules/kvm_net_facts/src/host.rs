//! The host side, from the kernel: links over rtnetlink, what only sysfs
//! and procfs say (port STP states, SR-IOV counts, ip_forward, the ARP
//! table). Read-only.

use crate::facts::{Bond, Bridge, BridgePort, Facts, Interface, SriovPf, Vf, Vlan};
use kvmnet_core::Result;
use kvmnet_core::netlink::{BOND_MODES, Kernel, Link};
use std::path::Path;

/// A bridge port's STP state by number (BR_STATE_*).
fn port_state(n: u32) -> &'static str {
    match n {
        0 => "disabled",
        1 => "listening",
        2 => "learning",
        3 => "forwarding",
        4 => "blocking",
        _ => "unknown",
    }
}

fn sys_read(path: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn sys_number(path: impl AsRef<Path>) -> Option<u32> {
    sys_read(path)?.parse().ok()
}

/// Fill the host's part of `facts`.
pub fn gather(facts: &mut Facts) -> Result<()> {
    let kernel = Kernel::read()?;
    let name = |i: Option<u32>| i.and_then(|i| kernel.name_of(i)).map(str::to_string);
    let mut links: Vec<&Link> = kernel.links.iter().filter(|l| l.name != "lo").collect();
    links.sort_by(|a, b| a.name.cmp(&b.name));
    facts.ip_forward = sys_read("/proc/sys/net/ipv4/ip_forward").as_deref() == Some("1");
    for l in &links {
        let stacked = matches!(
            l.kind.as_deref(),
            Some("vlan" | "macvlan" | "macvtap" | "ipvlan")
        );
        facts.interfaces.push(Interface {
            name: l.name.clone(),
            kind: l.kind.clone().unwrap_or_else(|| "nic".to_string()),
            mac: l.mac.clone(),
            mtu: l.mtu,
            up: l.up,
            carrier: l.oper_up,
            promisc: l.promisc,
            master: name(l.master),
            parent: if stacked { name(l.parent) } else { None },
            rx_dropped: l.rx_dropped,
            tx_dropped: l.tx_dropped,
        });
        if let Some(b) = &l.bridge {
            facts.bridges.push(Bridge {
                name: l.name.clone(),
                stp: b.stp_state != 0,
                forward_delay: f64::from(b.forward_delay) / 100.0,
                ports: kernel
                    .members_of(l)
                    .iter()
                    .map(|p| BridgePort {
                        name: p.name.clone(),
                        state: sys_number(format!("/sys/class/net/{}/brport/state", p.name))
                            .map_or("unknown", port_state)
                            .to_string(),
                        domain: None,
                    })
                    .collect(),
            });
        }
        if let Some(b) = &l.bond {
            facts.bonds.push(Bond {
                name: l.name.clone(),
                mode: BOND_MODES
                    .get(usize::from(b.mode))
                    .map_or_else(|| b.mode.to_string(), |m| m.to_string()),
                members: kernel
                    .members_of(l)
                    .iter()
                    .map(|m| m.name.clone())
                    .collect(),
                active: name(b.active.filter(|a| *a != 0)),
            });
        }
        if let (Some(id), Some(parent)) = (l.vlan_id, name(l.parent)) {
            facts.vlans.push(Vlan {
                name: l.name.clone(),
                id,
                parent,
            });
        }
        if let Some(pf) = sriov_pf(&l.name) {
            facts.sriov.push(pf);
        }
    }
    Ok(())
}

/// The interface as an SR-IOV physical function, when it can have VFs.
fn sriov_pf(name: &str) -> Option<SriovPf> {
    let dev = Path::new("/sys/class/net").join(name).join("device");
    let total_vfs = sys_number(dev.join("sriov_totalvfs")).filter(|t| *t > 0)?;
    let num_vfs = sys_number(dev.join("sriov_numvfs")).unwrap_or(0);
    let pci = std::fs::canonicalize(&dev)
        .ok()?
        .file_name()?
        .to_string_lossy()
        .into_owned();
    let vfs = (0..num_vfs)
        .filter_map(|index| {
            let dir = dev.join(format!("virtfn{index}"));
            let pci = std::fs::canonicalize(&dir)
                .ok()?
                .file_name()?
                .to_string_lossy()
                .into_owned();
            let interface = std::fs::read_dir(dir.join("net"))
                .ok()
                .and_then(|d| d.filter_map(|e| e.ok()).next())
                .map(|e| e.file_name().to_string_lossy().into_owned());
            Some(Vf {
                index,
                pci,
                interface,
            })
        })
        .collect();
    Some(SriovPf {
        name: name.to_string(),
        pci,
        total_vfs,
        num_vfs,
        vfs,
    })
}

/// The host's ARP table (`/proc/net/arp`): complete entries as (MAC, IP).
pub fn arp_table() -> Vec<(String, String)> {
    parse_arp(&sys_read("/proc/net/arp").unwrap_or_default())
}

/// `/proc/net/arp`: a header line, then `IP HWtype Flags HWaddress Mask
/// Device`; flags 0x0 is an incomplete entry.
pub fn parse_arp(text: &str) -> Vec<(String, String)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4 && f[2] != "0x0").then(|| (f[3].to_ascii_lowercase(), f[0].to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_entries_without_the_incomplete_ones() {
        let text = "IP address       HW type     Flags       HW address            Mask     Device\n\
                    10.0.0.5         0x1         0x2         52:54:00:AA:bb:01     *        virbr0\n\
                    10.0.0.6         0x1         0x0         00:00:00:00:00:00     *        virbr0\n";
        assert_eq!(
            parse_arp(text),
            [("52:54:00:aa:bb:01".to_string(), "10.0.0.5".to_string())]
        );
    }
}
