//! Which libvirt guests hold VFs of a PF: a running domain's hostdev NIC
//! or PCI hostdev at a VF's address, its macvtap NIC (type direct) on a
//! VF's netdev, or its NIC on a hostdev network (a VF pool) of this PF —
//! libvirt picks the VF itself there, so such a guest holds "a VF" and
//! counts for all of them.

use kvmnet_core::Result;
use kvmnet_core::libvirt::Libvirt;

/// A guest and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub domain: String,
    /// The VF's PCI address, or None for "a VF of the pool".
    pub pci: Option<String>,
    /// How: "hostdev", "macvtap on <netdev>", "network <name>".
    pub how: String,
}

/// What a domain's live XML uses of the host's devices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Uses {
    /// PCI addresses passed through.
    pub pci: Vec<String>,
    /// Networks its NICs are on.
    pub networks: Vec<String>,
    /// Host NICs its macvtap NICs sit on.
    pub direct: Vec<String>,
}

pub fn domain_devices(xml: &str) -> Uses {
    let Ok(doc) = roxmltree::Document::parse(xml) else {
        return Uses::default();
    };
    let mut pci = Vec::new();
    let mut networks = Vec::new();
    let mut direct = Vec::new();
    for dev in doc.descendants().filter(|n| {
        (n.has_tag_name("interface") || n.has_tag_name("hostdev"))
            && n.parent().is_some_and(|p| p.has_tag_name("devices"))
    }) {
        for src in dev.children().filter(|c| c.has_tag_name("source")) {
            if let Some(net) = src.attribute("network") {
                networks.push(net.to_string());
            }
            if dev.attribute("type") == Some("direct") {
                direct.extend(src.attribute("dev").map(str::to_string));
            }
            pci.extend(
                src.children()
                    .filter(|a| a.has_tag_name("address"))
                    .filter_map(kvmnet_core::xml::pci_address),
            );
        }
    }
    Uses {
        pci,
        networks,
        direct,
    }
}

/// Whether a network's XML is a hostdev pool of the PF `pf` (by netdev).
pub fn is_pool_of(network_xml: &str, pf: &str) -> bool {
    let Ok(doc) = roxmltree::Document::parse(network_xml) else {
        return false;
    };
    doc.descendants()
        .find(|n| n.has_tag_name("forward"))
        .is_some_and(|f| {
            f.attribute("mode") == Some("hostdev")
                && f.children()
                    .any(|c| c.has_tag_name("pf") && c.attribute("dev") == Some(pf))
        })
}

/// The guests holding VFs of `pf`: `vfs` are (PCI address, netdev).
pub fn holders(lv: &Libvirt, pf: &str, vfs: &[(String, Option<String>)]) -> Result<Vec<Holder>> {
    let mut out = Vec::new();
    for d in lv.running_domains()? {
        let uses = domain_devices(&d.live_xml);
        for (pci, netdev) in vfs {
            if uses.pci.contains(pci) {
                out.push(Holder {
                    domain: d.name.clone(),
                    pci: Some(pci.clone()),
                    how: "hostdev".into(),
                });
            }
            if let Some(n) = netdev.as_ref().filter(|n| uses.direct.contains(n)) {
                out.push(Holder {
                    domain: d.name.clone(),
                    pci: Some(pci.clone()),
                    how: format!("macvtap on {n}"),
                });
            }
        }
        for n in uses.networks {
            let pool = lv
                .network(&n)?
                .and_then(|i| i.live_xml)
                .is_some_and(|x| is_pool_of(&x, pf));
            if pool {
                out.push(Holder {
                    domain: d.name.clone(),
                    pci: None,
                    how: format!("hostdev network {n}"),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostdev_addresses_and_networks_of_a_domain() {
        let xml = "<domain><devices>\
            <interface type='hostdev' managed='yes'><source><address type='pci' domain='0x0000' bus='0x01' slot='0x10' function='0x2'/></source><address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></interface>\
            <hostdev mode='subsystem' type='pci'><source><address domain='0x0000' bus='0x01' slot='0x10' function='0x4'/></source></hostdev>\
            <interface type='network'><source network='vf-pool'/></interface>\
            <interface type='direct'><source dev='enp1s0v3' mode='passthrough'/></interface>\
            </devices></domain>";
        let uses = domain_devices(xml);
        assert_eq!(
            uses.pci,
            ["0000:01:10.2", "0000:01:10.4"],
            "the guest-side address is not a VF"
        );
        assert_eq!(uses.networks, ["vf-pool"]);
        assert_eq!(uses.direct, ["enp1s0v3"]);
        assert!(is_pool_of(
            "<network><forward mode='hostdev' managed='yes'><pf dev='enp1s0'/></forward></network>",
            "enp1s0"
        ));
        assert!(!is_pool_of(
            "<network><forward mode='nat'/></network>",
            "enp1s0"
        ));
    }
}
