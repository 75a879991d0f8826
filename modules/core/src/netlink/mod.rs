//! Reading the kernel's links, bridges and addresses over rtnetlink.
//!
//! A dump request on a NETLINK_ROUTE socket, and a small parser for the
//! few attributes kvmnet verifies. Why not the rtnetlink crate: with tokio
//! it alone makes a module binary about 1.07 MB (measured), and every task
//! copies the binary to every host; this reader adds a few kilobytes.

use crate::error::{Error, Result};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use std::net::IpAddr;

pub mod vf;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_LINK: u16 = 5;
const IFLA_MASTER: u16 = 10;
const IFLA_OPERSTATE: u16 = 16;
const IFLA_LINKINFO: u16 = 18;
const IFLA_STATS64: u16 = 23;
const IFLA_PROMISCUITY: u16 = 30;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const IFLA_BR_FORWARD_DELAY: u16 = 1;
const IFLA_BR_HELLO_TIME: u16 = 2;
const IFLA_BR_MAX_AGE: u16 = 3;
const IFLA_BR_AGEING_TIME: u16 = 4;
const IFLA_BR_STP_STATE: u16 = 5;
const IFLA_BR_PRIORITY: u16 = 6;
const IFLA_BR_TOPOLOGY_CHANGE: u16 = 14;
const IFLA_BOND_MODE: u16 = 1;
const IFLA_BOND_ACTIVE_SLAVE: u16 = 2;
const IFLA_BOND_MIIMON: u16 = 3;
const IFLA_BOND_UPDELAY: u16 = 4;
const IFLA_BOND_DOWNDELAY: u16 = 5;
const IFLA_BOND_ARP_INTERVAL: u16 = 7;
const IFLA_BOND_ARP_IP_TARGET: u16 = 8;
const IFLA_BOND_ARP_VALIDATE: u16 = 9;
const IFLA_BOND_ARP_ALL_TARGETS: u16 = 10;
const IFLA_BOND_PRIMARY: u16 = 11;
const IFLA_BOND_PRIMARY_RESELECT: u16 = 12;
const IFLA_BOND_FAIL_OVER_MAC: u16 = 13;
const IFLA_BOND_XMIT_HASH_POLICY: u16 = 14;
const IFLA_BOND_RESEND_IGMP: u16 = 15;
const IFLA_BOND_NUM_PEER_NOTIF: u16 = 16;
const IFLA_BOND_ALL_SLAVES_ACTIVE: u16 = 17;
const IFLA_BOND_MIN_LINKS: u16 = 18;
const IFLA_BOND_LP_INTERVAL: u16 = 19;
const IFLA_BOND_PACKETS_PER_SLAVE: u16 = 20;
const IFLA_BOND_AD_LACP_RATE: u16 = 21;
const IFLA_BOND_AD_SELECT: u16 = 22;
const IFLA_VLAN_ID: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;

const IFF_UP: u32 = 1;
const IF_OPER_UP: u8 = 6;

/// Bridge settings, in the kernel's units: times in centiseconds
/// (clock_t), as `ip -d link` shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BridgeInfo {
    pub stp_state: u32,
    pub forward_delay: u32,
    pub hello_time: u32,
    pub max_age: u32,
    pub ageing_time: u32,
    pub priority: u16,
    /// STP's topology change is under way: the kernel then ages the
    /// forwarding table faster, and reports that ageing time.
    pub topology_change: bool,
}

/// The kernel's bonding modes by number (include/uapi/linux/if_bonding.h),
/// with the names netplan and `ip` use.
pub const BOND_MODES: [&str; 7] = [
    "balance-rr",
    "active-backup",
    "balance-xor",
    "broadcast",
    "802.3ad",
    "balance-tlb",
    "balance-alb",
];

