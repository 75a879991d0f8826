//! What makes a bond a bond for the shared netplan device module: its
//! options, its `parameters` stanza, and how the running bond must look.

use crate::params::{Mode, Params, PrimaryReselectPolicy, name_of};
use kvmnet_core::Result;
use kvmnet_core::doc::ModuleDoc;
use kvmnet_core::netlink::{BondInfo, Kernel, Link};
use kvmnet_core::netplan_device::{Common, Device};
use serde_json::{Map, Value};

/// The kernel's names for its numbers, in its order: how a difference is
/// worded when the kernel holds a value the task cannot express.
const LACP_RATES: [&str; 2] = ["slow", "fast"];
const HASH_POLICIES: [&str; 6] = [
    "layer2",
    "layer3+4",
    "layer2+3",
    "encap2+3",
    "encap3+4",
    "vlan+srcmac",
];
const AD_SELECT: [&str; 3] = ["stable", "bandwidth", "count"];
const ARP_VALIDATE: [&str; 7] = [
    "none",
    "active",
    "backup",
    "all",
    "filter",
    "filter_active",
    "filter_backup",
];
const ARP_ALL_TARGETS: [&str; 2] = ["any", "all"];
const FAIL_OVER_MAC: [&str; 3] = ["none", "active", "follow"];
const PRIMARY_RESELECT: [&str; 3] = ["always", "better", "failure"];

fn named(names: &[&str], n: u32) -> String {
    names
        .get(n as usize)
        .map(|s| s.to_string())
        .unwrap_or_else(|| n.to_string())
}

/// The bond's settings as the kernel has them, each beside the task's:
/// (netplan's name, wanted, actual), for the settings the task sets.
fn comparisons(p: &Params, bond: &BondInfo, k: &Kernel) -> Vec<(&'static str, String, String)> {
    let b = p.parameters.clone().unwrap_or_default();
    let mut out = Vec::new();
    let mut cmp = |name: &'static str, want: Option<String>, have: String| {
        if let Some(want) = want {
            out.push((name, want, have));
        }
    };
    // The mode is always compared: without one, netplan makes balance-rr.
    let mode = b.mode.unwrap_or_default();
    cmp(
        "mode",
        Some(name_of(&mode)),
        named(&kvmnet_core::netlink::BOND_MODES, bond.mode.into()),
    );
    cmp(
        "lacp-rate",
        b.lacp_rate.map(|v| name_of(&v)),
        named(&LACP_RATES, bond.lacp_rate.into()),
    );
    let num = |v: Option<u32>| v.map(|n| n.to_string());
    cmp(
        "mii-monitor-interval",
        num(b.mii_monitor_interval),
        bond.miimon.to_string(),
    );
    cmp("min-links", num(b.min_links), bond.min_links.to_string());
    cmp(
        "transmit-hash-policy",
        b.transmit_hash_policy.map(|v| name_of(&v)),
        named(&HASH_POLICIES, bond.xmit_hash_policy.into()),
    );
    cmp(
        "ad-select",
        b.ad_select.map(|v| name_of(&v)),
        named(&AD_SELECT, bond.ad_select.into()),
    );
    cmp(
        "all-members-active",
        b.all_members_active.map(|v| v.to_string()),
        (bond.all_slaves_active != 0).to_string(),
    );
    cmp(
        "arp-interval",
        num(b.arp_interval),
        bond.arp_interval.to_string(),
    );
    cmp(
        "arp-ip-targets",
        b.arp_ip_targets.map(|t| {
            let mut t = t.clone();
            t.sort();
            t.join(",")
        }),
        {
            let mut t: Vec<String> = bond.arp_ip_targets.iter().map(|a| a.to_string()).collect();
            t.sort();
            t.join(",")
        },
    );
    cmp(
        "arp-validate",
        b.arp_validate.map(|v| name_of(&v)),
        named(&ARP_VALIDATE, bond.arp_validate),
    );
    cmp(
        "arp-all-targets",
        b.arp_all_targets.map(|v| name_of(&v)),
        named(&ARP_ALL_TARGETS, bond.arp_all_targets),
    );
    cmp("up-delay", num(b.up_delay), bond.updelay.to_string());
    cmp("down-delay", num(b.down_delay), bond.downdelay.to_string());
    cmp(
        "fail-over-mac-policy",
        b.fail_over_mac_policy.map(|v| name_of(&v)),
        named(&FAIL_OVER_MAC, bond.fail_over_mac.into()),
    );
    cmp(
        "gratuitous-arp",
        num(b.gratuitous_arp),
        bond.num_peer_notif.to_string(),
    );
    cmp(
        "packets-per-member",
        num(b.packets_per_member),
        bond.packets_per_slave.to_string(),
    );
    cmp(
        "primary-reselect-policy",
        b.primary_reselect_policy.map(|v| name_of(&v)),
        named(&PRIMARY_RESELECT, bond.primary_reselect.into()),
    );
    cmp(
        "resend-igmp",
        num(b.resend_igmp),
        bond.resend_igmp.to_string(),
    );
    cmp(
        "learn-packet-interval",
        num(b.learn_packet_interval),
        bond.lp_interval.to_string(),
    );
    let member = |idx: Option<u32>| idx.and_then(|i| k.name_of(i)).unwrap_or("none").to_string();
    cmp("primary", b.primary.clone(), member(bond.primary));
    out
}

/// Parameters networkd does not hand to the kernel although netplan writes
/// them (systemd 257 drops `LearnPacketIntervalSec=`), by netplan name and
/// `ip link … type bond` name: set in place after `netplan apply`, as a
/// new bond would not have them either.
const SET_IN_PLACE: &[(&str, &str)] = &[("learn-packet-interval", "lp_interval")];

