//! A forward's firewall rules: a pure function from a resolved [`Forward`]
//! to tagged [`Rule`]s for one backend, and parsers for what `nft -a list`
//! and `iptables -S` show of them.
//!
//! Every rule carries a comment `kvmnet:<name>:<hash>`; the hash covers the
//! rule's chain and text. So the tag alone says whose rule it is and
//! whether it is still the rule the task asks for: nothing has to compare
//! rule texts in the forms nft and iptables print them back.

use crate::params::Protocol;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;

/// Our own nftables table (family `ip`).
pub const NFT_TABLE: &str = "kvmnet";
/// libvirt's nftables table, and its base chain at the forward hook: our
/// accept goes at its top, before the jump to `guest_input` where libvirt
/// rejects. libvirt re-adds the rules of `guest_input` above anything else
/// there whenever it restarts a network or itself; the base chain's jumps
/// it makes once, with the table.
pub const LIBVIRT_TABLE: &str = "libvirt_network";
pub const LIBVIRT_CHAIN: &str = "forward";
/// The iptables chain libvirt rejects inbound traffic to its networks in.
pub const LIBVIRT_FWI: &str = "LIBVIRT_FWI";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Firewall {
    Nftables,
    Iptables,
}

/// Where a rule goes. `Forward` is libvirt's `forward` chain (nftables)
/// or the built-in `FORWARD` chain (iptables); the others are NAT hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Chain {
    Prerouting,
    Output,
    Postrouting,
    Forward,
}

impl Chain {
    pub const NAT: [Chain; 3] = [Chain::Prerouting, Chain::Output, Chain::Postrouting];

    /// The chain's name in our nft table (NAT chains) or in iptables.
    pub fn name(self, fw: Firewall) -> &'static str {
        match (fw, self) {
            (Firewall::Nftables, Chain::Prerouting) => "prerouting",
            (Firewall::Nftables, Chain::Output) => "output",
            (Firewall::Nftables, Chain::Postrouting) => "postrouting",
            (Firewall::Nftables, Chain::Forward) => LIBVIRT_CHAIN,
            (Firewall::Iptables, Chain::Prerouting) => "PREROUTING",
            (Firewall::Iptables, Chain::Output) => "OUTPUT",
            (Firewall::Iptables, Chain::Postrouting) => "POSTROUTING",
            (Firewall::Iptables, Chain::Forward) => "FORWARD",
        }
    }

    /// The nft table (`ip <table>`) or iptables table the chain is in.
    pub fn table(self, fw: Firewall) -> &'static str {
        match (fw, self) {
            (Firewall::Nftables, Chain::Forward) => LIBVIRT_TABLE,
            (Firewall::Nftables, _) => NFT_TABLE,
            (Firewall::Iptables, Chain::Forward) => "filter",
            (Firewall::Iptables, _) => "nat",
        }
    }

    fn from_name(fw: Firewall, name: &str) -> Option<Chain> {
        [
            Chain::Prerouting,
            Chain::Output,
            Chain::Postrouting,
            Chain::Forward,
        ]
        .into_iter()
        .find(|c| c.name(fw) == name)
    }
}

/// A port or an inclusive range of ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ports {
    pub first: u16,
    pub last: u16,
}

impl Ports {
    /// `80` or `8000-8010`; ports 1 to 65535.
    pub fn parse(option: &str, text: &str) -> Result<Ports, String> {
        let port = |t: &str| match t.trim().parse::<u32>() {
            Ok(p @ 1..=65535) => Ok(p as u16),
            _ => Err(format!(
                "{option}: '{text}' is not a port (1 to 65535) or a range of ports (8000-8010)"
            )),
        };
        let (first, last) = match text.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => (port(text)?, port(text)?),
        };
        if first > last {
            return Err(format!(
                "{option}: the range '{text}' ends before it starts"
            ));
        }
        Ok(Ports { first, last })
    }

    pub fn is_range(self) -> bool {
        self.first != self.last
    }

    fn joined(self, sep: char) -> String {
        if self.is_range() {
            format!("{}{sep}{}", self.first, self.last)
        } else {
            self.first.to_string()
        }
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.joined('-'))
    }
}

