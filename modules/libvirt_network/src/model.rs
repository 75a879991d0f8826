//! The normalised network model: what is compared.
//!
//! Both sides are brought to the same shape: the XML libvirt returns
//! ([`crate::xmlio::parse`]) and the task's options ([`desired`]) become a
//! [`NetworkDef`] with netmasks turned into prefixes, addresses and MACs in
//! canonical text, order-free lists sorted, and libvirt's own defaults made
//! explicit. Two equal `NetworkDef`s mean "nothing to do".

use crate::params::{
    AddressRange, Bridge, Dhcp, Dns, DnsDomain, Family, Forward, ForwardMode, Nat, Params,
    PortRange, Portgroup, Route,
};
use kvmnet_core::validate;
use kvmnet_core::{Error, Result};
use serde::Serialize;
use std::net::IpAddr;

/// One network definition, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkDef {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward: Option<Forward>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bridge: Option<Bridge>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<DnsDomain>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<IpDef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<Dns>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub portgroups: Vec<Portgroup>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpDef {
    pub address: String,
    pub prefix: u8,
    pub family: Family,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dhcp: Option<Dhcp>,
}

/// Everything the module knows about one network on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetState {
    /// The persistent definition; None when the network does not exist.
    pub def: Option<NetworkDef>,
    /// The running definition, when the network runs.
    #[serde(skip)]
    pub live: Option<NetworkDef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    pub active: bool,
    pub autostart: bool,
    /// Parts of the persistent XML the model does not carry, which a
    /// redefine would drop.
    #[serde(skip)]
    pub unmodelled: Vec<String>,
    /// libvirt's persistent XML as it was read, kept verbatim for a rollback.
    #[serde(skip)]
    pub inactive_xml: Option<String>,
}

impl NetState {
    pub fn absent() -> NetState {
        NetState {
            def: None,
            live: None,
            uuid: None,
            active: false,
            autostart: false,
            unmodelled: Vec::new(),
            inactive_xml: None,
        }
    }
}

/// Whether libvirt creates and owns the network's bridge in this forward
/// mode (isolated networks too).
pub fn has_own_bridge(mode: Option<ForwardMode>) -> bool {
    matches!(
        mode,
        None | Some(ForwardMode::Nat | ForwardMode::Route | ForwardMode::Open)
    )
}

impl ForwardMode {
    fn is_macvtap(self) -> bool {
        matches!(
            self,
            ForwardMode::Bridge
                | ForwardMode::Private
                | ForwardMode::Vepa
                | ForwardMode::Passthrough
        )
    }
}

/// libvirt's default NAT source ports, which it writes out explicitly.
const DEFAULT_NAT_PORTS: (u16, u16) = (1024, 65535);

/// Bring a definition to canonical form. Idempotent.
pub fn normalize(mut def: NetworkDef) -> NetworkDef {
    let mode = def.forward.as_ref().map(|f| f.mode);
    if let Some(f) = &mut def.forward {
        // libvirt lists `dev` as the first pool interface as well, and
        // makes the first pool interface `dev` when none is given.
        if f.dev.is_none() && f.mode != ForwardMode::Hostdev {
            f.dev = f.interfaces.first().cloned();
        }
        if let Some(dev) = &f.dev
            && f.mode != ForwardMode::Hostdev
            && !f.interfaces.contains(dev)
        {
            f.interfaces.insert(0, dev.clone());
        }
        f.addresses.sort();
        if let Some(nat) = &mut f.nat {
            if nat
                .ports
                .as_ref()
                .is_some_and(|p| (p.start, p.end) == DEFAULT_NAT_PORTS)
            {
                nat.ports = None;
            }
            if nat.ipv6 == Some(false) {
                nat.ipv6 = None;
            }
        }
        if f.nat.as_ref().is_some_and(|n| {
            *n == Nat {
                addresses: None,
                ports: None,
                ipv6: None,
            }
        }) {
            f.nat = None;
        }
    }
    if has_own_bridge(mode) {
        let b = def.bridge.get_or_insert(Bridge {
            name: None,
            stp: None,
            delay: None,
        });
        b.stp.get_or_insert(true);
        b.delay.get_or_insert(0);
    }
    if def.bridge
        == Some(Bridge {
            name: None,
            stp: None,
            delay: None,
        })
    {
        def.bridge = None;
    }
    if let Some(mac) = &mut def.mac {
        *mac = mac.to_ascii_lowercase();
    }
    for ip in &mut def.ips {
        if let Some(d) = &mut ip.dhcp {
            for h in &mut d.hosts {
                h.mac = h.mac.as_ref().map(|m| m.to_ascii_lowercase());
            }
            d.hosts.sort();
            d.ranges.sort();
        }
        if ip.dhcp.as_ref().is_some_and(|d| *d == Dhcp::default()) {
            ip.dhcp = None;
        }
    }
    if let Some(dns) = &mut def.dns {
        for h in &mut dns.hosts {
            h.hostnames.sort();
        }
        dns.hosts.sort();
        dns.srv.sort();
        dns.txt.sort();
    }
    if def.dns.as_ref().is_some_and(|d| *d == Dns::default()) {
        def.dns = None;
    }
    def.portgroups.sort();
    def.routes.sort();
    def
}

