//! libvirt network XML: parse what libvirt returns into the model, render
//! the model into what libvirt is given. Elements and attributes kvmnet
//! does not model are not carried over; [`unmodelled`] finds them so the
//! module can refuse to drop them silently.

use crate::model::{IpDef, NetworkDef, format_pci, normalize};
use crate::params::*;
use kvmnet_core::xml::roxmltree::{Document, Node};
use kvmnet_core::xml::{Element, child, children};
use kvmnet_core::{Error, Result};

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn attr_bool(n: Node, key: &str) -> Option<bool> {
    n.attribute(key).map(|v| matches!(v, "yes" | "on"))
}

fn attr_num<T: std::str::FromStr>(n: Node, key: &str) -> Option<T> {
    n.attribute(key).and_then(|v| {
        let v = v.trim();
        match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16)
                .ok()
                .and_then(|x| x.to_string().parse().ok()),
            None => v.parse().ok(),
        }
    })
}

fn attr_string(n: Node, key: &str) -> Option<String> {
    n.attribute(key).map(str::to_string)
}

fn canonical_ip(text: &str) -> String {
    text.trim()
        .parse::<std::net::IpAddr>()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| text.to_string())
}

/// Parse libvirt's network XML. Returns the UUID and the normalised model.
pub fn parse(xml: &str) -> Result<(Option<String>, NetworkDef)> {
    let doc = Document::parse(xml)
        .map_err(|e| Error::backend(format!("libvirt returned unreadable network XML: {e}")))?;
    let root = doc.root_element();
    let text = |n: Option<Node>| n.and_then(|n| n.text()).map(|t| t.trim().to_string());
    let name = text(child(root, "name")).unwrap_or_default();
    let uuid = text(child(root, "uuid"));

    let forward = child(root, "forward").map(|f| {
        let mode = match f.attribute("mode").unwrap_or("nat") {
            "route" => ForwardMode::Route,
            "open" => ForwardMode::Open,
            "bridge" => ForwardMode::Bridge,
            "private" => ForwardMode::Private,
            "vepa" => ForwardMode::Vepa,
            "passthrough" => ForwardMode::Passthrough,
            "hostdev" => ForwardMode::Hostdev,
            _ => ForwardMode::Nat,
        };
        let nat = child(f, "nat").map(|n| Nat {
            addresses: child(n, "address").map(|a| AddressRange {
                start: canonical_ip(a.attribute("start").unwrap_or_default()),
                end: canonical_ip(a.attribute("end").unwrap_or_default()),
            }),
            ports: child(n, "port").map(|p| PortRange {
                start: attr_num(p, "start").unwrap_or(0),
                end: attr_num(p, "end").unwrap_or(0),
            }),
            ipv6: attr_bool(n, "ipv6"),
        });
        let addresses = children(f, "address")
            .filter(|a| a.attribute("type") == Some("pci"))
            .map(|a| {
                format_pci((
                    attr_num(a, "domain").unwrap_or(0),
                    attr_num(a, "bus").unwrap_or(0),
                    attr_num(a, "slot").unwrap_or(0),
                    attr_num(a, "function").unwrap_or(0),
                ))
            })
            .collect();
        Forward {
            mode,
            dev: attr_string(f, "dev"),
            nat,
            interfaces: children(f, "interface")
                .filter_map(|i| attr_string(i, "dev"))
                .collect(),
            pf: child(f, "pf").and_then(|p| attr_string(p, "dev")),
            addresses,
            managed: attr_bool(f, "managed"),
        }
    });

    let bridge = child(root, "bridge").map(|b| Bridge {
        name: attr_string(b, "name"),
        stp: attr_bool(b, "stp"),
        delay: attr_num(b, "delay"),
    });
    let mtu = child(root, "mtu").and_then(|m| attr_num(m, "size"));
    let domain = child(root, "domain").map(|d| DnsDomain {
        name: attr_string(d, "name").unwrap_or_default(),
        local_only: attr_bool(d, "localOnly"),
    });
    let mac = child(root, "mac").and_then(|m| attr_string(m, "address"));

    let ips = children(root, "ip")
        .map(|ip| {
            let address = canonical_ip(ip.attribute("address").unwrap_or_default());
            let v6 = ip.attribute("family") == Some("ipv6") || address.contains(':');
            let prefix = attr_num(ip, "prefix").or_else(|| {
                ip.attribute("netmask")
                    .and_then(|m| kvmnet_core::validate::netmask_prefix("netmask", m).ok())
            });
            let dhcp = child(ip, "dhcp").map(|d| Dhcp {
                ranges: children(d, "range")
                    .map(|r| AddressRange {
                        start: canonical_ip(r.attribute("start").unwrap_or_default()),
                        end: canonical_ip(r.attribute("end").unwrap_or_default()),
                    })
                    .collect(),
                hosts: children(d, "host")
                    .map(|h| DhcpHost {
                        mac: attr_string(h, "mac"),
                        name: attr_string(h, "name"),
                        ip: canonical_ip(h.attribute("ip").unwrap_or_default()),
                    })
                    .collect(),
                bootp: child(d, "bootp").map(|b| Bootp {
                    file: attr_string(b, "file").unwrap_or_default(),
                    server: attr_string(b, "server"),
                }),
            });
            IpDef {
                address,
                prefix: prefix.unwrap_or(if v6 { 64 } else { 24 }),
                family: if v6 { Family::Ipv6 } else { Family::Ipv4 },
                dhcp,
            }
        })
        .collect();

    let dns = child(root, "dns").map(|d| Dns {
        enable: attr_bool(d, "enable"),
        forward_plain_names: attr_bool(d, "forwardPlainNames"),
        forwarders: children(d, "forwarder")
            .map(|f| DnsForwarder {
                addr: f.attribute("addr").map(canonical_ip),
                domain: attr_string(f, "domain"),
            })
            .collect(),
        hosts: children(d, "host")
            .map(|h| DnsHost {
                ip: canonical_ip(h.attribute("ip").unwrap_or_default()),
                hostnames: children(h, "hostname")
                    .filter_map(|n| n.text())
                    .map(|t| t.trim().to_string())
                    .collect(),
            })
            .collect(),
        srv: children(d, "srv")
            .map(|s| DnsSrv {
                service: attr_string(s, "service").unwrap_or_default(),
                protocol: if s.attribute("protocol") == Some("udp") {
                    SrvProtocol::Udp
                } else {
                    SrvProtocol::Tcp
                },
                domain: attr_string(s, "domain"),
                target: attr_string(s, "target"),
                port: attr_num(s, "port"),
                priority: attr_num(s, "priority"),
                weight: attr_num(s, "weight"),
            })
            .collect(),
        txt: children(d, "txt")
            .map(|t| DnsTxt {
                name: attr_string(t, "name").unwrap_or_default(),
                value: attr_string(t, "value").unwrap_or_default(),
            })
            .collect(),
    });

    let portgroups = children(root, "portgroup")
        .map(|g| Portgroup {
            name: attr_string(g, "name").unwrap_or_default(),
            default: attr_bool(g, "default").unwrap_or(false),
            vlan: child(g, "vlan").map(parse_vlan),
            bandwidth: child(g, "bandwidth").map(parse_bandwidth),
        })
        .collect();

    let routes = children(root, "route")
        .map(|r| Route {
            address: canonical_ip(r.attribute("address").unwrap_or_default()),
            prefix: attr_num(r, "prefix")
                .or_else(|| {
                    r.attribute("netmask")
                        .and_then(|m| kvmnet_core::validate::netmask_prefix("netmask", m).ok())
                })
                .unwrap_or(0),
            gateway: canonical_ip(r.attribute("gateway").unwrap_or_default()),
            metric: attr_num(r, "metric"),
        })
        .collect();

    let def = NetworkDef {
        name,
        forward,
        bridge,
        mtu,
        domain,
        mac,
        ips,
        dns,
        portgroups,
        routes,
    };
    Ok((uuid, normalize(def)))
}