/// An IPv4 network, host bits zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    /// `10.0.0.0/8` or a single address `192.0.2.7`.
    pub fn parse(option: &str, text: &str) -> Result<Cidr, String> {
        let bad = || format!("{option}: '{text}' is not an IPv4 address or CIDR (10.0.0.0/8)");
        let (a, p) = text.trim().split_once('/').unwrap_or((text.trim(), "32"));
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().ok().filter(|p| *p <= 32).ok_or_else(bad)?;
        let cidr = Cidr { addr, prefix };
        if cidr.network() != addr {
            return Err(format!(
                "{option}: '{text}' has host bits set; the network is {}/{prefix}",
                cidr.network()
            ));
        }
        Ok(cidr)
    }

    pub fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    pub fn network(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prefix == 32 {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// A forward with everything resolved: what the rules are made from, and
/// what is saved for the hook to put them back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    pub name: String,
    pub network: String,
    /// The guest by name, when the task named it (the qemu hook's key).
    pub domain: Option<String>,
    pub firewall: Firewall,
    pub protocol: Protocol,
    pub host_ports: Ports,
    pub dest: Ipv4Addr,
    pub dest_ports: Ports,
    pub in_interface: Option<String>,
    pub host_address: Option<Ipv4Addr>,
    pub sources: Vec<Cidr>,
    pub hairpin: bool,
    /// The network's bridge and subnet, as libvirt has them.
    pub bridge: String,
    pub subnet: Cidr,
}

/// One rule of a forward: rendered from the task, or listed by the backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub firewall: Firewall,
    pub chain: Chain,
    /// The rule without its comment: as the backend takes it (rendered; for
    /// iptables the matches, then ` -j ` and the target) or as it lists it.
    pub text: String,
    /// `kvmnet:<name>:<hash of chain and text>`.
    pub tag: String,
    /// What deletes a listed rule: the nft handle, or the iptables `-S`
    /// line. Empty for a rendered rule.
    #[serde(skip)]
    pub handle: String,
    /// False for an accept that sits below libvirt's reject (nftables) or
    /// below the jump to LIBVIRT_FWI (iptables), where it does nothing.
    #[serde(skip)]
    pub well_placed: bool,
}

impl Rule {
    fn new(name: &str, firewall: Firewall, chain: Chain, text: String) -> Rule {
        let tag = format!(
            "{}{:08x}",
            tag_prefix(name),
            fnv1a(&format!("{firewall:?} {chain:?} {text}")) as u32
        );
        Rule {
            firewall,
            chain,
            text,
            tag,
            handle: String::new(),
            well_placed: true,
        }
    }

    /// The rule with its comment, as `nft add rule … <this>` or
    /// `iptables -A <chain> <this>` takes it.
    pub fn with_comment(&self) -> String {
        match self.firewall {
            Firewall::Nftables => format!("{} comment \"{}\"", self.text, self.tag),
            Firewall::Iptables => match self.text.split_once(" -j ") {
                Some((matches, target)) => {
                    format!("{matches} -m comment --comment {} -j {target}", self.tag)
                }
                None => format!("{} -m comment --comment {}", self.text, self.tag),
            },
        }
    }
}

/// Every tag of forward `name` starts with this.
pub fn tag_prefix(name: &str) -> String {
    format!("kvmnet:{name}:")
}

/// 64-bit FNV-1a: small, stable across builds and platforms.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The forward's rules, in the order they are listed in the diff.
pub fn render(f: &Forward) -> Vec<Rule> {
    match f.firewall {
        Firewall::Nftables => render_nft(f),
        Firewall::Iptables => render_iptables(f),
    }
}