/// Bond settings, as the kernel keeps them: enumerations by number (the
/// order of `ip -d link`'s names), times in milliseconds except the
/// learning packet interval (seconds), members by ifindex.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BondInfo {
    pub mode: u8,
    /// The active member (active-backup, balance-tlb, balance-alb).
    pub active: Option<u32>,
    pub primary: Option<u32>,
    pub miimon: u32,
    pub updelay: u32,
    pub downdelay: u32,
    pub arp_interval: u32,
    pub arp_ip_targets: Vec<std::net::Ipv4Addr>,
    pub arp_validate: u32,
    pub arp_all_targets: u32,
    pub primary_reselect: u8,
    pub fail_over_mac: u8,
    pub xmit_hash_policy: u8,
    pub resend_igmp: u32,
    pub num_peer_notif: u8,
    pub all_slaves_active: u8,
    pub min_links: u32,
    pub lp_interval: u32,
    pub packets_per_slave: u32,
    pub lacp_rate: u8,
    pub ad_select: u8,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Operationally up (carrier and all).
    pub oper_up: bool,
    pub mtu: u32,
    /// MAC address, lowercase `aa:bb:..`.
    pub mac: Option<String>,
    /// Index of the bridge or bond this link is enslaved to.
    pub master: Option<u32>,
    /// `bridge`, `bond`, `vlan`, `veth`...; None for plain NICs.
    pub kind: Option<String>,
    pub bridge: Option<BridgeInfo>,
    pub bond: Option<BondInfo>,
    /// Promiscuous mode is on: set by hand, or by a bridge or macvtap the
    /// link is a port of (IFLA_PROMISCUITY counts both; the IFF_PROMISC
    /// flag rtnetlink reports is only the one set by hand).
    pub promisc: bool,
    /// The link this one is stacked on (IFLA_LINK): a VLAN's parent, a
    /// macvtap's lower device; for a veth, its peer (maybe in another
    /// namespace). None when there is none.
    pub parent: Option<u32>,
    /// A VLAN link's 802.1Q ID.
    pub vlan_id: Option<u16>,
    /// Packets the kernel dropped on this link, received and sent
    /// (rtnl_link_stats64 rx_dropped, tx_dropped).
    pub rx_dropped: u64,
    pub tx_dropped: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub index: u32,
    pub address: IpAddr,
    pub prefix: u8,
}

/// Netlink attributes of one message: (type without flag bits, payload).
pub(crate) fn attributes(mut buf: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while buf.len() >= 4 {
        let len = u16::from_ne_bytes([buf[0], buf[1]]) as usize;
        let kind = u16::from_ne_bytes([buf[2], buf[3]]) & 0x3fff;
        if len < 4 || len > buf.len() {
            break;
        }
        out.push((kind, &buf[4..len]));
        let aligned = (len + 3) & !3;
        buf = &buf[aligned.min(buf.len())..];
    }
    out
}

pub(crate) fn u32_of(b: &[u8]) -> u32 {
    b.get(..4)
        .map(|x| u32::from_ne_bytes([x[0], x[1], x[2], x[3]]))
        .unwrap_or(0)
}

fn u64_of(b: &[u8]) -> u64 {
    b.get(..8)
        .and_then(|x| x.try_into().ok())
        .map(u64::from_ne_bytes)
        .unwrap_or(0)
}

fn string_of(b: &[u8]) -> String {
    String::from_utf8_lossy(b.split(|c| *c == 0).next().unwrap_or_default()).into_owned()
}

pub(crate) fn io(what: &str, e: std::io::Error) -> Error {
    Error::backend(format!("rtnetlink {what}: {e}"))
}

