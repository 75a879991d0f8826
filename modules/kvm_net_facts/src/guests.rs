//! The libvirt side: networks (with their DHCP server and leases) and
//! domains with their NICs and addresses. Parsing the XML and dnsmasq's
//! lease file is pure; the rest asks libvirt and reads procfs.

use crate::facts::{Domain, DomainNic, Facts, Lease, NetAddress, Network};
use crate::host;
use kvmnet_core::libvirt::{AddressSource, Libvirt};
use kvmnet_core::xml::{child, children, pci_address};
use kvmnet_core::{Error, Result, validate};
use roxmltree::Document;
use std::path::PathBuf;

fn parse(xml: &str) -> Result<Document<'_>> {
    Document::parse(xml)
        .map_err(|e| Error::backend(format!("libvirt gave XML kvmnet cannot read: {e}")))
}

/// A network's definition as facts (no state: active, leases...).
pub fn parse_network(xml: &str) -> Result<Network> {
    let doc = parse(xml)?;
    let root = doc.root_element();
    let name = child(root, "name")
        .and_then(|n| n.text())
        .unwrap_or_default()
        .to_string();
    let forward = child(root, "forward");
    let forward_mode = match forward {
        None => "isolated".to_string(),
        Some(f) => f.attribute("mode").unwrap_or("nat").to_string(),
    };
    let mut forward_devices = Vec::new();
    if let Some(f) = forward {
        forward_devices.extend(f.attribute("dev").map(str::to_string));
        for i in children(f, "interface") {
            forward_devices.extend(i.attribute("dev").map(str::to_string));
        }
        for pf in children(f, "pf") {
            forward_devices.extend(pf.attribute("dev").map(str::to_string));
        }
        forward_devices.extend(children(f, "address").filter_map(pci_address));
        forward_devices.dedup();
    }
    let addresses = children(root, "ip")
        .filter_map(|ip| {
            let address = ip.attribute("address")?;
            let prefix = match ip.attribute("prefix") {
                Some(p) => p.parse().ok()?,
                None => ip
                    .attribute("netmask")
                    .and_then(|m| validate::netmask_prefix("netmask", m).ok())
                    .unwrap_or(if address.contains(':') { 64 } else { 24 }),
            };
            Some(NetAddress {
                cidr: format!("{address}/{prefix}"),
                dhcp: child(ip, "dhcp").is_some(),
            })
        })
        .collect();
    Ok(Network {
        name,
        forward_mode,
        bridge: child(root, "bridge")
            .and_then(|b| b.attribute("name"))
            .map(str::to_string),
        forward_devices,
        addresses,
        ..Network::default()
    })
}

/// A domain's NICs as its XML has them (no addresses yet), and whether
/// its guest agent is connected (live XML only says so).
pub fn parse_domain(xml: &str) -> Result<(Vec<DomainNic>, bool)> {
    let doc = parse(xml)?;
    let devices = doc
        .root_element()
        .children()
        .find(|c| c.has_tag_name("devices"));
    let Some(devices) = devices else {
        return Ok((Vec::new(), false));
    };
    let nics = children(devices, "interface")
        .map(|n| {
            let src = child(n, "source");
            let s = |k: &str| src.and_then(|s| s.attribute(k)).map(str::to_string);
            // A NIC on a libvirt network may show its actual type in the
            // live XML (a host-bridge network's NIC as type='bridge'); the
            // network attribute says what it was defined as.
            let kind = match s("network") {
                Some(_) => "network".to_string(),
                None => n.attribute("type").unwrap_or_default().to_string(),
            };
            let source = match kind.as_str() {
                "network" => s("network"),
                "bridge" => s("bridge"),
                "direct" => s("dev"),
                "hostdev" => src.and_then(|s| child(s, "address")).and_then(pci_address),
                _ => s("network").or_else(|| s("bridge")).or_else(|| s("dev")),
            };
            DomainNic {
                kind,
                source,
                model: child(n, "model")
                    .and_then(|m| m.attribute("type"))
                    .map(str::to_string),
                mac: child(n, "mac")
                    .and_then(|m| m.attribute("address"))
                    .map(str::to_ascii_lowercase),
                tap: child(n, "target")
                    .and_then(|t| t.attribute("dev"))
                    .map(str::to_string),
                link_state: child(n, "link")
                    .and_then(|l| l.attribute("state"))
                    .unwrap_or("up")
                    .to_string(),
                ..DomainNic::default()
            }
        })
        .collect();
    let agent = children(devices, "channel").any(|c| {
        child(c, "target").is_some_and(|t| {
            t.attribute("name") == Some("org.qemu.guest_agent.0")
                && t.attribute("state") == Some("connected")
        })
    });
    Ok((nics, agent))
}