fn parse_vlan(v: Node) -> Vlan {
    Vlan {
        tags: children(v, "tag")
            .map(|t| VlanTag {
                id: attr_num(t, "id").unwrap_or(0),
                native_mode: match t.attribute("nativeMode") {
                    Some("tagged") => Some(NativeMode::Tagged),
                    Some("untagged") => Some(NativeMode::Untagged),
                    _ => None,
                },
            })
            .collect(),
        trunk: attr_bool(v, "trunk").unwrap_or(false),
    }
}

fn parse_bandwidth(b: Node) -> Bandwidth {
    let rate = |n: Node| Rate {
        average: attr_num(n, "average").unwrap_or(0),
        peak: attr_num(n, "peak"),
        burst: attr_num(n, "burst"),
    };
    Bandwidth {
        inbound: child(b, "inbound").map(rate),
        outbound: child(b, "outbound").map(rate),
    }
}

/// Paths of elements and attributes in libvirt's XML that the model does
/// not carry (so a redefine would drop them).
pub fn unmodelled(xml: &str) -> Vec<String> {
    let Ok(doc) = Document::parse(xml) else {
        return Vec::new();
    };
    let rendered = match parse(xml) {
        Ok((uuid, def)) => render(&def, uuid.as_deref()),
        Err(_) => return Vec::new(),
    };
    let Ok(ours) = Document::parse(&rendered) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    compare_shape(
        doc.root_element(),
        &[ours.root_element()],
        "network",
        &mut out,
    );
    out
}