fn render_nft(f: &Forward) -> Vec<Rule> {
    let proto = kvmnet_core::enum_name(&f.protocol);
    let daddr = match f.host_address {
        Some(a) => format!("ip daddr {a}"),
        None => "fib daddr type local".to_string(),
    };
    // A range keeps its ports; a single port may be mapped to another.
    let to = if f.host_ports.is_range() {
        f.dest.to_string()
    } else {
        format!("{}:{}", f.dest, f.dest_ports)
    };
    let dnat = format!("{daddr} {proto} dport {} dnat to {to}", f.host_ports);
    let iif = match &f.in_interface {
        Some(i) => format!("iifname \"{i}\""),
        None => format!("iifname != \"{}\"", f.bridge),
    };
    let saddr = match f.sources.as_slice() {
        [] => String::new(),
        [one] => format!("ip saddr {one} "),
        many => format!(
            "ip saddr {{ {} }} ",
            many.iter()
                .map(Cidr::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let rule = |chain, text: String| Rule::new(&f.name, Firewall::Nftables, chain, text);
    let mut rules = vec![rule(Chain::Prerouting, format!("{iif} {saddr}{dnat}"))];
    if f.hairpin {
        rules.push(rule(
            Chain::Prerouting,
            format!("iifname \"{}\" {dnat}", f.bridge),
        ));
        rules.push(rule(
            Chain::Output,
            format!("ip daddr != 127.0.0.0/8 {dnat}"),
        ));
        rules.push(rule(
            Chain::Postrouting,
            format!(
                "ip saddr {} ip daddr {} {proto} dport {} ct status dnat masquerade",
                f.subnet, f.dest, f.dest_ports
            ),
        ));
    }
    rules.push(rule(
        Chain::Forward,
        format!(
            "oifname \"{}\" ip daddr {} {proto} dport {} ct status dnat accept",
            f.bridge, f.dest, f.dest_ports
        ),
    ));
    rules
}

fn render_iptables(f: &Forward) -> Vec<Rule> {
    let proto = kvmnet_core::enum_name(&f.protocol);
    let daddr = match f.host_address {
        Some(a) => format!("-d {a}/32"),
        None => "-m addrtype --dst-type LOCAL".to_string(),
    };
    let to = if f.host_ports.is_range() {
        f.dest.to_string()
    } else {
        format!("{}:{}", f.dest, f.dest_ports)
    };
    let dnat = format!(
        "-p {proto} {daddr} --dport {} -j DNAT --to-destination {to}",
        f.host_ports.joined(':')
    );
    let iif = match &f.in_interface {
        Some(i) => format!("-i {i}"),
        None => format!("! -i {}", f.bridge),
    };
    let rule = |chain, text: String| Rule::new(&f.name, Firewall::Iptables, chain, text);
    // iptables takes one source per rule.
    let mut rules: Vec<Rule> = if f.sources.is_empty() {
        vec![rule(Chain::Prerouting, format!("{iif} {dnat}"))]
    } else {
        f.sources
            .iter()
            .map(|s| rule(Chain::Prerouting, format!("{iif} -s {s} {dnat}")))
            .collect()
    };
    let dport = f.dest_ports.joined(':');
    if f.hairpin {
        rules.push(rule(Chain::Prerouting, format!("-i {} {dnat}", f.bridge)));
        rules.push(rule(Chain::Output, format!("! -d 127.0.0.0/8 {dnat}")));
        rules.push(rule(
            Chain::Postrouting,
            format!(
                "-s {} -d {}/32 -p {proto} --dport {dport} -m conntrack --ctstate DNAT -j MASQUERADE",
                f.subnet, f.dest
            ),
        ));
    }
    rules.push(rule(
        Chain::Forward,
        format!(
            "-d {}/32 -o {} -p {proto} --dport {dport} -m conntrack --ctstate DNAT -j ACCEPT",
            f.dest, f.bridge
        ),
    ));
    rules
}

/// The kvmnet-tagged rules in `nft -a list table …` output. Rules of a
/// chain count as well placed until a reject, or the jump to libvirt's
/// `guest_input` (which rejects), has been seen.
pub fn parse_nft(listing: &str) -> Vec<Rule> {
    let mut out = Vec::new();
    let mut chain = None;
    let mut rejected = false;
    for line in listing.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("chain ") {
            let name = rest.split_whitespace().next().unwrap_or("");
            chain = Chain::from_name(Firewall::Nftables, name);
            rejected = false;
            continue;
        }
        let Some(chain) = chain else { continue };
        let (body, handle) = match line.rsplit_once(" # handle ") {
            Some((b, h)) => (b, h.trim()),
            None => continue,
        };
        if let Some((text, comment)) = body.split_once(" comment \"kvmnet:") {
            let tag = format!("kvmnet:{}", comment.trim_end_matches('"'));
            out.push(Rule {
                firewall: Firewall::Nftables,
                chain,
                tag,
                text: text.to_string(),
                handle: handle.to_string(),
                well_placed: !rejected,
            });
        } else if body.contains(" reject")
            || body.starts_with("reject")
            || body.ends_with("jump guest_input")
        {
            rejected = true;
        }
    }
    out
}

/// The kvmnet-tagged rules in `iptables -S` output (one table). In
/// FORWARD, rules count as well placed until the jump to LIBVIRT_FWI.
pub fn parse_iptables(listing: &str) -> Vec<Rule> {
    let mut out = Vec::new();
    let mut jumped = false;
    for line in listing.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        if words.next() != Some("-A") {
            continue;
        }
        let Some(chain) = words
            .next()
            .and_then(|c| Chain::from_name(Firewall::Iptables, c))
        else {
            continue;
        };
        if chain == Chain::Forward && line.ends_with(&format!("-j {LIBVIRT_FWI}")) {
            jumped = true;
        }
        let Some((before, after)) = line.split_once(" -m comment --comment ") else {
            continue;
        };
        let (comment, target) = after.split_once(' ').unwrap_or((after, ""));
        let tag = comment.trim_matches('"');
        if !tag.starts_with("kvmnet:") {
            continue;
        }
        let matches = before
            .split_once(' ')
            .and_then(|(_, r)| r.split_once(' '))
            .map_or("", |(_, r)| r);
        out.push(Rule {
            firewall: Firewall::Iptables,
            chain,
            tag: tag.to_string(),
            text: format!("{matches} {target}").trim().to_string(),
            handle: line.to_string(),
            well_placed: chain != Chain::Forward || !jumped,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_cidrs_parse_or_say_why() {
        assert_eq!(
            Ports::parse("p", "80").unwrap(),
            Ports {
                first: 80,
                last: 80
            }
        );
        assert_eq!(
            Ports::parse("p", "8000-8010").unwrap().to_string(),
            "8000-8010"
        );
        assert!(Ports::parse("p", "0").unwrap_err().contains("not a port"));
        assert!(Ports::parse("p", "65536").is_err());
        assert!(
            Ports::parse("p", "90-80")
                .unwrap_err()
                .contains("ends before")
        );
        assert_eq!(
            Cidr::parse("s", "10.0.0.0/8").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(Cidr::parse("s", "192.0.2.7").unwrap().prefix, 32);
        assert!(
            Cidr::parse("s", "10.0.0.1/8")
                .unwrap_err()
                .contains("10.0.0.0/8")
        );
        assert!(Cidr::parse("s", "10.0.0.0/33").is_err());
        assert!(Cidr::parse("s", "nope").is_err());
    }

    #[test]
    fn nft_listing_gives_tags_handles_and_placement() {
        let listing = r#"table ip libvirt_network { # handle 3
	chain forward { # handle 1
		type filter hook forward priority filter; policy accept;
		counter packets 46 bytes 3492 jump guest_cross # handle 7
		counter packets 46 bytes 3492 jump guest_input # handle 5
		oifname "virbr-fw" ip daddr 10.93.0.50 tcp dport 80 ct status dnat accept comment "kvmnet:web:0000abcd" # handle 30
	}
	chain other { # handle 8
		oifname "x" accept comment "kvmnet:web:00001111" # handle 31
	}
}"#;
        let rules = parse_nft(listing);
        assert_eq!(rules.len(), 1, "rules of chains we do not use are not ours");
        assert_eq!(rules[0].tag, "kvmnet:web:0000abcd");
        assert_eq!(rules[0].handle, "30");
        assert!(!rules[0].well_placed, "below the jump to libvirt's reject");
        assert!(rules[0].text.ends_with("ct status dnat accept"));
    }

    #[test]
    fn iptables_listing_gives_tags_and_placement() {
        let listing = "-P FORWARD ACCEPT\n\
-A FORWARD -d 10.9.0.5/32 -o virbr1 -p tcp -m tcp --dport 80 -m conntrack --ctstate DNAT -m comment --comment kvmnet:web:0000aaaa -j ACCEPT\n\
-A FORWARD -j LIBVIRT_FWX\n-A FORWARD -j LIBVIRT_FWI\n\
-A FORWARD -d 10.9.0.6/32 -m comment --comment \"kvmnet:db:0000bbbb\" -j ACCEPT\n\
-A FORWARD -m comment --comment \"someone else\" -j ACCEPT\n";
        let rules = parse_iptables(listing);
        assert_eq!(rules.len(), 2);
        assert!(rules[0].well_placed);
        assert_eq!(rules[1].tag, "kvmnet:db:0000bbbb");
        assert!(!rules[1].well_placed, "below the jump to LIBVIRT_FWI");
        assert_eq!(rules[1].text, "-d 10.9.0.6/32 -j ACCEPT");
    }
}