/// Open a NETLINK_ROUTE socket and send one request of `kind` (with
/// NLM_F_REQUEST and `flags`) whose body is `body`.
pub(crate) fn send(kind: u16, flags: u16, body: &[u8]) -> Result<Socket> {
    let socket = Socket::new(NETLINK_ROUTE).map_err(|e| io("socket", e))?;
    socket
        .connect(&SocketAddr::new(0, 0))
        .map_err(|e| io("connect", e))?;
    let len = (16 + body.len()) as u32;
    let mut req = Vec::with_capacity(len as usize);
    req.extend_from_slice(&len.to_ne_bytes());
    req.extend_from_slice(&kind.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    req.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
    req.extend_from_slice(body);
    socket.send(&req, 0).map_err(|e| io("send", e))?;
    Ok(socket)
}

/// Send a dump request of `kind` with the family header `body`; return each
/// reply message's payload (after the netlink header).
fn dump(kind: u16, reply: u16, body: &[u8]) -> Result<Vec<Vec<u8>>> {
    let socket = send(kind, NLM_F_DUMP, body)?;

    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = socket
            .recv(&mut &mut buf[..], 0)
            .map_err(|e| io("recv", e))?;
        let mut msg = &buf[..n];
        while msg.len() >= 16 {
            let len = u32_of(msg) as usize;
            let mtype = u16::from_ne_bytes([msg[4], msg[5]]);
            if len < 16 || len > msg.len() {
                return Err(Error::backend("rtnetlink: truncated reply"));
            }
            match mtype {
                NLMSG_DONE => return Ok(out),
                NLMSG_ERROR => {
                    let errno = i32::from_ne_bytes([msg[16], msg[17], msg[18], msg[19]]);
                    if errno != 0 {
                        return Err(io("dump", std::io::Error::from_raw_os_error(-errno)));
                    }
                }
                t if t == reply => out.push(msg[16..len].to_vec()),
                _ => {}
            }
            msg = &msg[((len + 3) & !3).min(msg.len())..];
        }
    }
}

fn parse_bridge(data: &[u8]) -> BridgeInfo {
    let mut b = BridgeInfo::default();
    for (kind, v) in attributes(data) {
        match kind {
            IFLA_BR_FORWARD_DELAY => b.forward_delay = u32_of(v),
            IFLA_BR_HELLO_TIME => b.hello_time = u32_of(v),
            IFLA_BR_MAX_AGE => b.max_age = u32_of(v),
            IFLA_BR_AGEING_TIME => b.ageing_time = u32_of(v),
            IFLA_BR_STP_STATE => b.stp_state = u32_of(v),
            IFLA_BR_PRIORITY if v.len() >= 2 => b.priority = u16::from_ne_bytes([v[0], v[1]]),
            IFLA_BR_TOPOLOGY_CHANGE => b.topology_change = v.first().is_some_and(|x| *x != 0),
            _ => {}
        }
    }
    b
}

fn parse_bond(data: &[u8]) -> BondInfo {
    let mut b = BondInfo::default();
    let byte = |v: &[u8]| v.first().copied().unwrap_or(0);
    for (kind, v) in attributes(data) {
        match kind {
            IFLA_BOND_MODE => b.mode = byte(v),
            IFLA_BOND_ACTIVE_SLAVE => b.active = Some(u32_of(v)),
            IFLA_BOND_PRIMARY => b.primary = Some(u32_of(v)),
            IFLA_BOND_MIIMON => b.miimon = u32_of(v),
            IFLA_BOND_UPDELAY => b.updelay = u32_of(v),
            IFLA_BOND_DOWNDELAY => b.downdelay = u32_of(v),
            IFLA_BOND_ARP_INTERVAL => b.arp_interval = u32_of(v),
            IFLA_BOND_ARP_IP_TARGET => {
                // Nested: one attribute per target, the address in network
                // byte order.
                b.arp_ip_targets = attributes(v)
                    .into_iter()
                    .filter(|(_, a)| a.len() == 4)
                    .map(|(_, a)| std::net::Ipv4Addr::new(a[0], a[1], a[2], a[3]))
                    .collect()
            }
            IFLA_BOND_ARP_VALIDATE => b.arp_validate = u32_of(v),
            IFLA_BOND_ARP_ALL_TARGETS => b.arp_all_targets = u32_of(v),
            IFLA_BOND_PRIMARY_RESELECT => b.primary_reselect = byte(v),
            IFLA_BOND_FAIL_OVER_MAC => b.fail_over_mac = byte(v),
            IFLA_BOND_XMIT_HASH_POLICY => b.xmit_hash_policy = byte(v),
            IFLA_BOND_RESEND_IGMP => b.resend_igmp = u32_of(v),
            IFLA_BOND_NUM_PEER_NOTIF => b.num_peer_notif = byte(v),
            IFLA_BOND_ALL_SLAVES_ACTIVE => b.all_slaves_active = byte(v),
            IFLA_BOND_MIN_LINKS => b.min_links = u32_of(v),
            IFLA_BOND_LP_INTERVAL => b.lp_interval = u32_of(v),
            IFLA_BOND_PACKETS_PER_SLAVE => b.packets_per_slave = u32_of(v),
            IFLA_BOND_AD_LACP_RATE => b.lacp_rate = byte(v),
            IFLA_BOND_AD_SELECT => b.ad_select = byte(v),
            _ => {}
        }
    }
    b
}

