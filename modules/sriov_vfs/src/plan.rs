//! The VFs of a PF as a comparable state, the state a task asks for, and
//! the steps between them. Pure: every check here runs before anything
//! changes.

use crate::holders::Holder;
use crate::params::{LinkState, Params, VfParams, VlanProto};
use crate::persist;
use kvmnet_core::netlink::vf::{self, VfChange, VfInfo};
use kvmnet_core::{Error, Result, enum_name};
use schemars::JsonSchema;
use serde::Serialize;

/// One VF as the PF reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Vf {
    pub id: u32,
    /// Its PCI address; absent for a VF not made yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pci: Option<String>,
    /// Its netdev, when a network driver has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netdev: Option<String>,
    pub mac: String,
    pub vlan: u32,
    pub qos: u32,
    pub vlan_proto: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spoofchk: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_state: Option<String>,
    pub min_tx_rate: u32,
    pub max_tx_rate: u32,
}

const NO_MAC: &str = "00:00:00:00:00:00";

impl Vf {
    pub fn from_info(id: u32, pci: Option<String>, netdev: Option<String>, i: &VfInfo) -> Vf {
        Vf {
            id,
            pci,
            netdev,
            mac: if i.mac.is_empty() {
                NO_MAC.into()
            } else {
                i.mac.clone()
            },
            vlan: i.vlan,
            qos: i.qos,
            vlan_proto: if i.vlan_8021ad { "802.1ad" } else { "802.1Q" }.into(),
            trust: i.trust,
            spoofchk: i.spoofchk,
            link_state: i.link_state.map(|l| {
                match l {
                    vf::LinkState::Auto => "auto",
                    vf::LinkState::Enable => "enable",
                    vf::LinkState::Disable => "disable",
                }
                .to_string()
            }),
            min_tx_rate: i.min_tx_rate,
            max_tx_rate: i.max_tx_rate,
        }
    }

    /// A VF as it will be when the kernel makes it anew: the settings it
    /// will have are the driver's, not known here.
    fn fresh(id: u32) -> Vf {
        Vf {
            id,
            mac: NO_MAC.into(),
            vlan_proto: "802.1Q".into(),
            ..Vf::default()
        }
    }
}

/// The VFs of a PF, and what persists them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct State {
    pub pf: String,
    pub pci: String,
    pub total_vfs: u32,
    pub num_vfs: u32,
    pub drivers_autoprobe: bool,
    pub vfs: Vec<Vf>,
    pub netplan: Option<String>,
    pub udev: Option<String>,
    /// Guests holding VFs (observed only).
    #[serde(skip)]
    pub holders: Vec<Holder>,
    /// Why libvirt could not be asked about holders, if it could not.
    #[serde(skip)]
    pub libvirt_error: Option<String>,
    /// Whether the PF is administratively up.
    #[serde(skip)]
    pub pf_up: bool,
}

/// What to change, in order.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub drivers_autoprobe: Option<bool>,
    /// (from, to): through 0 when both are non-zero.
    pub count: Option<(u32, u32)>,
    pub vf_changes: Vec<VfChange>,
    /// For each VF change, the change that puts the VF's settings back
    /// (None for a VF this run makes anew).
    pub vf_undo: Vec<Option<VfChange>>,
    /// Write (Some) or remove (None) our netplan file / udev rule.
    pub netplan: Option<Option<String>>,
    pub udev: Option<Option<String>>,
    pub actions: Vec<String>,
    pub warnings: Vec<String>,
}

impl kvmnet_core::Plan for Changes {
    fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
    fn actions(&self) -> Vec<String> {
        self.actions.clone()
    }
    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}

fn mac_bytes(mac: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = mac
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    parts.try_into().ok()
}

