//! The host's network as a picture: NICs → bonds → VLANs → bridges →
//! libvirt networks → guests, as Mermaid and Graphviz DOT text. Pure: a
//! graph from the facts, then two renderings of the same graph.

use crate::facts::Facts;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The same graph in two languages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Topology {
    /// A Mermaid flowchart (renders in GitHub and GitLab Markdown inside a
    /// C(```mermaid) block).
    pub mermaid: String,
    /// A Graphviz digraph (C(dot -Tsvg)).
    pub dot: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Nic,
    Bond,
    Vlan,
    Bridge,
    Other,
    Network,
    Guest,
    Missing,
}

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Nic => "nic",
            Class::Bond => "bond",
            Class::Vlan => "vlan",
            Class::Bridge => "bridge",
            Class::Other => "other",
            Class::Network => "network",
            Class::Guest => "guest",
            Class::Missing => "missing",
        }
    }
}

#[derive(Debug, Default)]
struct Graph {
    /// (key, label, class); a node's id is `n<index>`.
    nodes: Vec<(String, String, Class)>,
    /// (from index, to index, label)
    edges: Vec<(usize, usize, String)>,
}

impl Graph {
    fn find(&self, key: &str) -> Option<usize> {
        self.nodes.iter().position(|(k, _, _)| k == key)
    }

    fn node(&mut self, key: String, label: String, class: Class) -> usize {
        match self.find(&key) {
            Some(i) => i,
            None => {
                self.nodes.push((key, label, class));
                self.nodes.len() - 1
            }
        }
    }

    /// An interface's node; one named but not there is drawn as missing.
    fn interface(&mut self, facts: &Facts, name: &str) -> usize {
        let key = format!("if:{name}");
        if let Some(i) = self.find(&key) {
            return i;
        }
        match facts.interfaces.iter().find(|i| i.name == name) {
            Some(i) => {
                let class = match i.kind.as_str() {
                    "nic" => Class::Nic,
                    "bond" => Class::Bond,
                    "vlan" => Class::Vlan,
                    "bridge" => Class::Bridge,
                    _ => Class::Other,
                };
                let mut label = name.to_string();
                if let Some(b) = facts.bonds.iter().find(|b| b.name == name) {
                    label += &format!("\nbond {}", b.mode);
                } else if let Some(v) = facts.vlans.iter().find(|v| v.name == name) {
                    label += &format!("\nVLAN {}", v.id);
                } else if let Some(b) = facts.bridges.iter().find(|b| b.name == name) {
                    label += if b.stp {
                        "\nbridge, STP on"
                    } else {
                        "\nbridge"
                    };
                } else if let Some(pf) = facts.sriov.iter().find(|p| p.name == name) {
                    label += &format!("\n{} of {} VFs", pf.num_vfs, pf.total_vfs);
                } else if class == Class::Other {
                    label += &format!("\n{}", i.kind);
                }
                if !i.up {
                    label += "\n(down)";
                }
                self.node(key, label, class)
            }
            None => self.node(key, format!("{name}\n(missing)"), Class::Missing),
        }
    }

    fn edge(&mut self, from: usize, to: usize, label: impl Into<String>) {
        let label = label.into();
        if !self.edges.iter().any(|(f, t, _)| (*f, *t) == (from, to)) {
            self.edges.push((from, to, label));
        }
    }
}

