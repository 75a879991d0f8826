//! From the task to a [`Forward`]: the options checked on their own
//! ([`checked`], pure), then against libvirt: the network's bridge and
//! subnet, the guest's address, the firewall libvirt uses.

use crate::firewall::{self, Listings};
use crate::params::{Backend, Params};
use crate::rules::{Cidr, Firewall, Forward, Ports};
use kvmnet_core::libvirt::{AddressSource, Libvirt};
use kvmnet_core::{Error, Result, validate};
use std::net::Ipv4Addr;

/// What the task says, checked, before libvirt is asked anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub network: String,
    pub host_ports: Ports,
    pub dest_ports: Ports,
    pub dest: Option<Ipv4Addr>,
    pub host_address: Option<Ipv4Addr>,
    pub sources: Vec<Cidr>,
}

/// A forward's name goes into rule comments and a file name.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "name: '{name}' must be 1 to 32 letters, digits, '_', '.' or '-' (not starting with '.')"
        )))
    }
}

fn ipv4(option: &str, text: &str) -> Result<Ipv4Addr> {
    match validate::ip(option, text)? {
        std::net::IpAddr::V4(a) => Ok(a),
        std::net::IpAddr::V6(_) => Err(Error::invalid(format!(
            "{option}: '{text}' is IPv6; forwards are IPv4 (libvirt NATs IPv4 only)"
        ))),
    }
}

/// The options on their own, every problem at once.
pub fn checked(p: &Params) -> Result<Task> {
    let mut errors = Vec::new();
    let mut note = |r: std::result::Result<(), String>| {
        if let Err(e) = r {
            errors.push(e)
        }
    };
    if let Err(e) = check_name(&p.name) {
        note(Err(e.msg));
    }
    let mut missing = Vec::new();
    if p.host_port.is_none() {
        missing.push("host_port");
    }
    if p.network.is_none() {
        missing.push("network");
    }
    if !missing.is_empty() {
        note(Err(format!(
            "state is present but all of the following are missing: {}",
            missing.join(", ")
        )));
    }
    match (&p.dest, &p.domain) {
        (None, None) => note(Err("one of the following is required: dest, domain".into())),
        (Some(_), Some(_)) => note(Err("parameters are mutually exclusive: dest|domain".into())),
        _ => {}
    }
    let host_ports = p
        .host_port
        .as_deref()
        .map(|t| Ports::parse("host_port", t))
        .transpose()
        .unwrap_or_else(|e| {
            errors.push(e);
            None
        });
    let dest_ports = p
        .dest_port
        .as_deref()
        .map(|t| Ports::parse("dest_port", t))
        .transpose()
        .unwrap_or_else(|e| {
            errors.push(e);
            None
        });
    if let (Some(h), Some(d)) = (host_ports, dest_ports) {
        if (h.is_range() || d.is_range()) && h != d {
            errors.push(format!(
                "dest_port: a range is forwarded to the same ports: host_port {h} cannot go to dest_port {d} (leave dest_port out)"
            ));
        }
    }
    let dest = p
        .dest
        .as_deref()
        .map(|t| ipv4("dest", t))
        .transpose()
        .unwrap_or_else(|e| {
            errors.push(e.msg);
            None
        });
    let host_address = p
        .host_address
        .as_deref()
        .map(|t| ipv4("host_address", t))
        .transpose()
        .unwrap_or_else(|e| {
            errors.push(e.msg);
            None
        });
    if let Some(i) = &p.in_interface {
        if let Err(e) = validate::ifname("in_interface", i) {
            errors.push(e.msg);
        }
    }
    let mut sources = Vec::new();
    for s in &p.source {
        match Cidr::parse("source", s) {
            Ok(c) => sources.push(c),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(Error::invalid(errors.join("; ")));
    }
    let host_ports = host_ports.unwrap_or(Ports { first: 1, last: 1 });
    Ok(Task {
        network: p.network.clone().unwrap_or_default(),
        host_ports,
        dest_ports: dest_ports.unwrap_or(host_ports),
        dest,
        host_address,
        sources,
    })
}

/// The parts of a network's live XML a forward needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkFacts {
    /// `nat`, `route`, ... or None for an isolated network.
    pub forward_mode: Option<String>,
    pub bridge: Option<String>,
    /// The host's address on the network and its subnet.
    pub host_ip: Option<Ipv4Addr>,
    pub subnet: Option<Cidr>,
}

