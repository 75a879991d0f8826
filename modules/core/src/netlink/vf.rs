//! SR-IOV virtual functions of a physical function over rtnetlink: their
//! settings read from IFLA_VFINFO_LIST (asked for with RTEXT_FILTER_VF)
//! and set with RTM_SETLINK, as `ip link set <pf> vf N ...` does, without
//! running `ip`. Attribute numbers and structs from linux/if_link.h.

use super::{attributes, io, send, u32_of};
use crate::error::{Error, Result};
use crate::run::Mutation;

const NLMSG_ERROR: u16 = 2;
const NLM_F_ACK: u16 = 4;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const NLA_F_NESTED: u16 = 0x8000;

const IFLA_VFINFO_LIST: u16 = 22;
const IFLA_EXT_MASK: u16 = 29;
const RTEXT_FILTER_VF: u32 = 1;
const IFLA_VF_INFO: u16 = 1;
const IFLA_VF_MAC: u16 = 1;
const IFLA_VF_VLAN: u16 = 2;
const IFLA_VF_SPOOFCHK: u16 = 4;
const IFLA_VF_LINK_STATE: u16 = 5;
const IFLA_VF_RATE: u16 = 6;
const IFLA_VF_TRUST: u16 = 9;
const IFLA_VF_VLAN_LIST: u16 = 12;
const IFLA_VF_VLAN_INFO: u16 = 1;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;

/// A VF's link state as the PF enforces it (IFLA_VF_LINK_STATE_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkState {
    /// Follows the PF's link.
    #[default]
    Auto,
    Enable,
    Disable,
}

/// One VF's settings as the PF driver reports them. A setting the driver
/// does not report is None.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VfInfo {
    pub id: u32,
    /// Lowercase `aa:bb:..`; `00:00:00:00:00:00` when none is set.
    pub mac: String,
    pub vlan: u32,
    pub qos: u32,
    /// 802.1ad (QinQ) rather than 802.1Q.
    pub vlan_8021ad: bool,
    pub spoofchk: Option<bool>,
    pub trust: Option<bool>,
    pub link_state: Option<LinkState>,
    /// Mbit/s; 0 = no limit.
    pub min_tx_rate: u32,
    pub max_tx_rate: u32,
}

/// What to set on one VF; None leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VfChange {
    pub id: u32,
    pub mac: Option<[u8; 6]>,
    /// (vlan, qos, 802.1ad)
    pub vlan: Option<(u32, u32, bool)>,
    pub spoofchk: Option<bool>,
    pub trust: Option<bool>,
    pub link_state: Option<LinkState>,
    /// (min, max) Mbit/s
    pub rate: Option<(u32, u32)>,
}

/// One request, its one answer: the reply message's payload, or None for
/// an acknowledgement.
fn request(kind: u16, flags: u16, body: &[u8], reply: u16) -> Result<Option<Vec<u8>>> {
    let socket = send(kind, flags, body)?;
    let mut buf = vec![0u8; 256 * 1024];
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
            if mtype == NLMSG_ERROR {
                let errno = i32::from_ne_bytes([msg[16], msg[17], msg[18], msg[19]]);
                if errno != 0 {
                    return Err(io("request", std::io::Error::from_raw_os_error(-errno)));
                }
                return Ok(None);
            }
            if mtype == reply {
                return Ok(Some(msg[16..len].to_vec()));
            }
            msg = &msg[((len + 3) & !3).min(msg.len())..];
        }
    }
}

fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut out = Vec::with_capacity((len + 3) & !3);
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize((len + 3) & !3, 0);
    out
}

fn u32s(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_ne_bytes()).collect()
}

fn ifinfomsg(index: u32) -> Vec<u8> {
    let mut m = vec![0u8; 16];
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m
}

/// The VFs of the PF with this ifindex, as its driver reports them.
pub fn vfs(pf_index: u32) -> Result<Vec<VfInfo>> {
    let mut body = ifinfomsg(pf_index);
    body.extend(attr(IFLA_EXT_MASK, &RTEXT_FILTER_VF.to_ne_bytes()));
    let msg = request(RTM_GETLINK, 0, &body, RTM_NEWLINK)?
        .ok_or_else(|| Error::backend("rtnetlink: no answer for the physical function"))?;
    Ok(parse_vfinfo_list(msg.get(16..).unwrap_or_default()))
}

/// The VFs in a link message's attributes.
pub fn parse_vfinfo_list(link_attrs: &[u8]) -> Vec<VfInfo> {
    let mut out = Vec::new();
    for (kind, list) in attributes(link_attrs) {
        if kind != IFLA_VFINFO_LIST {
            continue;
        }
        for (k, info) in attributes(list) {
            if k == IFLA_VF_INFO {
                out.push(parse_vf(info));
            }
        }
    }
    out
}