/// Report attributes and elements present under `theirs` but under none
/// of `ours`, the same-named elements at the same place in kvmnet's own
/// rendering (siblings are matched as a group: the second `<ip>` of
/// libvirt's XML need not look like the first of ours).
fn compare_shape(theirs: Node, ours: &[Node], path: &str, out: &mut Vec<String>) {
    for a in theirs.attributes() {
        let known = ours.iter().any(|o| o.attribute(a.name()).is_some());
        let p = format!("{path}/@{}", a.name());
        if !known && !IGNORED_ATTRIBUTES.contains(&a.name()) && !out.contains(&p) {
            out.push(p);
        }
    }
    for c in theirs.children().filter(Node::is_element) {
        let name = c.tag_name().name();
        let p = format!("{path}/{name}");
        let matching: Vec<Node> = ours
            .iter()
            .flat_map(|o| o.children().filter(|oc| oc.has_tag_name(name)))
            .collect();
        if !matching.is_empty() {
            compare_shape(c, &matching, &p, out);
        } else if !IGNORED_ELEMENTS.contains(&name) && !out.contains(&p) {
            out.push(p);
        }
    }
}

/// Attributes libvirt writes that carry no configuration of their own, or
/// that the model deliberately normalises away.
const IGNORED_ATTRIBUTES: &[&str] = &["connections", "netmask", "family"];
/// Elements libvirt writes that hold no user configuration.
const IGNORED_ELEMENTS: &[&str] = &["uuid", "nat", "port", "interface", "address"];

/// Render the model as libvirt network XML, in libvirt's element order.
pub fn render(def: &NetworkDef, uuid: Option<&str>) -> String {
    let mut net = Element::new("network").child(Element::new("name").text(&def.name));
    if let Some(u) = uuid {
        net = net.child(Element::new("uuid").text(u));
    }
    if let Some(f) = &def.forward {
        net = net.child(render_forward(f));
    }
    if let Some(b) = &def.bridge {
        net = net.child(
            Element::new("bridge")
                .attr_opt("name", b.name.as_ref())
                .attr_opt("stp", b.stp.map(|s| if s { "on" } else { "off" }))
                .attr_opt("delay", b.delay),
        );
    }
    if let Some(m) = def.mtu {
        net = net.child(Element::new("mtu").attr("size", m));
    }
    if let Some(m) = &def.mac {
        net = net.child(Element::new("mac").attr("address", m));
    }
    if let Some(d) = &def.domain {
        net = net.child(
            Element::new("domain")
                .attr("name", &d.name)
                .attr_opt("localOnly", d.local_only.map(yes_no)),
        );
    }
    if let Some(d) = &def.dns {
        net = net.child(render_dns(d));
    }
    for ip in &def.ips {
        net = net.child(render_ip(ip));
    }
    for r in &def.routes {
        let v6 = r.address.contains(':');
        net = net.child(
            Element::new("route")
                .attr_opt("family", v6.then_some("ipv6"))
                .attr("address", &r.address)
                .attr("prefix", r.prefix)
                .attr("gateway", &r.gateway)
                .attr_opt("metric", r.metric),
        );
    }
    for g in &def.portgroups {
        net = net.child(render_portgroup(g));
    }
    net.render()
}

fn render_forward(f: &Forward) -> Element {
    let mut e = Element::new("forward")
        .attr("mode", f.mode.as_str())
        .attr_opt("dev", f.dev.as_ref())
        .attr_opt("managed", f.managed.map(yes_no));
    if let Some(n) = &f.nat {
        e = e.child(
            Element::new("nat")
                .attr_opt("ipv6", n.ipv6.map(yes_no))
                .child_opt(n.addresses.as_ref().map(|a| {
                    Element::new("address")
                        .attr("start", &a.start)
                        .attr("end", &a.end)
                }))
                .child_opt(n.ports.as_ref().map(|p| {
                    Element::new("port")
                        .attr("start", p.start)
                        .attr("end", p.end)
                })),
        );
    }
    if let Some(pf) = &f.pf {
        e = e.child(Element::new("pf").attr("dev", pf));
    }
    e = e.children(
        f.interfaces
            .iter()
            .map(|i| Element::new("interface").attr("dev", i)),
    );
    for a in &f.addresses {
        if let Ok((d, b, s, func)) = crate::model::parse_pci("forward.addresses", a) {
            e = e.child(
                Element::new("address")
                    .attr("type", "pci")
                    .attr("domain", format!("0x{d:04x}"))
                    .attr("bus", format!("0x{b:02x}"))
                    .attr("slot", format!("0x{s:02x}"))
                    .attr("function", format!("0x{func:x}")),
            );
        }
    }
    e
}