/// Take over what libvirt chose itself for fields the task left open.
pub fn adopt_libvirt_choices(desired: &mut NetworkDef, current: &NetworkDef) {
    if let (Some(want), Some(have)) = (&mut desired.bridge, &current.bridge)
        && want.name.is_none()
    {
        want.name.clone_from(&have.name);
    }
    let own_bridge = |d: &NetworkDef| has_own_bridge(d.forward.as_ref().map(|f| f.mode));
    if desired.mac.is_none() && own_bridge(desired) && own_bridge(current) {
        desired.mac.clone_from(&current.mac);
    }
}

fn canonical_ip(option: &str, text: &str) -> Result<IpAddr> {
    validate::ip(option, text)
}

/// The network the task asks for, validated and normalised.
pub fn desired(p: &Params) -> Result<NetworkDef> {
    if p.name.is_empty() || p.name.contains('/') || p.name.len() > 255 {
        return Err(Error::invalid(format!(
            "name: '{}' is not a valid network name (1 to 255 bytes, no '/')",
            p.name
        )));
    }
    let mode = p.forward.as_ref().map(|f| f.mode);
    if let Some(f) = &p.forward {
        check_forward(f, p)?;
    }
    if let Some(b) = &p.bridge
        && let Some(name) = &b.name
    {
        validate::ifname("bridge.name", name)?;
    }
    if mode.is_some_and(|m| m.is_macvtap() || m == ForwardMode::Hostdev) {
        let mut extra = Vec::new();
        if !p.ips.is_empty() {
            extra.push("ips");
        }
        if p.dns.is_some() {
            extra.push("dns");
        }
        if p.domain.is_some() {
            extra.push("domain");
        }
        if p.mac.is_some() {
            extra.push("mac");
        }
        if !p.routes.is_empty() {
            extra.push("routes");
        }
        if !extra.is_empty() {
            return Err(Error::invalid(format!(
                "forward.mode={}: libvirt gives the guests host devices and runs no addresses, DHCP, DNS or routes of its own there, so {} cannot be used with it",
                mode.map(ForwardMode::as_str).unwrap_or_default(),
                extra.join(", ")
            )));
        }
    }
    let mac = p
        .mac
        .as_deref()
        .map(|m| validate::mac("mac", m))
        .transpose()?;
    let ips = p
        .ips
        .iter()
        .enumerate()
        .map(|(i, ip)| desired_ip(i, ip))
        .collect::<Result<Vec<_>>>()?;
    let dns = p.dns.clone().map(canonical_dns).transpose()?;
    // libvirt refuses <vlan> at define for other network types ("whose
    // type doesn't support vlan configuration").
    let vlan_capable = matches!(mode, Some(ForwardMode::Hostdev | ForwardMode::Passthrough));
    if let Some(g) = p.portgroups.iter().find(|g| g.vlan.is_some())
        && !vlan_capable
    {
        return Err(Error::invalid(format!(
            "portgroups ({}): vlan needs forward.mode hostdev or passthrough; libvirt supports no VLAN tags on {} networks",
            g.name,
            mode.map(ForwardMode::as_str).unwrap_or("isolated")
        )));
    }
    let defaults = p.portgroups.iter().filter(|g| g.default).count();
    if defaults > 1 {
        return Err(Error::invalid(
            "portgroups: at most one port group can be the default",
        ));
    }
    let mut names: Vec<&str> = p.portgroups.iter().map(|g| g.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::invalid(format!(
            "portgroups: the name '{}' is used twice",
            w[0]
        )));
    }
    for (i, r) in p.routes.iter().enumerate() {
        let addr = canonical_ip(&format!("routes[{i}].address"), &r.address)?;
        let gw = canonical_ip(&format!("routes[{i}].gateway"), &r.gateway)?;
        if addr.is_ipv4() != gw.is_ipv4() {
            return Err(Error::invalid(format!(
                "routes[{i}]: address and gateway are of different families"
            )));
        }
        let on_net = ips.iter().any(|ip| {
            ip.address
                .parse()
                .is_ok_and(|net: IpAddr| validate::in_subnet(gw, net, ip.prefix))
        });
        if !on_net {
            return Err(Error::invalid(format!(
                "routes[{i}]: the gateway {gw} is not inside any of the network's ips"
            )));
        }
    }
    let routes = p
        .routes
        .iter()
        .map(|r| Route {
            address: r
                .address
                .trim()
                .parse::<IpAddr>()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            gateway: r
                .gateway
                .trim()
                .parse::<IpAddr>()
                .map(|a| a.to_string())
                .unwrap_or_default(),
            ..r.clone()
        })
        .collect();
    let mut forward = p.forward.clone();
    if let Some(f) = &mut forward {
        f.managed = f.managed.filter(|_| f.mode == ForwardMode::Hostdev);
    }
    Ok(normalize(NetworkDef {
        name: p.name.clone(),
        forward,
        bridge: p.bridge.clone(),
        mtu: p.mtu,
        domain: p.domain.clone(),
        mac,
        ips,
        dns,
        portgroups: p.portgroups.clone(),
        routes,
    }))
}