pub fn network_facts(xml: &str) -> Result<NetworkFacts> {
    let doc = roxmltree::Document::parse(xml)
        .map_err(|e| Error::backend(format!("libvirt's network XML does not parse: {e}")))?;
    let root = doc.root_element();
    let child = |name: &str| root.children().find(|n| n.has_tag_name(name));
    let forward_mode = child("forward").map(|f| f.attribute("mode").unwrap_or("nat").to_string());
    let bridge = child("bridge").and_then(|b| b.attribute("name").map(str::to_string));
    let ip = root
        .children()
        .find(|n| n.has_tag_name("ip") && n.attribute("family").is_none_or(|f| f == "ipv4"));
    let host_ip = ip
        .and_then(|i| i.attribute("address"))
        .and_then(|a| a.parse::<Ipv4Addr>().ok());
    let prefix = ip.and_then(|i| {
        i.attribute("prefix")
            .and_then(|p| p.parse::<u8>().ok())
            .or_else(|| {
                i.attribute("netmask")
                    .and_then(|m| validate::netmask_prefix("netmask", m).ok())
            })
    });
    let subnet = match (host_ip, prefix) {
        (Some(a), Some(p)) if p <= 32 => {
            let c = Cidr { addr: a, prefix: p };
            Some(Cidr {
                addr: c.network(),
                prefix: p,
            })
        }
        _ => None,
    };
    Ok(NetworkFacts {
        forward_mode,
        bridge,
        host_ip,
        subnet,
    })
}

/// The task against libvirt and the firewall: a forward ready to render.
pub fn forward(lv: &Libvirt, p: &Params, listings: &Listings) -> Result<Forward> {
    let task = checked(p)?;
    let net = &task.network;
    let info = lv
        .network(net)?
        .ok_or_else(|| Error::not_yet(format!("network {net} does not exist")))?;
    let xml = info.live_xml.ok_or_else(|| {
        Error::not_yet(format!(
            "network {net} is not active: start it first (the forward's rules go next to libvirt's, which exist only while it runs)"
        ))
    })?;
    let facts = network_facts(&xml)?;
    let bridge = facts.bridge.clone().unwrap_or_default();
    let dest = match (task.dest, &p.domain, facts.subnet) {
        (Some(d), _, _) => d,
        (None, Some(domain), Some(subnet)) if routable(&facts) => {
            guest_address(lv, domain, net, &bridge, subnet)?
        }
        _ => Ipv4Addr::UNSPECIFIED,
    };
    let firewall = match p.backend {
        // The facts are checked first, so that a bad task says so before
        // the firewall is asked.
        _ if facts.subnet.is_none() || bridge.is_empty() || !routable(&facts) => Firewall::Iptables,
        b => choose_firewall(
            b,
            net,
            &bridge,
            firewall::libvirt_firewall(listings, &bridge),
        )?,
    };
    // An accept for libvirt's nftables backend goes into its forward chain.
    if firewall == Firewall::Nftables
        && p.backend != Backend::Auto
        && !listings
            .nft_table(crate::rules::LIBVIRT_TABLE)
            .contains("chain forward {")
    {
        return Err(Error::invalid(format!(
            "backend: nftables, but there is no libvirt_network table with a forward chain: libvirt does not manage network {net}'s firewall with nftables"
        )));
    }
    assemble(p, task, &facts, dest, firewall)
}

fn routable(facts: &NetworkFacts) -> bool {
    matches!(facts.forward_mode.as_deref(), Some("nat" | "route"))
}

/// The forward from the checked task, the network's facts, the guest's
/// address and the firewall: the checks that need them, then the forward.
/// Pure.
pub fn assemble(
    p: &Params,
    task: Task,
    facts: &NetworkFacts,
    dest: Ipv4Addr,
    firewall: Firewall,
) -> Result<Forward> {
    let net = &task.network;
    match facts.forward_mode.as_deref() {
        Some("nat" | "route") => {}
        other => {
            return Err(Error::invalid(format!(
                "network {net} is {}: a port forward needs a NAT (or routed) network",
                other.map_or("isolated (no <forward>)".to_string(), |m| format!(
                    "in forward mode {m}"
                ))
            )));
        }
    }
    let (Some(bridge), Some(subnet), Some(host_ip)) =
        (facts.bridge.clone(), facts.subnet, facts.host_ip)
    else {
        return Err(Error::invalid(format!(
            "network {net} has no bridge with an IPv4 address in libvirt's XML"
        )));
    };
    let broadcast = Ipv4Addr::from(u32::from(subnet.network()) | !subnet.mask());
    if !subnet.contains(dest) || dest == subnet.network() || dest == broadcast {
        return Err(Error::invalid(format!(
            "dest: {dest} is not a guest address in network {net}'s subnet {subnet}"
        )));
    }
    if dest == host_ip {
        return Err(Error::invalid(format!(
            "dest: {dest} is the host's own address on network {net}"
        )));
    }
    if p.in_interface.as_deref() == Some(bridge.as_str()) {
        return Err(Error::invalid(format!(
            "in_interface: {bridge} is network {net}'s own bridge; to reach the forward from guests use hairpin: true"
        )));
    }
    Ok(Forward {
        name: p.name.clone(),
        network: net.clone(),
        domain: p.domain.clone(),
        firewall,
        protocol: p.protocol,
        host_ports: task.host_ports,
        dest,
        dest_ports: task.dest_ports,
        in_interface: p.in_interface.clone(),
        host_address: task.host_address,
        sources: task.sources,
        hairpin: p.hairpin,
        bridge,
        subnet,
    })
}