fn build(facts: &Facts) -> Graph {
    let mut g = Graph::default();
    let guest_taps: Vec<&str> = facts
        .domains
        .iter()
        .flat_map(|d| d.nics.iter().filter_map(|n| n.tap.as_deref()))
        .collect();
    // Layer by layer, so the nodes come out in the picture's order.
    for kind in ["nic", "bond", "vlan", "bridge"] {
        for i in facts.interfaces.iter().filter(|i| i.kind == kind) {
            g.interface(facts, &i.name);
        }
    }
    for b in &facts.bonds {
        let bond = g.interface(facts, &b.name);
        for m in &b.members {
            let member = g.interface(facts, m);
            let label = if b.active.as_deref() == Some(m) {
                "active"
            } else {
                ""
            };
            g.edge(member, bond, label);
        }
    }
    for v in &facts.vlans {
        let vlan = g.interface(facts, &v.name);
        let parent = g.interface(facts, &v.parent);
        g.edge(parent, vlan, format!("VLAN {}", v.id));
    }
    for b in &facts.bridges {
        let bridge = g.interface(facts, &b.name);
        for p in b
            .ports
            .iter()
            .filter(|p| !guest_taps.contains(&p.name.as_str()))
        {
            let port = g.interface(facts, &p.name);
            let label = if p.state == "forwarding" {
                ""
            } else {
                p.state.as_str()
            };
            g.edge(port, bridge, label);
        }
    }
    for pf in &facts.sriov {
        let from = g.interface(facts, &pf.name);
        for vf in &pf.vfs {
            // A VF shows as its interface on the host, or by its PCI
            // address once a guest has it.
            let to = match &vf.interface {
                Some(i) => g.interface(facts, i),
                None => g.node(format!("pci:{}", vf.pci), vf.pci.clone(), Class::Other),
            };
            g.edge(from, to, format!("VF {}", vf.index));
        }
    }
    for n in &facts.networks {
        let subnet = n
            .addresses
            .iter()
            .map(|a| a.cidr.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let mut label = format!("{}\n{} {}", n.name, n.forward_mode, subnet);
        if !n.active {
            label += "\n(inactive)";
        }
        let net = g.node(
            format!("net:{}", n.name),
            label.trim().to_string(),
            Class::Network,
        );
        if let Some(b) = &n.bridge {
            let bridge = g.interface(facts, b);
            g.edge(bridge, net, "");
        }
        for dev in &n.forward_devices {
            let from = if dev.contains(':') {
                g.node(format!("pci:{dev}"), dev.clone(), Class::Other)
            } else {
                g.interface(facts, dev)
            };
            g.edge(from, net, "");
        }
    }
    for d in &facts.domains {
        let label = if d.running {
            d.name.clone()
        } else {
            format!("{}\n(shut off)", d.name)
        };
        let guest = g.node(format!("dom:{}", d.name), label, Class::Guest);
        for nic in &d.nics {
            let Some(source) = &nic.source else { continue };
            let from = match nic.kind.as_str() {
                "network" => match g.find(&format!("net:{source}")) {
                    Some(n) => n,
                    None => g.node(
                        format!("net:{source}"),
                        format!("{source}\n(missing)"),
                        Class::Missing,
                    ),
                },
                "hostdev" => g.node(format!("pci:{source}"), source.clone(), Class::Other),
                _ => g.interface(facts, source),
            };
            let mut label = nic.tap.clone().or(nic.mac.clone()).unwrap_or_default();
            if nic.link_state == "down" {
                label += " (link down)";
            }
            g.edge(from, guest, label);
            // The kernel's view when it differs from the XML's: the tap on
            // another bridge, or on none.
            if let (Some(tap), true) = (&nic.tap, d.running) {
                let expected = match nic.kind.as_str() {
                    "bridge" => Some(source.clone()),
                    "network" => facts
                        .networks
                        .iter()
                        .find(|n| &n.name == source)
                        .and_then(|n| n.bridge.clone()),
                    _ => None,
                };
                if expected.is_some() && nic.bridge != expected {
                    if let Some(actual) = &nic.bridge {
                        let b = g.interface(facts, actual);
                        g.edge(b, guest, format!("{tap} (actually here)"));
                    }
                }
            }
        }
    }
    g
}

fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;").replace('\n', "<br/>")
}

fn dot_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn mermaid(g: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for (i, (_, label, class)) in g.nodes.iter().enumerate() {
        let label = mermaid_text(label);
        let shape = match class {
            Class::Network => format!("([\"{label}\"])"),
            Class::Guest => format!("[/\"{label}\"/]"),
            Class::Bridge => format!("[[\"{label}\"]]"),
            _ => format!("[\"{label}\"]"),
        };
        out += &format!("  n{i}{shape}:::{}\n", class.name());
    }
    for (f, t, label) in &g.edges {
        if label.is_empty() {
            out += &format!("  n{f} --> n{t}\n");
        } else {
            out += &format!("  n{f} -->|\"{}\"| n{t}\n", mermaid_text(label));
        }
    }
    out += "  classDef nic fill:#e8f0fe,stroke:#4a6fa5\n\
            \x20 classDef bond fill:#fff4e0,stroke:#b07a1e\n\
            \x20 classDef vlan fill:#f3e8fd,stroke:#7b4ca0\n\
            \x20 classDef bridge fill:#e6f4ea,stroke:#2e7d32\n\
            \x20 classDef other fill:#f5f5f5,stroke:#777\n\
            \x20 classDef network fill:#e0f7fa,stroke:#00838f\n\
            \x20 classDef guest fill:#fffde7,stroke:#9e9d24\n\
            \x20 classDef missing fill:#ffebee,stroke:#c62828,stroke-dasharray:4 3\n";
    out
}

fn dot(g: &Graph) -> String {
    let mut out = String::from(
        "digraph kvmnet {\n  rankdir=LR;\n  node [fontname=\"sans-serif\", fontsize=11, style=filled];\n  edge [fontname=\"sans-serif\", fontsize=9];\n",
    );
    for (i, (_, label, class)) in g.nodes.iter().enumerate() {
        let (shape, fill, extra) = match class {
            Class::Nic => ("box", "#e8f0fe", ""),
            Class::Bond => ("box", "#fff4e0", ""),
            Class::Vlan => ("box", "#f3e8fd", ""),
            Class::Bridge => ("box", "#e6f4ea", ", peripheries=2"),
            Class::Other => ("box", "#f5f5f5", ""),
            Class::Network => ("ellipse", "#e0f7fa", ""),
            Class::Guest => ("component", "#fffde7", ""),
            Class::Missing => (
                "box",
                "#ffebee",
                ", style=\"filled,dashed\", color=\"#c62828\"",
            ),
        };
        out += &format!(
            "  n{i} [label=\"{}\", shape={shape}, fillcolor=\"{fill}\"{extra}];\n",
            dot_text(label)
        );
    }
    for (f, t, label) in &g.edges {
        if label.is_empty() {
            out += &format!("  n{f} -> n{t};\n");
        } else {
            out += &format!("  n{f} -> n{t} [label=\"{}\"];\n", dot_text(label));
        }
    }
    out += "}\n";
    out
}

/// The picture of `facts`.
pub fn render(facts: &Facts) -> Topology {
    let g = build(facts);
    Topology {
        mermaid: mermaid(&g),
        dot: dot(&g),
    }
}