fn check_forward(f: &Forward, p: &Params) -> Result<()> {
    let mode = f.mode.as_str();
    let refuse = |what: &str, why: &str| {
        Err(Error::invalid(format!(
            "forward.{what} cannot be used with forward.mode={mode}: {why}"
        )))
    };
    if f.nat.is_some() && f.mode != ForwardMode::Nat {
        return refuse("nat", "NAT ranges are for mode nat");
    }
    if f.mode != ForwardMode::Hostdev {
        if f.pf.is_some() {
            return refuse("pf", "a physical function is for mode hostdev");
        }
        if !f.addresses.is_empty() {
            return refuse("addresses", "PCI addresses are for mode hostdev");
        }
        if f.managed.is_some() {
            return refuse("managed", "it is for mode hostdev");
        }
    }
    if let Some(dev) = &f.dev {
        validate::ifname("forward.dev", dev)?;
    }
    for (i, dev) in f.interfaces.iter().enumerate() {
        validate::ifname(&format!("forward.interfaces[{i}]"), dev)?;
    }
    if let (Some(dev), Some(first)) = (&f.dev, f.interfaces.first())
        && dev != first
    {
        return Err(Error::invalid(format!(
            "forward.dev ({dev}) must be the first of forward.interfaces ({first}), as libvirt requires"
        )));
    }
    match f.mode {
        ForwardMode::Nat | ForwardMode::Route | ForwardMode::Open => {
            if p.ips.is_empty() && f.mode != ForwardMode::Open {
                return Err(Error::invalid(format!(
                    "forward.mode={mode} needs at least one entry in ips (the host's address on the network)"
                )));
            }
        }
        ForwardMode::Bridge => {
            let host_bridge = p.bridge.as_ref().and_then(|b| b.name.as_ref());
            match (host_bridge, f.interfaces.is_empty() && f.dev.is_none()) {
                (None, true) => {
                    return Err(Error::invalid(
                        "forward.mode=bridge needs bridge.name (an existing host bridge) or forward.interfaces (a macvtap pool)",
                    ));
                }
                (Some(_), false) => {
                    return Err(Error::invalid(
                        "forward.mode=bridge takes either bridge.name (a host bridge) or forward.interfaces (a macvtap pool), not both",
                    ));
                }
                _ => {}
            }
            if let Some(b) = &p.bridge
                && (b.stp.is_some() || b.delay.is_some())
            {
                return Err(Error::invalid(
                    "bridge.stp and bridge.delay cannot be used with forward.mode=bridge: the host bridge is not libvirt's to configure",
                ));
            }
        }
        ForwardMode::Private | ForwardMode::Vepa | ForwardMode::Passthrough => {
            if f.interfaces.is_empty() && f.dev.is_none() {
                return Err(Error::invalid(format!(
                    "forward.mode={mode} needs forward.dev or forward.interfaces (the host NICs of the macvtap pool)"
                )));
            }
            if p.bridge.is_some() {
                return Err(Error::invalid(format!(
                    "bridge cannot be used with forward.mode={mode}"
                )));
            }
        }
        ForwardMode::Hostdev => {
            if f.pf.is_some() != f.addresses.is_empty() {
                return Err(Error::invalid(
                    "forward.mode=hostdev needs exactly one of forward.pf or forward.addresses",
                ));
            }
            if f.dev.is_some() || !f.interfaces.is_empty() {
                return Err(Error::invalid(
                    "forward.dev and forward.interfaces cannot be used with forward.mode=hostdev: use forward.pf",
                ));
            }
            if let Some(pf) = &f.pf {
                validate::ifname("forward.pf", pf)?;
            }
            for (i, a) in f.addresses.iter().enumerate() {
                parse_pci(&format!("forward.addresses[{i}]"), a)?;
            }
            if p.bridge.is_some() {
                return Err(Error::invalid(
                    "bridge cannot be used with forward.mode=hostdev",
                ));
            }
        }
    }
    if has_own_bridge(Some(f.mode)) {
        if let Some(nat) = &f.nat {
            if let Some(r) = &nat.addresses {
                let s = canonical_ip("forward.nat.addresses.start", &r.start)?;
                let e = canonical_ip("forward.nat.addresses.end", &r.end)?;
                if !s.is_ipv4() || !e.is_ipv4() || s > e {
                    return Err(Error::invalid(
                        "forward.nat.addresses: start and end must be IPv4 addresses with start <= end",
                    ));
                }
            }
            if let Some(PortRange { start, end }) = &nat.ports
                && start > end
            {
                return Err(Error::invalid(format!(
                    "forward.nat.ports: start ({start}) is above end ({end})"
                )));
            }
        }
    }
    Ok(())
}