/// The backend libvirt's own rules for the network are in; the task may
/// name it, but not the other one (libvirt's reject would win).
fn choose_firewall(
    backend: Backend,
    net: &str,
    bridge: &str,
    libvirt: Option<Firewall>,
) -> Result<Firewall> {
    let name = |f: Firewall| kvmnet_core::enum_name(&f);
    match (backend, libvirt) {
        (Backend::Auto, Some(f)) => Ok(f),
        (Backend::Auto, None) => Err(Error::invalid(format!(
            "cannot tell which firewall libvirt uses for network {net}: no rules for {bridge} in nftables' libvirt_network table nor in iptables' LIBVIRT_FWI chain; set backend"
        ))),
        (Backend::Nftables, Some(Firewall::Iptables))
        | (Backend::Iptables, Some(Firewall::Nftables)) => {
            let actual = libvirt.map(name).unwrap_or_default();
            Err(Error::invalid(format!(
                "backend: libvirt keeps network {net}'s rules in {actual}, whose reject an accept in {} cannot override; use backend: {actual} (or auto)",
                name(if backend == Backend::Nftables {
                    Firewall::Nftables
                } else {
                    Firewall::Iptables
                })
            )))
        }
        (Backend::Nftables, _) => Ok(Firewall::Nftables),
        (Backend::Iptables, _) => Ok(Firewall::Iptables),
    }
}

/// The guest's IPv4 address on the network: DHCP leases first, then ARP.
fn guest_address(
    lv: &Libvirt,
    domain: &str,
    net: &str,
    bridge: &str,
    subnet: Cidr,
) -> Result<Ipv4Addr> {
    let defs = lv
        .domain(domain)?
        .ok_or_else(|| Error::not_found(format!("domain {domain} does not exist")))?;
    let Some(xml) = defs.live_xml else {
        return Err(Error::invalid(format!(
            "domain {domain} is not running, so it has no address to forward to; start it or give dest"
        )));
    };
    let macs = macs_on(&xml, net, bridge)?;
    if macs.is_empty() {
        return Err(Error::invalid(format!(
            "domain {domain} has no NIC on network {net}"
        )));
    }
    for source in [AddressSource::Lease, AddressSource::Arp] {
        // The ARP source is a fallback: where libvirt cannot read the
        // host's neighbour table (libvirt 9 on newer kernels answers
        // "wrong nlmsg len"), it finds nothing rather than failing.
        let found = match lv.domain_addresses(domain, source) {
            Ok(a) => a,
            Err(_) if source == AddressSource::Arp => Vec::new(),
            Err(e) => return Err(e),
        };
        let found = found
            .into_iter()
            .filter(|(mac, _)| macs.contains(mac))
            .filter_map(|(_, a)| a.parse::<Ipv4Addr>().ok())
            .find(|a| subnet.contains(*a));
        if let Some(a) = found {
            return Ok(a);
        }
    }
    Err(Error::invalid(format!(
        "domain {domain} has no IPv4 address on network {net} yet (no DHCP lease, nothing in the host's ARP table for {}); wait for it to boot, or give dest",
        macs.join(", ")
    )))
}

/// MACs (lowercase) of a domain's NICs on the network (by network name or
/// by its bridge).
pub fn macs_on(domain_xml: &str, net: &str, bridge: &str) -> Result<Vec<String>> {
    let doc = roxmltree::Document::parse(domain_xml)
        .map_err(|e| Error::backend(format!("libvirt's domain XML does not parse: {e}")))?;
    Ok(doc
        .descendants()
        .filter(|n| n.has_tag_name("interface"))
        .filter(|i| {
            i.children().any(|s| {
                s.has_tag_name("source")
                    && (s.attribute("network") == Some(net)
                        || s.attribute("bridge") == Some(bridge))
            })
        })
        .filter_map(|i| {
            i.children()
                .find(|m| m.has_tag_name("mac"))
                .and_then(|m| m.attribute("address"))
                .map(str::to_ascii_lowercase)
        })
        .collect())
}