/// libvirt's lease file for a network (`<bridge>.status`, written by its
/// leases helper): a JSON array of leases.
pub fn parse_leases(text: &str) -> Vec<Lease> {
    let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| {
            Some(Lease {
                mac: l.get("mac-address")?.as_str()?.to_ascii_lowercase(),
                ip: l.get("ip-address")?.as_str()?.to_string(),
                hostname: l
                    .get("hostname")
                    .and_then(|h| h.as_str())
                    .map(str::to_string),
                expiry_time: l.get("expiry-time").and_then(|e| e.as_u64()).unwrap_or(0),
            })
        })
        .collect()
}

/// A dnsmasq libvirt runs for a network in this network namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dnsmasq {
    /// The network's name: its config is `<dir>/<network>.conf`.
    network: String,
    pid: u32,
    /// The directory of its config, where libvirt keeps the lease file.
    dir: PathBuf,
}

/// libvirt's dnsmasqs in this network namespace (another namespace's
/// libvirt may have networks of the same names), found by their command
/// lines, `--conf-file=<dir>/<network>.conf`: one walk of /proc per run.
fn libvirt_dnsmasqs() -> Vec<Dnsmasq> {
    let Ok(own_ns) = std::fs::read_link("/proc/self/ns/net") else {
        return Vec::new();
    };
    let Ok(proc) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    proc.flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if !args.first()?.ends_with("dnsmasq") {
                return None;
            }
            let conf = PathBuf::from(args.iter().find_map(|a| a.strip_prefix("--conf-file="))?);
            if std::fs::read_link(entry.path().join("ns/net")).ok()? != own_ns {
                return None;
            }
            Some(Dnsmasq {
                network: conf.file_stem()?.to_string_lossy().into_owned(),
                pid,
                dir: conf.parent()?.to_path_buf(),
            })
        })
        .collect()
}

/// Fill the libvirt part of `facts`; `local`: libvirt runs on this host
/// (its dnsmasq and lease files can be looked at).
pub fn gather(facts: &mut Facts, lv: &Libvirt, local: bool) -> Result<()> {
    let dnsmasqs = if local {
        libvirt_dnsmasqs()
    } else {
        Vec::new()
    };
    for name in lv.network_names()? {
        let Some(info) = lv.network(&name)? else {
            continue;
        };
        let xml = info.live_xml.as_deref().unwrap_or(&info.inactive_xml);
        let mut net = parse_network(xml)?;
        net.active = info.live_xml.is_some();
        net.autostart = info.autostart;
        if net.active && local && net.addresses.iter().any(|a| a.dhcp) {
            let dnsmasq = dnsmasqs.iter().find(|d| d.network == name);
            net.dhcp_running = Some(dnsmasq.is_some());
            if let (Some(d), Some(bridge)) = (dnsmasq, &net.bridge) {
                // Through the process's root: libvirt's files as dnsmasq
                // sees them, also when libvirtd runs in a mount namespace.
                let file = PathBuf::from(format!("/proc/{}/root", d.pid))
                    .join(d.dir.strip_prefix("/").unwrap_or(&d.dir))
                    .join(format!("{bridge}.status"));
                net.leases = parse_leases(&std::fs::read_to_string(file).unwrap_or_default());
            }
        }
        facts.networks.push(net);
    }
    let arp = if local { host::arp_table() } else { Vec::new() };
    for d in lv.domains()? {
        let (mut nics, agent) = parse_domain(&d.xml)?;
        if d.running {
            let mut sources = vec![("lease", AddressSource::Lease)];
            if agent {
                sources.push(("agent", AddressSource::Agent));
            }
            let found: Vec<(&str, Vec<(String, String)>)> = sources
                .into_iter()
                // A source libvirt cannot read finds nothing; the others
                // still count.
                .map(|(n, s)| (n, lv.domain_addresses(&d.name, s).unwrap_or_default()))
                .chain(std::iter::once(("arp", arp.clone())))
                .collect();
            for nic in &mut nics {
                let Some(mac) = nic.mac.clone() else { continue };
                for (source, addrs) in &found {
                    let ips: Vec<String> = addrs
                        .iter()
                        .filter(|(m, _)| *m == mac)
                        .map(|(_, ip)| ip.clone())
                        .collect();
                    if !ips.is_empty() {
                        nic.ips = ips;
                        nic.ip_source = Some(source.to_string());
                        break;
                    }
                }
            }
        }
        facts.domains.push(Domain {
            name: d.name,
            running: d.running,
            nics,
        });
    }
    Ok(())
}