/// `dddd:bb:ss.f` → (domain, bus, slot, function).
pub fn parse_pci(option: &str, text: &str) -> Result<(u16, u8, u8, u8)> {
    let bad = || {
        Error::invalid(format!(
            "{option}: '{text}' is not a PCI address (expected 0000:02:10.0)"
        ))
    };
    let (domain, rest) = text.split_once(':').ok_or_else(bad)?;
    let (bus, rest) = rest.split_once(':').ok_or_else(bad)?;
    let (slot, function) = rest.split_once('.').ok_or_else(bad)?;
    let d = u16::from_str_radix(domain, 16).map_err(|_| bad())?;
    let b = u8::from_str_radix(bus, 16).map_err(|_| bad())?;
    let s = u8::from_str_radix(slot, 16).map_err(|_| bad())?;
    let f = u8::from_str_radix(function, 16).map_err(|_| bad())?;
    if s > 0x1f || f > 7 {
        return Err(bad());
    }
    Ok((d, b, s, f))
}

/// The canonical text of a PCI address.
pub fn format_pci((d, b, s, f): (u16, u8, u8, u8)) -> String {
    format!("{d:04x}:{b:02x}:{s:02x}.{f:x}")
}

fn desired_ip(i: usize, ip: &crate::params::Ip) -> Result<IpDef> {
    let at = format!("ips[{i}]");
    let address = canonical_ip(&format!("{at}.address"), &ip.address)?;
    let family = if address.is_ipv4() {
        Family::Ipv4
    } else {
        Family::Ipv6
    };
    if let Some(f) = ip.family
        && f != family
    {
        return Err(Error::invalid(
            format!("{at}: family {f:?} does not match the address {address}").to_lowercase(),
        ));
    }
    let max = if family == Family::Ipv4 { 32 } else { 128 };
    let prefix = match (ip.prefix, &ip.netmask) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(format!(
                "{at}: give prefix or netmask, not both"
            )));
        }
        (None, None) => {
            return Err(Error::invalid(format!(
                "{at}: give prefix (or netmask) for {address}"
            )));
        }
        (Some(p), None) => p,
        (None, Some(m)) if family == Family::Ipv4 => {
            validate::netmask_prefix(&format!("{at}.netmask"), m)?
        }
        (None, Some(_)) => {
            return Err(Error::invalid(format!(
                "{at}: an IPv6 address takes prefix, not netmask"
            )));
        }
    };
    if prefix == 0 || prefix > max {
        return Err(Error::invalid(format!(
            "{at}.prefix: {prefix} is not a valid prefix length for {address}"
        )));
    }
    let mut dhcp = ip.dhcp.clone();
    if let Some(d) = &mut dhcp {
        check_dhcp(&at, address, prefix, d)?;
    }
    Ok(IpDef {
        address: address.to_string(),
        prefix,
        family,
        dhcp,
    })
}