/// The task's VFs on their own and against the PF: every problem at once.
fn check(p: &Params, num_vfs: u32, total: u32, pf: &str) -> Result<()> {
    let mut errors = Vec::new();
    if num_vfs > total {
        errors.push(format!(
            "num_vfs: {pf} can have at most {total} VFs (sriov_totalvfs), not {num_vfs}"
        ));
    }
    let mut seen = Vec::new();
    for v in &p.vfs {
        let at = format!("vfs[id={}]", v.id);
        if seen.contains(&v.id) {
            errors.push(format!("{at}: VF {} is listed twice", v.id));
        }
        seen.push(v.id);
        if v.id >= num_vfs {
            errors.push(format!(
                "{at}: {pf} will have {num_vfs} VFs (ids 0 to {}), so there is no VF {}",
                num_vfs.saturating_sub(1),
                v.id
            ));
        }
        if let Some(m) = &v.mac {
            match kvmnet_core::validate::mac(&format!("{at}.mac"), m) {
                Err(e) => errors.push(e.msg),
                Ok(m) if mac_bytes(&m).is_some_and(|b| b[0] & 1 == 1) => {
                    errors.push(format!("{at}.mac: {m} is a multicast address"))
                }
                Ok(_) => {}
            }
        }
        if v.vlan.is_none() && (v.qos.is_some() || v.vlan_proto.is_some()) {
            errors.push(format!("{at}: qos and vlan_proto need vlan"));
        }
        if let (Some(min), Some(max)) = (v.min_tx_rate, v.max_tx_rate) {
            if max != 0 && min > max {
                errors.push(format!(
                    "{at}: min_tx_rate {min} is above max_tx_rate {max}"
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(errors.join("; ")))
    }
}

/// The task's settings laid over a VF.
fn overlay(base: &Vf, v: &VfParams) -> Vf {
    let mut out = base.clone();
    if let Some(m) = &v.mac {
        out.mac = m.to_ascii_lowercase();
    }
    if let Some(x) = v.vlan {
        out.vlan = x;
        out.qos = v.qos.unwrap_or(0);
        out.vlan_proto = match v.vlan_proto {
            Some(VlanProto::Dot1Ad) => "802.1ad",
            _ => "802.1Q",
        }
        .into();
    }
    if let Some(t) = v.trust {
        out.trust = Some(t);
    }
    if let Some(s) = v.spoofchk {
        out.spoofchk = Some(s);
    }
    if let Some(l) = v.link_state {
        out.link_state = Some(enum_name(&l));
    }
    if let Some(r) = v.min_tx_rate {
        out.min_tx_rate = r;
    }
    if let Some(r) = v.max_tx_rate {
        out.max_tx_rate = r;
    }
    out
}

pub fn desired(p: &Params, current: &State) -> Result<State> {
    let num_vfs = p.num_vfs.unwrap_or(current.num_vfs);
    check(p, num_vfs, current.total_vfs, &current.pf)?;
    let remade = num_vfs != current.num_vfs;
    let drivers_autoprobe = p.drivers_autoprobe.unwrap_or(current.drivers_autoprobe);
    let vfs = (0..num_vfs)
        .map(|id| {
            let base = match current.vfs.iter().find(|v| v.id == id) {
                Some(v) if !remade => v.clone(),
                _ => Vf::fresh(id),
            };
            match p.vfs.iter().find(|v| v.id == id) {
                Some(t) => overlay(&base, t),
                None => base,
            }
        })
        .collect();
    let (netplan, udev) = persist::desired(
        p.persist,
        &current.pf,
        &current.pci,
        num_vfs,
        drivers_autoprobe,
        &p.vfs,
    );
    Ok(State {
        num_vfs,
        drivers_autoprobe,
        vfs,
        netplan,
        udev,
        holders: Vec::new(),
        ..current.clone()
    })
}

/// The settings of one task VF that differ from the VF, in words, and
/// the netlink change that sets them.
fn vf_differences(t: &VfParams, have: &Vf, want: &Vf) -> (Vec<String>, VfChange) {
    let mut words = Vec::new();
    let mut c = VfChange {
        id: t.id,
        ..VfChange::default()
    };
    let mut note = |what: &str, from: String, to: String| {
        if from != to {
            words.push(format!("{what} {from} → {to}"));
        }
    };
    if t.mac.is_some() {
        note("mac", have.mac.clone(), want.mac.clone());
        if have.mac != want.mac {
            c.mac = mac_bytes(&want.mac);
        }
    }
    if t.vlan.is_some() {
        let show = |v: &Vf| format!("{} qos {} {}", v.vlan, v.qos, v.vlan_proto);
        note("vlan", show(have), show(want));
        if show(have) != show(want) {
            c.vlan = Some((want.vlan, want.qos, want.vlan_proto == "802.1ad"));
        }
    }
    let flag = |f: Option<bool>| match f {
        Some(true) => "on".to_string(),
        Some(false) => "off".to_string(),
        None => "(not reported)".to_string(),
    };
    if t.trust.is_some() && have.trust != want.trust {
        note("trust", flag(have.trust), flag(want.trust));
        c.trust = want.trust;
    }
    if t.spoofchk.is_some() && have.spoofchk != want.spoofchk {
        note("spoofchk", flag(have.spoofchk), flag(want.spoofchk));
        c.spoofchk = want.spoofchk;
    }
    if let Some(l) = t.link_state {
        if have.link_state != want.link_state {
            note(
                "link_state",
                have.link_state.clone().unwrap_or("(not reported)".into()),
                enum_name(&l),
            );
            c.link_state = Some(match l {
                LinkState::Auto => vf::LinkState::Auto,
                LinkState::Enable => vf::LinkState::Enable,
                LinkState::Disable => vf::LinkState::Disable,
            });
        }
    }
    if t.min_tx_rate.is_some() || t.max_tx_rate.is_some() {
        let show = |v: &Vf| format!("{}-{} Mbit/s", v.min_tx_rate, v.max_tx_rate);
        note("tx rate", show(have), show(want));
        if show(have) != show(want) {
            c.rate = Some((want.min_tx_rate, want.max_tx_rate));
        }
    }
    (words, c)
}

/// A change as one change per setting, in the order the kernel applies
/// them.
pub fn split(c: &VfChange) -> Vec<VfChange> {
    let one = || VfChange {
        id: c.id,
        ..VfChange::default()
    };
    let mut out = Vec::new();
    if c.mac.is_some() {
        out.push(VfChange {
            mac: c.mac,
            ..one()
        });
    }
    if c.vlan.is_some() {
        out.push(VfChange {
            vlan: c.vlan,
            ..one()
        });
    }
    if c.rate.is_some() {
        out.push(VfChange {
            rate: c.rate,
            ..one()
        });
    }
    if c.spoofchk.is_some() {
        out.push(VfChange {
            spoofchk: c.spoofchk,
            ..one()
        });
    }
    if c.link_state.is_some() {
        out.push(VfChange {
            link_state: c.link_state,
            ..one()
        });
    }
    if c.trust.is_some() {
        out.push(VfChange {
            trust: c.trust,
            ..one()
        });
    }
    out
}

/// For each part of `split(c)`, the part of `undo` that puts it back
/// (None where there is nothing to put back: a VF made anew, or a setting
/// the driver did not report).
pub fn split_like(c: &VfChange, undo: Option<&VfChange>) -> Vec<Option<VfChange>> {
    split(c)
        .iter()
        .map(|part| {
            let u = undo?;
            let back = VfChange {
                id: u.id,
                mac: part.mac.and(u.mac),
                vlan: part.vlan.and(u.vlan),
                rate: part.rate.and(u.rate),
                spoofchk: part.spoofchk.and(u.spoofchk),
                link_state: part.link_state.and(u.link_state),
                trust: part.trust.and(u.trust),
            };
            (back
                != VfChange {
                    id: u.id,
                    ..VfChange::default()
                })
            .then_some(back)
        })
        .collect()
}

/// The change that sets back what `change` sets, to the values `have`.
fn inverse(change: &VfChange, have: &Vf) -> VfChange {
    VfChange {
        id: change.id,
        mac: change.mac.and_then(|_| mac_bytes(&have.mac)),
        vlan: change
            .vlan
            .map(|_| (have.vlan, have.qos, have.vlan_proto == "802.1ad")),
        spoofchk: change.spoofchk.and(have.spoofchk),
        trust: change.trust.and(have.trust),
        link_state: change.link_state.and(match have.link_state.as_deref() {
            Some("auto") => Some(vf::LinkState::Auto),
            Some("enable") => Some(vf::LinkState::Enable),
            Some("disable") => Some(vf::LinkState::Disable),
            _ => None,
        }),
        rate: change.rate.map(|_| (have.min_tx_rate, have.max_tx_rate)),
    }
}

pub fn changes(p: &Params, current: &State, desired: &State) -> Result<Changes> {
    let mut c = Changes::default();
    if desired.drivers_autoprobe != current.drivers_autoprobe {
        c.drivers_autoprobe = Some(desired.drivers_autoprobe);
        c.actions.push(format!(
            "sriov_drivers_autoprobe of {}: {} → {}",
            current.pf,
            u8::from(current.drivers_autoprobe),
            u8::from(desired.drivers_autoprobe)
        ));
    }
    let (from, to) = (current.num_vfs, desired.num_vfs);
    let remade = from != to;
    // PCI addresses of the VFs this run removes or changes.
    let mut touched: Vec<String> = Vec::new();
    if remade {
        c.count = Some((from, to));
        c.actions.push(if from > 0 && to > 0 {
            format!(
                "VFs of {}: {from} → {to}, through 0 (the kernel takes a new count only from 0; VFs 0-{} are made anew, without their settings)",
                current.pf,
                to - 1
            )
        } else {
            format!("VFs of {}: {from} → {to}", current.pf)
        });
        touched.extend(current.vfs.iter().filter_map(|v| v.pci.clone()));
    }
    for t in &p.vfs {
        let want = desired.vfs.iter().find(|v| v.id == t.id);
        let have = if remade {
            Some(Vf::fresh(t.id))
        } else {
            current.vfs.iter().find(|v| v.id == t.id).cloned()
        };
        let (Some(want), Some(have)) = (want, have) else {
            continue;
        };
        let (words, change) = vf_differences(t, &have, want);
        if remade {
            // A VF made anew gets all the task's settings.
            let (_, all) = vf_differences(t, &Vf::default(), want);
            if all
                != (VfChange {
                    id: t.id,
                    ..VfChange::default()
                })
            {
                c.actions.push(format!("VF {}: set {}", t.id, describe(t)));
                c.vf_changes.push(all);
                c.vf_undo.push(None);
            }
        } else if !words.is_empty() {
            c.actions.push(format!("VF {}: {}", t.id, words.join(", ")));
            c.vf_undo.push(Some(inverse(&change, &have)));
            c.vf_changes.push(change);
            touched.extend(have.pci);
        }
    }
    // Guests holding what this run would remove or change.
    let held: Vec<&Holder> = current
        .holders
        .iter()
        .filter(|h| match &h.pci {
            Some(pci) => touched.contains(pci),
            None => !touched.is_empty(),
        })
        .collect();
    if !held.is_empty() {
        let who = held
            .iter()
            .map(|h| match &h.pci {
                Some(pci) => format!("VF {pci} is held by running guest {} ({})", h.domain, h.how),
                None => format!(
                    "running guest {} has a VF of {} ({})",
                    h.domain, current.pf, h.how
                ),
            })
            .collect::<Vec<_>>()
            .join("; ");
        if !p.force {
            return Err(Error::invalid(format!(
                "{who}: the change would take it away from the guest; detach it first, or set force: true"
            )));
        }
        c.warnings.push(format!("force: {who}; changed anyway"));
    }
    if !current.pf_up && (to > 0 && remade || !c.vf_changes.is_empty()) {
        c.warnings.push(format!(
            "{} is down: libvirt will not hand out its VFs; bring it up",
            current.pf
        ));
    }
    if let Some(e) = &current.libvirt_error {
        if !c.actions.is_empty() {
            c.warnings.push(format!(
                "libvirt could not be asked which guests hold VFs ({e}); none assumed"
            ));
        }
    }
    if desired.netplan != current.netplan {
        c.actions.push(match &desired.netplan {
            Some(_) => format!("netplan: virtual-function-count {} for {}", to, current.pf),
            None => format!("netplan: remove kvmnet's VF count for {}", current.pf),
        });
        c.netplan = Some(desired.netplan.clone());
    }
    if desired.udev != current.udev {
        c.actions.push(match &desired.udev {
            Some(_) => format!("udev: rule for the VFs of {}", current.pf),
            None => format!("udev: remove kvmnet's rule for {}", current.pf),
        });
        c.udev = Some(desired.udev.clone());
    }
    Ok(c)
}

fn describe(t: &VfParams) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| {
            v.as_object().map(|m| {
                m.iter()
                    .filter(|(k, _)| *k != "id")
                    .map(|(k, v)| format!("{k} {}", v.to_string().trim_matches('"')))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
        })
        .unwrap_or_default()
}

/// The diff text of a state.
pub fn render(s: &State) -> String {
    let mut out = format!(
        "{} ({}): {} of {} VFs, drivers_autoprobe {}\n",
        s.pf,
        s.pci,
        s.num_vfs,
        s.total_vfs,
        u8::from(s.drivers_autoprobe)
    );
    for v in &s.vfs {
        let flag = |f: Option<bool>| f.map_or("-", |b| if b { "on" } else { "off" });
        out += &format!(
            "vf {} {} {}: mac {}, vlan {} qos {} {}, trust {}, spoofchk {}, link {}, tx rate {}-{}\n",
            v.id,
            v.pci.as_deref().unwrap_or("(new)"),
            v.netdev.as_deref().unwrap_or("-"),
            v.mac,
            v.vlan,
            v.qos,
            v.vlan_proto,
            flag(v.trust),
            flag(v.spoofchk),
            v.link_state.as_deref().unwrap_or("-"),
            v.min_tx_rate,
            v.max_tx_rate
        );
    }
    for (what, content) in [("netplan", &s.netplan), ("udev", &s.udev)] {
        match content {
            Some(c) => out += &format!("{what}:\n{c}"),
            None => out += &format!("{what}: (none)\n"),
        }
    }
    out
}
