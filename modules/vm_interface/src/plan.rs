//! From the NIC each side has to the NIC it should have: which libvirt
//! call, on which side, and whether that may disturb the running guest.

use crate::model::{Nic, Source};
use crate::params::NicType;
use kvmnet_core::{Error, Result};

/// A side of the domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Live,
    Persistent,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Live => "live",
            Side::Persistent => "persistent",
        }
    }
}

/// One libvirt call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Attach(Side, Nic),
    /// update-device: what changed, the NIC as it was, and as it becomes.
    Update(Side, Vec<String>, Box<Nic>, Box<Nic>),
    /// detach (from a running guest: and wait until it lets go).
    Detach(Side, Nic),
}

impl Step {
    pub fn describe(&self) -> String {
        let who = |n: &Nic| n.mac.clone().unwrap_or_else(|| "(new)".into());
        match self {
            Step::Attach(side, n) => format!(
                "attach interface {} on {} ({})",
                who(n),
                describe_source(&n.source),
                side.name()
            ),
            Step::Update(side, what, _, n) => format!(
                "update interface {}: {} ({})",
                who(n),
                what.join(", "),
                side.name()
            ),
            Step::Detach(side, n) => {
                format!("detach interface {} ({})", who(n), side.name())
            }
        }
    }
}

pub fn describe_source(s: &Source) -> String {
    match s {
        Source::Bridge { bridge } => format!("bridge {bridge}"),
        Source::Network { network, portgroup } => match portgroup {
            Some(pg) => format!("network {network} port group {pg}"),
            None => format!("network {network}"),
        },
        Source::Direct { dev, mode } => {
            format!("{dev} (macvtap, {})", crate::model::lower(mode))
        }
        Source::Hostdev { pci } => format!("PCI device {pci}"),
    }
}

/// The fields that differ between two NICs, and whether libvirt can change
/// each on a running guest in place.
fn differences(cur: &Nic, des: &Nic) -> Vec<(String, bool)> {
    let (c, d) = (cur.comparable(), des.comparable());
    let mut out = Vec::new();
    let show = |v: &dyn std::fmt::Debug| format!("{v:?}");
    if c.source.kind() != d.source.kind() {
        out.push((
            format!(
                "type {} → {}",
                crate::model::lower(&c.source.kind()),
                crate::model::lower(&d.source.kind())
            ),
            false,
        ));
    } else if c.source != d.source {
        // A tap moves between bridges and networks in place; a macvtap or
        // a PCI device does not.
        let in_place = matches!(d.source.kind(), NicType::Bridge | NicType::Network);
        out.push((
            format!(
                "source {} → {}",
                describe_source(&c.source),
                describe_source(&d.source)
            ),
            in_place,
        ));
    }
    if c.model != d.model {
        out.push((
            format!(
                "model {} → {}",
                c.model.as_deref().unwrap_or("(none)"),
                d.model.as_deref().unwrap_or("(none)")
            ),
            false,
        ));
    }
    if c.link_state != d.link_state {
        let state = |n: &Nic| {
            n.link_state
                .map(|l| crate::model::lower(&l))
                .unwrap_or("up".into())
        };
        out.push((format!("link {} → {}", state(&c), state(&d)), true));
    }
    if c.mtu != d.mtu {
        out.push((format!("mtu {} → {}", show(&c.mtu), show(&d.mtu)), false));
    }
    if c.vlan != d.vlan {
        out.push(("vlan".to_string(), false));
    }
    if c.bandwidth != d.bandwidth {
        out.push(("bandwidth".to_string(), true));
    }
    out
}

/// The steps for one side.
pub fn side_steps(
    side: Side,
    cur: Option<&Nic>,
    des: Option<&Nic>,
    allow_reattach: bool,
    domain: &str,
) -> Result<Vec<Step>> {
    Ok(match (cur, des) {
        (None, None) => vec![],
        (None, Some(d)) => vec![Step::Attach(side, d.clone())],
        (Some(c), None) => vec![Step::Detach(side, c.clone())],
        (Some(c), Some(d)) => {
            let diffs = differences(c, d);
            if diffs.is_empty() {
                return Ok(vec![]);
            }
            let what: Vec<String> = diffs.iter().map(|(w, _)| w.clone()).collect();
            let in_place = diffs.iter().all(|(_, ok)| *ok);
            // The persistent definition takes any change in place (the
            // device keeps its MAC and PCI address); only a running guest
            // can be disturbed.
            if side == Side::Persistent || in_place {
                vec![Step::Update(
                    side,
                    what,
                    Box::new(c.clone()),
                    Box::new(d.clone()),
                )]
            } else if allow_reattach {
                vec![Step::Detach(side, c.clone()), Step::Attach(side, d.clone())]
            } else {
                let needs: Vec<String> = diffs
                    .iter()
                    .filter(|(_, ok)| !ok)
                    .map(|(w, _)| w.clone())
                    .collect();
                return Err(Error::unsupported(format!(
                    "domain {domain}: interface {} of the running guest: {} cannot change in place; it needs a detach and attach (the guest loses the NIC for a moment). Set allow_reattach: true, or live: false to change only the persistent definition (in effect at the next boot)",
                    c.mac.as_deref().unwrap_or("?"),
                    needs.join(", ")
                )));
            }
        }
    })
}