fn check_dhcp(at: &str, net: IpAddr, prefix: u8, d: &mut Dhcp) -> Result<()> {
    let inside = |option: String, text: &str| -> Result<IpAddr> {
        let a = canonical_ip(&option, text)?;
        if !validate::in_subnet(a, net, prefix) {
            return Err(Error::invalid(format!(
                "{option}: {a} is outside the network {net}/{prefix}"
            )));
        }
        Ok(a)
    };
    for (j, r) in d.ranges.iter_mut().enumerate() {
        let s = inside(format!("{at}.dhcp.ranges[{j}].start"), &r.start)?;
        let e = inside(format!("{at}.dhcp.ranges[{j}].end"), &r.end)?;
        if s > e {
            return Err(Error::invalid(format!(
                "{at}.dhcp.ranges[{j}]: start {s} is above end {e}"
            )));
        }
        if net >= s && net <= e {
            return Err(Error::invalid(format!(
                "{at}.dhcp.ranges[{j}]: the range {s} - {e} contains the host's own address {net}"
            )));
        }
        *r = AddressRange {
            start: s.to_string(),
            end: e.to_string(),
        };
    }
    for (j, h) in d.hosts.iter_mut().enumerate() {
        let ip = inside(format!("{at}.dhcp.hosts[{j}].ip"), &h.ip)?;
        h.ip = ip.to_string();
        if let Some(m) = &h.mac {
            h.mac = Some(validate::mac(&format!("{at}.dhcp.hosts[{j}].mac"), m)?);
        } else if h.name.is_none() {
            return Err(Error::invalid(format!(
                "{at}.dhcp.hosts[{j}]: give mac or name"
            )));
        }
    }
    if d.bootp.is_some() && net.is_ipv6() {
        return Err(Error::invalid(format!(
            "{at}.dhcp.bootp: network boot is IPv4 only"
        )));
    }
    Ok(())
}

fn canonical_dns(mut dns: Dns) -> Result<Dns> {
    for (i, f) in dns.forwarders.iter_mut().enumerate() {
        if f.addr.is_none() && f.domain.is_none() {
            return Err(Error::invalid(format!(
                "dns.forwarders[{i}]: give addr, domain or both"
            )));
        }
        if let Some(a) = &mut f.addr {
            *a = canonical_ip(&format!("dns.forwarders[{i}].addr"), a)?.to_string();
        }
    }
    for (i, h) in dns.hosts.iter_mut().enumerate() {
        h.ip = canonical_ip(&format!("dns.hosts[{i}].ip"), &h.ip)?.to_string();
        if h.hostnames.is_empty() {
            return Err(Error::invalid(format!(
                "dns.hosts[{i}].hostnames: give at least one name"
            )));
        }
    }
    if dns.enable == Some(false)
        && (!dns.forwarders.is_empty()
            || !dns.hosts.is_empty()
            || !dns.srv.is_empty()
            || !dns.txt.is_empty())
    {
        return Err(Error::invalid(
            "dns: records and forwarders cannot be given with dns.enable=false",
        ));
    }
    Ok(dns)
}