fn render_dns(d: &Dns) -> Element {
    Element::new("dns")
        .attr_opt("enable", d.enable.map(yes_no))
        .attr_opt("forwardPlainNames", d.forward_plain_names.map(yes_no))
        .children(d.forwarders.iter().map(|f| {
            Element::new("forwarder")
                .attr_opt("domain", f.domain.as_ref())
                .attr_opt("addr", f.addr.as_ref())
        }))
        .children(d.txt.iter().map(render_txt))
        .children(d.hosts.iter().map(render_dns_host))
        .children(d.srv.iter().map(render_srv))
}

pub fn render_dns_host(h: &DnsHost) -> Element {
    Element::new("host")
        .attr("ip", &h.ip)
        .children(h.hostnames.iter().map(|n| Element::new("hostname").text(n)))
}

pub fn render_srv(s: &DnsSrv) -> Element {
    Element::new("srv")
        .attr("service", &s.service)
        .attr(
            "protocol",
            if s.protocol == SrvProtocol::Udp {
                "udp"
            } else {
                "tcp"
            },
        )
        .attr_opt("domain", s.domain.as_ref())
        .attr_opt("target", s.target.as_ref())
        .attr_opt("port", s.port)
        .attr_opt("priority", s.priority)
        .attr_opt("weight", s.weight)
}

pub fn render_txt(t: &DnsTxt) -> Element {
    Element::new("txt")
        .attr("name", &t.name)
        .attr("value", &t.value)
}

pub fn render_range(r: &AddressRange) -> Element {
    Element::new("range")
        .attr("start", &r.start)
        .attr("end", &r.end)
}

pub fn render_dhcp_host(h: &DhcpHost) -> Element {
    Element::new("host")
        .attr_opt("mac", h.mac.as_ref())
        .attr_opt("name", h.name.as_ref())
        .attr("ip", &h.ip)
}

fn render_ip(ip: &IpDef) -> Element {
    let mut e = Element::new("ip")
        .attr_opt("family", (ip.family == Family::Ipv6).then_some("ipv6"))
        .attr("address", &ip.address)
        .attr("prefix", ip.prefix);
    if let Some(d) = &ip.dhcp {
        e = e.child(
            Element::new("dhcp")
                .children(d.ranges.iter().map(render_range))
                .children(d.hosts.iter().map(render_dhcp_host))
                .child_opt(d.bootp.as_ref().map(|b| {
                    Element::new("bootp")
                        .attr("file", &b.file)
                        .attr_opt("server", b.server.as_ref())
                })),
        );
    }
    e
}

pub fn render_portgroup(g: &Portgroup) -> Element {
    let rate = |name: &str, r: &Rate| {
        Element::new(name)
            .attr("average", r.average)
            .attr_opt("peak", r.peak)
            .attr_opt("burst", r.burst)
    };
    Element::new("portgroup")
        .attr("name", &g.name)
        .attr_opt("default", g.default.then_some("yes"))
        .child_opt(g.vlan.as_ref().map(|v| {
            Element::new("vlan")
                .attr_opt("trunk", v.trunk.then_some("yes"))
                .children(v.tags.iter().map(|t| {
                    Element::new("tag").attr("id", t.id).attr_opt(
                        "nativeMode",
                        t.native_mode.map(|m| {
                            if m == NativeMode::Tagged {
                                "tagged"
                            } else {
                                "untagged"
                            }
                        }),
                    )
                }))
        }))
        .child_opt(g.bandwidth.as_ref().map(|b| {
            Element::new("bandwidth")
                .child_opt(b.inbound.as_ref().map(|r| rate("inbound", r)))
                .child_opt(b.outbound.as_ref().map(|r| rate("outbound", r)))
        }))
}

/// The XML of one element, on one line, as `virNetworkUpdate` takes it.
pub fn one_line(e: &Element) -> String {
    e.render()
        .lines()
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("")
}
