//! One NIC as kvmnet compares it: parsed from a domain's `<interface>`,
//! rendered back for attach and update-device, and merged with the task.

use crate::params::{Bandwidth, DirectMode, LinkState, NativeMode, NicType, Rate, Vlan};
pub use kvmnet_core::enum_name as lower;
use kvmnet_core::xml::{Element, child};
use kvmnet_core::{Error, Result};
use roxmltree::Node;
use schemars::JsonSchema;
use serde::Serialize;

/// Where a NIC connects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Source {
    Bridge {
        bridge: String,
    },
    Network {
        network: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        portgroup: Option<String>,
    },
    Direct {
        dev: String,
        mode: DirectMode,
    },
    Hostdev {
        /// `0000:01:10.0`
        pci: String,
    },
}

impl Source {
    pub fn kind(&self) -> NicType {
        match self {
            Source::Bridge { .. } => NicType::Bridge,
            Source::Network { .. } => NicType::Network,
            Source::Direct { .. } => NicType::Direct,
            Source::Hostdev { .. } => NicType::Hostdev,
        }
    }

    /// What identifies the NIC's attachment without a MAC: the bridge,
    /// network, host NIC or PCI device (a port group or mode is a setting).
    pub fn same_place(&self, other: &Source) -> bool {
        match (self, other) {
            (Source::Bridge { bridge: a }, Source::Bridge { bridge: b }) => a == b,
            (Source::Network { network: a, .. }, Source::Network { network: b, .. }) => a == b,
            (Source::Direct { dev: a, .. }, Source::Direct { dev: b, .. }) => a == b,
            (Source::Hostdev { pci: a }, Source::Hostdev { pci: b }) => a == b,
            _ => false,
        }
    }
}

/// A NIC of a domain, as far as kvmnet manages it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Nic {
    pub source: Source,
    /// The model; None for hostdev NICs (and where libvirt shows none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// None: libvirt's default, up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_state: Option<LinkState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<Vlan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<Bandwidth>,
    /// The host device of a running NIC (tap, macvtap); not compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The guest PCI address, as attributes; kept on updates so the NIC
    /// does not move (a guest names NICs by slot). Not compared.
    #[serde(skip)]
    pub address: Vec<(String, String)>,
}

impl Nic {
    /// The NIC without what libvirt decides or reports on its own, and
    /// with libvirt's defaults spelled out: what two NICs are compared by.
    pub fn comparable(&self) -> Nic {
        let mut n = self.clone();
        n.target = None;
        n.address.clear();
        if n.link_state == Some(LinkState::Up) {
            n.link_state = None;
        }
        if n.bandwidth == Some(Bandwidth::default()) {
            n.bandwidth = None;
        }
        n
    }
}

fn attr(n: Node, name: &str) -> Option<String> {
    n.attribute(name).map(str::to_string)
}

/// `0000:01:10.0` → (domain, bus, slot, function).
pub fn parse_pci(text: &str) -> Option<(u32, u32, u32, u32)> {
    let (domain, rest) = text.split_once(':')?;
    let (bus, rest) = rest.split_once(':')?;
    let (slot, function) = rest.split_once('.')?;
    let hex = |s: &str, max: u32| {
        u32::from_str_radix(s, 16)
            .ok()
            .filter(|v| *v <= max && !s.is_empty())
    };
    Some((
        hex(domain, 0xffff)?,
        hex(bus, 0xff)?,
        hex(slot, 0x1f)?,
        hex(function, 7)?,
    ))
}

fn rate(n: Option<Node>) -> Option<Rate> {
    let n = n?;
    let num = |k| n.attribute(k).and_then(|v| v.parse().ok());
    Some(Rate {
        average: num("average")?,
        peak: num("peak"),
        burst: num("burst"),
    })
}