/// Join the two sides: each running NIC's bridge is its tap's master in
/// the kernel, and each bridge port that is a tap names its domain.
pub fn link_taps(facts: &mut Facts) {
    for d in facts.domains.iter_mut().filter(|d| d.running) {
        for nic in &mut d.nics {
            let Some(tap) = &nic.tap else { continue };
            let master = facts
                .interfaces
                .iter()
                .find(|i| &i.name == tap)
                .and_then(|i| i.master.clone());
            nic.bridge = master.filter(|m| facts.bridges.iter().any(|b| &b.name == m));
            for b in &mut facts.bridges {
                for p in b.ports.iter_mut().filter(|p| &p.name == tap) {
                    p.domain = Some(d.name.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nat_network_with_dhcp() {
        let n = parse_network(
            "<network><name>default</name><forward mode='nat'><nat><port start='1024' end='65535'/></nat></forward>\
             <bridge name='virbr0' stp='on' delay='0'/><ip address='192.168.122.1' netmask='255.255.255.0'>\
             <dhcp><range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip>\
             <ip family='ipv6' address='fd00::1' prefix='64'/></network>",
        )
        .unwrap();
        assert_eq!(n.name, "default");
        assert_eq!(n.forward_mode, "nat");
        assert_eq!(n.bridge.as_deref(), Some("virbr0"));
        assert_eq!(
            n.addresses,
            [
                NetAddress {
                    cidr: "192.168.122.1/24".into(),
                    dhcp: true
                },
                NetAddress {
                    cidr: "fd00::1/64".into(),
                    dhcp: false
                },
            ]
        );
    }

    #[test]
    fn isolated_macvtap_and_hostdev_networks() {
        let iso =
            parse_network("<network><name>i</name><bridge name='virbr9'/></network>").unwrap();
        assert_eq!(iso.forward_mode, "isolated");
        let mv = parse_network(
            "<network><name>m</name><forward mode='bridge'><interface dev='eth1'/><interface dev='eth2'/></forward></network>",
        )
        .unwrap();
        assert_eq!(
            (mv.forward_mode.as_str(), mv.forward_devices.clone()),
            ("bridge", vec!["eth1".to_string(), "eth2".to_string()])
        );
        let hd = parse_network(
            "<network><name>h</name><forward mode='hostdev' managed='yes'><pf dev='enp1s0'/>\
             <address type='pci' domain='0x0000' bus='0x01' slot='0x10' function='0x1'/></forward></network>",
        )
        .unwrap();
        assert_eq!(hd.forward_devices, ["enp1s0", "0000:01:10.1"]);
    }

    #[test]
    fn domain_nics_of_every_type_and_the_agent() {
        let (nics, agent) = parse_domain(
            "<domain><name>g</name><devices>\
             <interface type='network'><mac address='52:54:00:AA:00:01'/><source network='default' bridge='virbr0'/><target dev='vnet0'/><model type='virtio'/></interface>\
             <interface type='bridge'><mac address='52:54:00:aa:00:02'/><source bridge='br0'/><model type='e1000'/><link state='down'/></interface>\
             <interface type='direct'><source dev='eth1' mode='bridge'/><target dev='macvtap0'/></interface>\
             <interface type='hostdev'><source><address type='pci' domain='0x0000' bus='0x01' slot='0x10' function='0x2'/></source></interface>\
             <interface type='user'><mac address='52:54:00:aa:00:05'/></interface>\
             <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0' state='connected'/></channel>\
             </devices></domain>",
        )
        .unwrap();
        assert!(agent);
        let summary: Vec<(String, Option<String>, Option<String>, String)> = nics
            .iter()
            .map(|n| {
                (
                    n.kind.clone(),
                    n.source.clone(),
                    n.model.clone(),
                    n.link_state.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "network".into(),
                    Some("default".into()),
                    Some("virtio".into()),
                    "up".into()
                ),
                (
                    "bridge".into(),
                    Some("br0".into()),
                    Some("e1000".into()),
                    "down".into()
                ),
                ("direct".into(), Some("eth1".into()), None, "up".into()),
                (
                    "hostdev".into(),
                    Some("0000:01:10.2".into()),
                    None,
                    "up".into()
                ),
                ("user".into(), None, None, "up".into()),
            ]
        );
        assert_eq!(nics[0].mac.as_deref(), Some("52:54:00:aa:00:01"));
        assert_eq!(nics[0].tap.as_deref(), Some("vnet0"));
    }

    #[test]
    fn an_agent_channel_that_is_not_connected_is_not_asked() {
        let (_, agent) = parse_domain(
            "<domain><devices><channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0' state='disconnected'/></channel></devices></domain>",
        )
        .unwrap();
        assert!(!agent);
    }

    #[test]
    fn leases_from_libvirts_status_file() {
        let leases = parse_leases(
            r#"[{"ip-address":"192.168.122.50","mac-address":"52:54:00:AA:00:01","hostname":"web","expiry-time":1800000000},
                {"ip-address":"192.168.122.51","mac-address":"52:54:00:aa:00:02","expiry-time":1800000001}]"#,
        );
        assert_eq!(leases.len(), 2);
        assert_eq!(leases[0].mac, "52:54:00:aa:00:01");
        assert_eq!(leases[0].hostname.as_deref(), Some("web"));
        assert_eq!(leases[1].hostname, None);
        assert!(parse_leases("").is_empty());
    }
}