/// Every link in this network namespace.
pub fn links() -> Result<Vec<Link>> {
    // struct ifinfomsg, all zero: every family, every link.
    let msgs = dump(RTM_GETLINK, RTM_NEWLINK, &[0u8; 16])?;
    Ok(msgs
        .iter()
        .filter(|m| m.len() >= 16)
        .map(|m| {
            let mut link = Link {
                index: u32_of(&m[4..8]),
                up: u32_of(&m[8..12]) & IFF_UP != 0,
                ..Link::default()
            };
            let mut info_data: &[u8] = &[];
            for (kind, v) in attributes(&m[16..]) {
                match kind {
                    IFLA_IFNAME => link.name = string_of(v),
                    IFLA_MTU => link.mtu = u32_of(v),
                    IFLA_MASTER => link.master = Some(u32_of(v)),
                    IFLA_PROMISCUITY => link.promisc = u32_of(v) > 0,
                    IFLA_LINK => link.parent = Some(u32_of(v)).filter(|p| *p != link.index),
                    // struct rtnl_link_stats64: u64 rx/tx packets, bytes,
                    // errors, then rx_dropped (byte 48) and tx_dropped (56).
                    IFLA_STATS64 if v.len() >= 64 => {
                        link.rx_dropped = u64_of(&v[48..56]);
                        link.tx_dropped = u64_of(&v[56..64]);
                    }
                    IFLA_OPERSTATE => link.oper_up = v.first() == Some(&IF_OPER_UP),
                    IFLA_ADDRESS if v.len() == 6 => {
                        link.mac = Some(
                            v.iter()
                                .map(|b| format!("{b:02x}"))
                                .collect::<Vec<_>>()
                                .join(":"),
                        )
                    }
                    IFLA_LINKINFO => {
                        for (ik, iv) in attributes(v) {
                            match ik {
                                IFLA_INFO_KIND => link.kind = Some(string_of(iv)),
                                IFLA_INFO_DATA => info_data = iv,
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            // INFO_DATA's attributes depend on the kind.
            match link.kind.as_deref() {
                Some("bridge") => link.bridge = Some(parse_bridge(info_data)),
                Some("bond") => link.bond = Some(parse_bond(info_data)),
                Some("vlan") => {
                    link.vlan_id = attributes(info_data)
                        .into_iter()
                        .find(|(k, v)| *k == IFLA_VLAN_ID && v.len() >= 2)
                        .map(|(_, v)| u16::from_ne_bytes([v[0], v[1]]))
                }
                _ => {}
            }
            link
        })
        .collect())
}

/// The links and addresses of this network namespace, read together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kernel {
    pub links: Vec<Link>,
    pub addresses: Vec<Address>,
}

impl Kernel {
    pub fn read() -> Result<Kernel> {
        Ok(Kernel {
            links: links()?,
            addresses: addresses()?,
        })
    }

    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    pub fn name_of(&self, index: u32) -> Option<&str> {
        self.links
            .iter()
            .find(|l| l.index == index)
            .map(|l| l.name.as_str())
    }

    /// The links enslaved to `master`.
    pub fn members_of(&self, master: &Link) -> Vec<&Link> {
        self.links
            .iter()
            .filter(|l| l.master == Some(master.index))
            .collect()
    }

    /// Whether an interface is up with `ip` on it.
    pub fn has_up_address(&self, ip: IpAddr) -> bool {
        self.addresses
            .iter()
            .filter(|a| a.address == ip)
            .any(|a| self.links.iter().any(|l| l.index == a.index && l.up))
    }

    /// Whether `link` has `cidr` (`10.0.0.1/24`) as an address.
    pub fn has_address(&self, link: &Link, cidr: &str) -> bool {
        let (ip, prefix) = cidr.split_once('/').unwrap_or((cidr, ""));
        let ip: Option<IpAddr> = ip.parse().ok();
        self.addresses.iter().any(|x| {
            x.index == link.index && Some(x.address) == ip && x.prefix.to_string() == prefix
        })
    }
}

/// Every IPv4 and IPv6 address in this network namespace.
pub fn addresses() -> Result<Vec<Address>> {
    // struct ifaddrmsg, all zero: every family.
    let msgs = dump(RTM_GETADDR, RTM_NEWADDR, &[0u8; 8])?;
    let mut out = Vec::new();
    for m in msgs.iter().filter(|m| m.len() >= 8) {
        let (family, prefix, index) = (m[0], m[1], u32_of(&m[4..8]));
        let attrs = attributes(&m[8..]);
        // IFA_LOCAL is the address on point-to-point links; else IFA_ADDRESS.
        let raw = attrs
            .iter()
            .find(|(k, _)| *k == IFA_LOCAL)
            .or_else(|| attrs.iter().find(|(k, _)| *k == IFA_ADDRESS));
        let address = match (family, raw) {
            (2, Some((_, v))) if v.len() == 4 => IpAddr::from([v[0], v[1], v[2], v[3]]),
            (10, Some((_, v))) if v.len() == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(v);
                IpAddr::from(a)
            }
            _ => continue,
        };
        out.push(Address {
            index,
            address,
            prefix,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against this machine's (or namespace's) real kernel: loopback is
    /// always there, up, with 127.0.0.1/8.
    #[test]
    fn reads_loopback_from_the_kernel() {
        let links = links().unwrap();
        let lo = links.iter().find(|l| l.name == "lo").expect("lo");
        assert!(lo.up);
        assert!(lo.mtu > 0);
        let addrs = addresses().unwrap();
        assert!(
            addrs.iter().any(|a| a.index == lo.index
                && a.address == IpAddr::from([127, 0, 0, 1])
                && a.prefix == 8),
            "{addrs:?}"
        );
        // Names agree with sysfs.
        for l in &links {
            let idx =
                std::fs::read_to_string(format!("/sys/class/net/{}/ifindex", l.name)).unwrap();
            assert_eq!(idx.trim(), l.index.to_string());
        }
    }

    /// Bridge settings and ports agree with sysfs, in the sandbox host's
    /// namespace (it has `br-host` with port `veth-lan0`): the test runs
    /// itself again inside it. `make test` runs it with `-- --ignored`.
    #[test]
    #[ignore = "needs the sandbox host: make test"]
    fn bridge_settings_agree_with_sysfs() {
        if std::env::var_os("KVMNET_IN_SANDBOX_NS").is_none() {
            let ns = std::env::var("KVMNET_NS").expect(
                "KVMNET_NS is not set: run `make test`, or eval \"$(tests/rig/sandbox.sh env)\"",
            );
            let exe = std::env::current_exe().unwrap();
            let out = std::process::Command::new("ip")
                .args(["netns", "exec", &ns])
                .arg(exe)
                .args([
                    "--exact",
                    "netlink::tests::bridge_settings_agree_with_sysfs",
                    "--ignored",
                    "--nocapture",
                ])
                .env("KVMNET_IN_SANDBOX_NS", "1")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "in {ns}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
            return;
        }
        let links = links().unwrap();
        let br = links
            .iter()
            .find(|l| l.name == "br-host")
            .expect("br-host in the sandbox namespace");
        assert_eq!(br.kind.as_deref(), Some("bridge"));
        let port = links
            .iter()
            .find(|l| l.name == "veth-lan0")
            .expect("veth-lan0");
        assert_eq!(
            port.master,
            Some(br.index),
            "veth-lan0 is a port of br-host"
        );
        let b = br.bridge.as_ref().expect("bridge info");
        let sys = |f: &str| {
            std::fs::read_to_string(format!("/sys/class/net/br-host/bridge/{f}"))
                .unwrap()
                .trim()
                .parse::<u32>()
                .unwrap()
        };
        assert_eq!(b.forward_delay, sys("forward_delay"));
        assert_eq!(b.hello_time, sys("hello_time"));
        assert_eq!(b.max_age, sys("max_age"));
        if !b.topology_change {
            assert_eq!(b.ageing_time, sys("ageing_time"));
        }
        assert_eq!(b.stp_state, sys("stp_state"));
        assert_eq!(u32::from(b.priority), sys("priority"));
        let mac = std::fs::read_to_string("/sys/class/net/br-host/address").unwrap();
        assert_eq!(br.mac.as_deref(), Some(mac.trim()));
        // Flags and drop counters, for the bridge and its port (nothing
        // sends on them while the test runs).
        for l in [br, port] {
            let read = |f: &str| {
                let t = std::fs::read_to_string(format!("/sys/class/net/{}/{f}", l.name)).unwrap();
                let t = t.trim();
                u64::from_str_radix(
                    t.trim_start_matches("0x"),
                    if t.starts_with("0x") { 16 } else { 10 },
                )
                .unwrap()
            };
            assert_eq!(l.promisc, read("flags") & 0x100 != 0, "{}", l.name);
            assert_eq!(l.rx_dropped, read("statistics/rx_dropped"), "{}", l.name);
            assert_eq!(l.tx_dropped, read("statistics/tx_dropped"), "{}", l.name);
        }
        // A bridge port is promiscuous (the bridge set it).
        assert!(port.promisc, "veth-lan0 is a bridge port: promiscuous");
    }

    fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        a.extend_from_slice(&kind.to_ne_bytes());
        a.extend_from_slice(payload);
        while a.len() % 4 != 0 {
            a.push(0);
        }
        a
    }

    /// The bond attributes by the numbers of include/uapi/linux/if_link.h;
    /// the guest VM tests read the same fields from a real bond.
    #[test]
    fn bond_attributes_are_read_by_their_numbers() {
        let targets = [attr(0, &[10, 0, 0, 1]), attr(1, &[10, 0, 0, 2])].concat();
        let data = [
            attr(IFLA_BOND_MODE, &[4]),
            attr(IFLA_BOND_ACTIVE_SLAVE, &7u32.to_ne_bytes()),
            attr(IFLA_BOND_MIIMON, &100u32.to_ne_bytes()),
            attr(IFLA_BOND_UPDELAY, &200u32.to_ne_bytes()),
            attr(IFLA_BOND_ARP_IP_TARGET | 0x8000, &targets),
            attr(IFLA_BOND_PRIMARY, &5u32.to_ne_bytes()),
            attr(IFLA_BOND_XMIT_HASH_POLICY, &[1]),
            attr(IFLA_BOND_NUM_PEER_NOTIF, &[3]),
            attr(IFLA_BOND_MIN_LINKS, &2u32.to_ne_bytes()),
            attr(IFLA_BOND_AD_LACP_RATE, &[1]),
            attr(IFLA_BOND_AD_SELECT, &[2]),
        ]
        .concat();
        let b = parse_bond(&data);
        assert_eq!(
            b,
            BondInfo {
                mode: 4,
                active: Some(7),
                primary: Some(5),
                miimon: 100,
                updelay: 200,
                arp_ip_targets: vec![[10, 0, 0, 1].into(), [10, 0, 0, 2].into()],
                xmit_hash_policy: 1,
                num_peer_notif: 3,
                min_links: 2,
                lacp_rate: 1,
                ad_select: 2,
                ..BondInfo::default()
            }
        );
    }

    #[test]
    fn attributes_are_split_and_aligned() {
        // len 5 ("ab\0" + pad), type 3; then len 8, type 4 | NESTED flag.
        let buf = [7, 0, 3, 0, b'a', b'b', 0, 0, 8, 0, 4, 0x80, 1, 0, 0, 0];
        let attrs = attributes(&buf);
        assert_eq!(attrs, vec![(3, &b"ab\0"[..]), (4, &[1u8, 0, 0, 0][..])]);
    }
}