/// One `<interface>` element; None for kinds kvmnet does not manage
/// (user, ethernet, vhostuser...).
pub fn parse_interface(n: Node) -> Option<Nic> {
    let src = child(n, "source");
    let s = |k: &str| src.and_then(|s| attr(s, k));
    // A NIC on a libvirt network may show its actual type in the live XML
    // (a host-bridge network's NIC as type='bridge'); the network
    // attribute says what the definition is.
    let source = match (n.attribute("type")?, s("network")) {
        (_, Some(network)) => Source::Network {
            network,
            portgroup: s("portgroup"),
        },
        ("bridge", None) => Source::Bridge {
            bridge: s("bridge")?,
        },
        ("direct", None) => Source::Direct {
            dev: s("dev")?,
            mode: match s("mode").as_deref().unwrap_or("vepa") {
                "bridge" => DirectMode::Bridge,
                "private" => DirectMode::Private,
                "passthrough" => DirectMode::Passthrough,
                _ => DirectMode::Vepa,
            },
        },
        ("hostdev", None) => Source::Hostdev {
            pci: kvmnet_core::xml::pci_address(child(src?, "address")?)?,
        },
        _ => return None,
    };
    let vlan = child(n, "vlan").map(|v| {
        let tags: Vec<Node> = v.children().filter(|c| c.has_tag_name("tag")).collect();
        let native = tags.iter().find(|t| t.attribute("nativeMode").is_some());
        Vlan {
            tags: tags
                .iter()
                .filter_map(|t| t.attribute("id")?.parse().ok())
                .collect(),
            trunk: (v.attribute("trunk") == Some("yes")).then_some(true),
            native: native.and_then(|t| t.attribute("id")?.parse().ok()),
            native_mode: native.and_then(|t| match t.attribute("nativeMode")? {
                "tagged" => Some(NativeMode::Tagged),
                "untagged" => Some(NativeMode::Untagged),
                _ => None,
            }),
        }
    });
    let bandwidth = child(n, "bandwidth").map(|b| Bandwidth {
        inbound: rate(child(b, "inbound")),
        outbound: rate(child(b, "outbound")),
    });
    Some(Nic {
        source,
        model: child(n, "model").and_then(|m| attr(m, "type")),
        mac: child(n, "mac")
            .and_then(|m| attr(m, "address"))
            .map(|m| m.to_ascii_lowercase()),
        link_state: child(n, "link").and_then(|l| match l.attribute("state")? {
            "down" => Some(LinkState::Down),
            "up" => Some(LinkState::Up),
            _ => None,
        }),
        mtu: child(n, "mtu").and_then(|m| m.attribute("size")?.parse().ok()),
        vlan,
        bandwidth,
        target: child(n, "target").and_then(|t| attr(t, "dev")),
        address: child(n, "address")
            .filter(|a| a.attribute("type") == Some("pci"))
            .map(|a| {
                a.attributes()
                    .map(|x| (x.name().to_string(), x.value().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// Every NIC kvmnet manages in a domain's XML, in order.
pub fn parse_domain(xml: &str) -> Result<Vec<Nic>> {
    let doc = roxmltree::Document::parse(xml)
        .map_err(|e| Error::backend(format!("libvirt gave domain XML kvmnet cannot read: {e}")))?;
    Ok(doc
        .descendants()
        .filter(|n| {
            n.has_tag_name("interface") && n.parent().is_some_and(|p| p.has_tag_name("devices"))
        })
        .filter_map(parse_interface)
        .collect())
}

fn rate_element(name: &str, r: &Rate) -> Element {
    Element::new(name)
        .attr("average", r.average)
        .attr_opt("peak", r.peak)
        .attr_opt("burst", r.burst)
}

/// The `<interface>` element libvirt is given (attach, update-device).
/// With `address`, the guest PCI address is kept.
pub fn render(nic: &Nic, address: bool) -> String {
    let kind = lower(&nic.source.kind());
    let mut e = Element::new("interface").attr("type", &kind);
    if nic.source.kind() == NicType::Hostdev {
        // libvirt detaches the VF from its host driver and back.
        e = e.attr("managed", "yes");
    }
    e = e.child_opt(
        nic.mac
            .as_ref()
            .map(|m| Element::new("mac").attr("address", m)),
    );
    let source = match &nic.source {
        Source::Bridge { bridge } => Element::new("source").attr("bridge", bridge),
        Source::Network { network, portgroup } => Element::new("source")
            .attr("network", network)
            .attr_opt("portgroup", portgroup.as_ref()),
        Source::Direct { dev, mode } => Element::new("source")
            .attr("dev", dev)
            .attr("mode", lower(mode)),
        Source::Hostdev { pci } => {
            let (d, b, s, f) = parse_pci(pci).unwrap_or_default();
            Element::new("source").child(
                Element::new("address")
                    .attr("type", "pci")
                    .attr("domain", format!("0x{d:04x}"))
                    .attr("bus", format!("0x{b:02x}"))
                    .attr("slot", format!("0x{s:02x}"))
                    .attr("function", format!("0x{f:x}")),
            )
        }
    };
    e = e.child(source);
    if let Some(v) = &nic.vlan {
        let tags = v.tags.iter().map(|t| {
            let native = (v.native == Some(*t))
                .then(|| v.native_mode.map(|m| lower(&m)))
                .flatten();
            Element::new("tag")
                .attr("id", t)
                .attr_opt("nativeMode", native)
        });
        e = e.child(
            Element::new("vlan")
                .attr_opt("trunk", v.trunk.filter(|t| *t).map(|_| "yes"))
                .children(tags),
        );
    }
    if let Some(b) = &nic.bandwidth {
        e = e.child(
            Element::new("bandwidth")
                .child_opt(b.inbound.as_ref().map(|r| rate_element("inbound", r)))
                .child_opt(b.outbound.as_ref().map(|r| rate_element("outbound", r))),
        );
    }
    e = e.child_opt(
        nic.model
            .as_ref()
            .map(|m| Element::new("model").attr("type", m)),
    );
    e = e.child_opt(
        nic.link_state
            .map(|l| Element::new("link").attr("state", lower(&l))),
    );
    e = e.child_opt(nic.mtu.map(|m| Element::new("mtu").attr("size", m)));
    if address && !nic.address.is_empty() {
        let mut a = Element::new("address");
        for (k, v) in &nic.address {
            a = a.attr(k, v);
        }
        e = e.child(a);
    }
    e.render()
}