fn parse_vf(info: &[u8]) -> VfInfo {
    let mut vf = VfInfo::default();
    let word = |v: &[u8], i: usize| u32_of(v.get(i * 4..).unwrap_or_default());
    // A driver reports "not supported" as u32::MAX.
    let flag = |v: &[u8]| match word(v, 1) {
        u32::MAX => None,
        x => Some(x != 0),
    };
    for (kind, v) in attributes(info) {
        match kind {
            IFLA_VF_MAC if v.len() >= 10 => {
                vf.id = word(v, 0);
                vf.mac = v[4..10]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":");
            }
            IFLA_VF_VLAN => {
                vf.vlan = word(v, 1);
                vf.qos = word(v, 2);
            }
            IFLA_VF_VLAN_LIST => {
                for (k, i) in attributes(v) {
                    if k == IFLA_VF_VLAN_INFO && i.len() >= 14 {
                        vf.vlan_8021ad = u16::from_be_bytes([i[12], i[13]]) == ETH_P_8021AD;
                    }
                }
            }
            IFLA_VF_SPOOFCHK => vf.spoofchk = flag(v),
            IFLA_VF_TRUST => vf.trust = flag(v),
            IFLA_VF_LINK_STATE => {
                vf.link_state = match word(v, 1) {
                    0 => Some(LinkState::Auto),
                    1 => Some(LinkState::Enable),
                    2 => Some(LinkState::Disable),
                    _ => None,
                }
            }
            IFLA_VF_RATE => {
                vf.min_tx_rate = word(v, 1);
                vf.max_tx_rate = word(v, 2);
            }
            _ => {}
        }
    }
    vf
}

/// The IFLA_VF_INFO attribute that makes `change`.
pub fn vf_info_attr(change: &VfChange) -> Vec<u8> {
    let id = change.id;
    let mut inner = Vec::new();
    if let Some(mac) = change.mac {
        let mut p = id.to_ne_bytes().to_vec();
        p.extend_from_slice(&mac);
        p.resize(4 + 32, 0);
        inner.extend(attr(IFLA_VF_MAC, &p));
    }
    if let Some((vlan, qos, qinq)) = change.vlan {
        let mut p = u32s(&[id, vlan, qos]);
        p.extend_from_slice(&(if qinq { ETH_P_8021AD } else { ETH_P_8021Q }).to_be_bytes());
        p.resize(16, 0);
        let info = attr(IFLA_VF_VLAN_INFO, &p);
        inner.extend(attr(IFLA_VF_VLAN_LIST | NLA_F_NESTED, &info));
    }
    if let Some(on) = change.spoofchk {
        inner.extend(attr(IFLA_VF_SPOOFCHK, &u32s(&[id, on.into()])));
    }
    if let Some(on) = change.trust {
        inner.extend(attr(IFLA_VF_TRUST, &u32s(&[id, on.into()])));
    }
    if let Some(state) = change.link_state {
        let s = match state {
            LinkState::Auto => 0,
            LinkState::Enable => 1,
            LinkState::Disable => 2,
        };
        inner.extend(attr(IFLA_VF_LINK_STATE, &u32s(&[id, s])));
    }
    if let Some((min, max)) = change.rate {
        inner.extend(attr(IFLA_VF_RATE, &u32s(&[id, min, max])));
    }
    attr(IFLA_VF_INFO | NLA_F_NESTED, &inner)
}

/// Set one VF's settings through its PF (all in one RTM_SETLINK: the
/// driver applies them in turn; an error names the first it refused).
pub fn set(pf_index: u32, change: &VfChange, _: &Mutation) -> Result<()> {
    let mut body = ifinfomsg(pf_index);
    body.extend(attr(IFLA_VFINFO_LIST | NLA_F_NESTED, &vf_info_attr(change)));
    request(RTM_SETLINK, NLM_F_ACK, &body, u16::MAX)
        .map(drop)
        .map_err(|e| Error::backend(format!("setting VF {}: {}", change.id, e.msg)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What we send for a VF is what we parse back from the same bytes
    /// (the kernel answers in the same layout).
    #[test]
    fn a_vf_change_round_trips_through_the_attribute_layout() {
        let change = VfChange {
            id: 3,
            mac: Some([0x52, 0x54, 0, 0xaa, 0xbb, 0x01]),
            vlan: Some((42, 2, true)),
            spoofchk: Some(false),
            trust: Some(true),
            link_state: Some(LinkState::Disable),
            rate: Some((0, 1000)),
        };
        // The list as the kernel nests it, and the VLAN also as the plain
        // IFLA_VF_VLAN it reports besides.
        let mut info = attributes(&vf_info_attr(&change))[0].1.to_vec();
        info.extend(attr(IFLA_VF_VLAN, &u32s(&[3, 42, 2])));
        let list = attr(IFLA_VFINFO_LIST, &attr(IFLA_VF_INFO, &info));
        let vfs = parse_vfinfo_list(&list);
        assert_eq!(
            vfs,
            [VfInfo {
                id: 3,
                mac: "52:54:00:aa:bb:01".into(),
                vlan: 42,
                qos: 2,
                vlan_8021ad: true,
                spoofchk: Some(false),
                trust: Some(true),
                link_state: Some(LinkState::Disable),
                min_tx_rate: 0,
                max_tx_rate: 1000,
            }]
        );
    }

    /// This machine's (or namespace's) kernel answers for loopback: no VFs.
    #[test]
    fn loopback_has_no_vfs() {
        assert_eq!(vfs(1).unwrap(), []);
    }
}