/// The task's parameters the running bond does not have: (netplan name,
/// wanted, running).
fn differing(p: &Params, dev: &Link, k: &Kernel) -> Vec<(&'static str, String, String)> {
    let bond = dev.bond.clone().unwrap_or_default();
    comparisons(p, &bond, k)
        .into_iter()
        .filter(|(_, want, have)| want != have)
        .collect()
}

/// The task's parameters the running bond does not have, in words.
fn parameter_mismatches(p: &Params, dev: &Link, k: &Kernel) -> Vec<String> {
    differing(p, dev, k)
        .into_iter()
        .map(|(name, want, have)| format!("{name} is {have}, not {want}"))
        .collect()
}

/// (active, primary) when the primary is up in the bond but another
/// member is active, and the reselect policy says the primary takes over
/// whenever it is up. A member chosen by hand (sysfs `active_slave`)
/// stays active until the next failover otherwise.
fn wrong_active_member(p: &Params, dev: &Link, k: &Kernel) -> Option<(String, String)> {
    let b = p.parameters.clone().unwrap_or_default();
    let primary = b.primary?;
    let reselects = matches!(
        b.primary_reselect_policy,
        None | Some(PrimaryReselectPolicy::Always)
    );
    let with_active = matches!(
        b.mode.unwrap_or_default(),
        Mode::ActiveBackup | Mode::BalanceTlb | Mode::BalanceAlb
    );
    let primary_up = k
        .link(&primary)
        .is_some_and(|l| l.oper_up && l.master == Some(dev.index));
    if !(reselects && with_active && primary_up) {
        return None;
    }
    let bond = dev.bond.clone().unwrap_or_default();
    let active = bond.active.and_then(|i| k.name_of(i)).unwrap_or("none");
    (active != primary).then(|| (active.to_string(), primary))
}

impl Device for Params {
    const MODULE: &'static str = "netplan_bond";
    const DOC: ModuleDoc = ModuleDoc {
        short_description: "Manage a Linux bond in netplan, every bond parameter, applied, verified and reverted safely",
        version_added: "0.1.0",
        requirements: &[
            "netplan.io on the target; systemd-networkd to apply; the bonding kernel module",
        ],
        notes: &[
            "Define the bond before a bridge (netplan_bridge) or VLAN that uses it.",
            "A bond whose running parameters differ from the task is deleted and created anew by networkd, which interrupts its traffic briefly; the actions say so.",
            "KVMNET_VERIFY_TIMEOUT (seconds, default 60) bounds the wait for the kernel to match after netplan apply.",
        ],
        examples: include_str!("../examples.yml"),
        read_only: false,
    };
    const KIND: &'static str = "bond";
    const SECTION: &'static str = "bonds";
    const MEMBER: &'static str = "member";
    const EXCLUSIVE_MEMBERS: bool = true;

    fn common(&self) -> Common<'_> {
        Common {
            name: &self.name,
            state: self.state,
            members: &self.interfaces,
            vlans: &[],
            addresses: &self.addresses,
            dhcp4: self.dhcp4,
            dhcp6: self.dhcp6,
            routes: &self.routes,
            nameservers: self.nameservers.as_ref(),
            mtu: self.mtu,
            macaddress: self.macaddress.as_deref(),
            file: self.file.as_deref(),
            root_dir: self.root_dir.as_deref(),
            apply: self.apply,
            backup: self.backup,
        }
    }

    fn check(&self) -> Result<()> {
        crate::checks::check(self)
    }

    /// The parameters with netplan's (hyphenated) names, in the order the
    /// options are documented.
    fn parameters(&self) -> Option<Value> {
        let params = serde_json::to_value(self.parameters.as_ref()?).ok()?;
        let m: Map<String, Value> = params
            .as_object()?
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.replace('_', "-"), v.clone()))
            .collect();
        (!m.is_empty()).then_some(Value::Object(m))
    }

    fn mismatches(&self, dev: &Link, k: &Kernel) -> Vec<String> {
        let mut out = parameter_mismatches(self, dev, k);
        if let Some((active, primary)) = wrong_active_member(self, dev, k) {
            out.push(format!(
                "the active member is {active}, not the primary {primary}"
            ));
        }
        out
    }

    /// The primary made the active member again, in place: a bond need
    /// not be made anew for that.
    /// Also what networkd leaves out ([`SET_IN_PLACE`]).
    fn fixes(&self, dev: &Link, k: &Kernel) -> Vec<Vec<String>> {
        let set = |key: &str, value: &str| {
            [
                "ip", "link", "set", "dev", &self.name, "type", "bond", key, value,
            ]
            .map(String::from)
            .to_vec()
        };
        let mut cmds: Vec<Vec<String>> = differing(self, dev, k)
            .into_iter()
            .filter_map(|(name, want, _)| {
                SET_IN_PLACE
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, key)| set(key, &want))
            })
            .collect();
        if let Some((_, primary)) = wrong_active_member(self, dev, k) {
            cmds.push(set("active_slave", &primary));
        }
        cmds
    }

    /// networkd sets a bond's parameters only when it creates the bond,
    /// and the kernel refuses a new mode while the bond has members: any
    /// parameter that differs means a new bond.
    fn recreate_because(&self, dev: &Link, k: &Kernel) -> Option<String> {
        let differs: Vec<String> = differing(self, dev, k)
            .into_iter()
            .filter(|(name, _, _)| !SET_IN_PLACE.iter().any(|(n, _)| n == name))
            .map(|(name, want, have)| format!("{name} is {have}, not {want}"))
            .collect();
        (!differs.is_empty()).then(|| differs.join(", "))
    }
}
