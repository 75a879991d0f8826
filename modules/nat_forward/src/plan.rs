//! The state of one forward on a host, and the changes from the state it
//! has to the state it should have. Pure: the module and the libvirt hook
//! both plan with it.

use crate::rules::{Chain, Firewall, Forward, Rule};
use serde::Serialize;

/// One forward as the host has it (observed) or should have it (desired).
#[derive(Debug, Clone, Default, Serialize)]
pub struct State {
    /// The resolved forward (desired only).
    #[serde(skip)]
    pub forward: Option<Forward>,
    pub rules: Vec<Rule>,
    /// Whether our nft table exists / holds other forwards' rules.
    #[serde(skip)]
    pub table_exists: bool,
    #[serde(skip)]
    pub others_in_table: bool,
    /// The saved copy of the forward, for the hook.
    pub saved: Option<String>,
    /// Whether our libvirt hook is installed (this build of it).
    pub hook: bool,
    #[serde(skip)]
    pub others_saved: bool,
    #[serde(skip)]
    pub libvirt_knew_hooks: bool,
    /// IPv4 forwarding on now and in sysctl.d; None when the task does not
    /// ask.
    pub ip_forward: Option<bool>,
    /// The rules as the host lists them (desired only): the diff shows a
    /// rule the host already has as it is listed, so that an unchanged rule
    /// reads the same on both sides.
    #[serde(skip)]
    pub listed: Vec<Rule>,
}

/// What to change.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub remove: Vec<Rule>,
    pub add: Vec<Rule>,
    pub drop_table: bool,
    /// Write (Some) or remove (None) the saved copy.
    pub save: Option<Option<String>>,
    /// Install (true) or remove (false) the hook.
    pub hook: Option<bool>,
    pub ip_forward: bool,
    pub actions: Vec<String>,
    pub warnings: Vec<String>,
    /// Where the saved copy goes, for the actions.
    pub saved_path: String,
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

/// Where a rule is, as the diff and the actions name it.
pub fn place(r: &Rule) -> String {
    let fw = r.firewall;
    match fw {
        Firewall::Nftables => format!("nft ip {} {}", r.chain.table(fw), r.chain.name(fw)),
        Firewall::Iptables => format!("iptables -t {} {}", r.chain.table(fw), r.chain.name(fw)),
    }
}

fn in_our_table(r: &Rule) -> bool {
    r.firewall == Firewall::Nftables && r.chain != Chain::Forward
}

/// The rules to remove and add: a rule stays when the desired set has its
/// tag and it is well placed (once: duplicates go).
pub fn rule_changes(current: &[Rule], desired: &[Rule]) -> (Vec<Rule>, Vec<Rule>) {
    let mut kept: Vec<&str> = Vec::new();
    let mut remove = Vec::new();
    for r in current {
        let wanted = desired.iter().any(|d| d.tag == r.tag);
        if wanted && r.well_placed && !kept.contains(&r.tag.as_str()) {
            kept.push(&r.tag);
        } else {
            remove.push(r.clone());
        }
    }
    let add = desired
        .iter()
        .filter(|d| !kept.contains(&d.tag.as_str()))
        .cloned()
        .collect();
    (remove, add)
}

pub fn changes(current: &State, desired: &State, saved_path: &str) -> Changes {
    let (remove, add) = rule_changes(&current.rules, &desired.rules);
    let drop_table = current.table_exists
        && !current.others_in_table
        && remove.iter().any(in_our_table)
        && !desired.rules.iter().any(in_our_table);
    let mut actions = Vec::new();
    for r in &remove {
        if add.iter().any(|a| a.tag == r.tag) {
            actions.push(format!(
                "put back at the top of {} (it was below libvirt's reject, where it does nothing): {}",
                place(r),
                r.text
            ));
        } else {
            actions.push(format!("remove from {}: {}", place(r), r.text));
        }
    }
    for a in &add {
        if !remove.iter().any(|r| r.tag == a.tag) {
            actions.push(format!("add to {}: {}", place(a), a.with_comment()));
        }
    }
    if drop_table {
        actions.push(format!(
            "delete the empty table nft ip {}",
            crate::rules::NFT_TABLE
        ));
    }
    let save = (current.saved != desired.saved).then(|| desired.saved.clone());
    match &save {
        Some(Some(_)) => actions.push(format!("save the forward for the hook: {saved_path}")),
        Some(None) => actions.push(format!("remove the saved forward {saved_path}")),
        None => {}
    }
    let hook = (current.hook != desired.hook).then_some(desired.hook);
    let mut warnings = Vec::new();
    match hook {
        Some(true) => {
            actions.push("install the libvirt hook kvmnet-nat-forward (network.d, qemu.d)".into());
            if !current.libvirt_knew_hooks {
                warnings.push("libvirt looks for hooks when its daemon starts: the hook installed now runs after the next restart of libvirtd (or virtnetworkd and virtqemud); until then, rules lost (a reboot, a firewall reload) are not put back when the network starts".into());
            }
        }
        Some(false) => {
            actions.push("remove the libvirt hook kvmnet-nat-forward (no forward is saved)".into())
        }
        None => {}
    }
    let ip_forward = desired.ip_forward == Some(true) && current.ip_forward != Some(true);
    if ip_forward {
        actions.push("turn on net.ipv4.ip_forward, now and in /etc/sysctl.d".into());
    }
    Changes {
        remove,
        add,
        drop_table,
        save,
        hook,
        ip_forward,
        actions,
        warnings,
        saved_path: saved_path.to_string(),
    }
}

/// The diff text of a state: the rules where they are, then persistence.
pub fn render(state: &State) -> String {
    let mut out = String::new();
    for r in &state.rules {
        let listed = state
            .listed
            .iter()
            .find(|c| c.tag == r.tag)
            .map_or(r.text.as_str(), |c| c.text.as_str());
        let note = if r.well_placed {
            ""
        } else {
            "   # below libvirt's reject: no effect"
        };
        out += &format!("{}: {listed}{note}\n", place(r));
    }
    if state.rules.is_empty() {
        out += "(no rules)\n";
    }
    match &state.saved {
        Some(s) => out += &format!("saved for the hook: {}\n", s.trim_end()),
        None => out += "not saved\n",
    }
    out += &format!(
        "libvirt hook: {}\n",
        if state.hook {
            "installed"
        } else {
            "not installed"
        }
    );
    if let Some(on) = state.ip_forward {
        out += &format!(
            "net.ipv4.ip_forward: {}\n",
            if on { "1" } else { "not kept on" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(chain: Chain, tag: &str, well_placed: bool) -> Rule {
        Rule {
            firewall: Firewall::Nftables,
            chain,
            text: format!("rule {tag}"),
            tag: tag.to_string(),
            handle: "1".into(),
            well_placed,
        }
    }

    #[test]
    fn a_rule_below_libvirts_reject_is_put_back_on_top_and_duplicates_go() {
        let current = vec![
            rule(Chain::Prerouting, "kvmnet:w:1", true),
            rule(Chain::Prerouting, "kvmnet:w:1", true),
            rule(Chain::Forward, "kvmnet:w:2", false),
            rule(Chain::Output, "kvmnet:w:old", true),
        ];
        let desired = vec![
            rule(Chain::Prerouting, "kvmnet:w:1", true),
            rule(Chain::Forward, "kvmnet:w:2", true),
        ];
        let (remove, add) = rule_changes(&current, &desired);
        let tags = |v: &[Rule]| v.iter().map(|r| r.tag.clone()).collect::<Vec<_>>();
        assert_eq!(tags(&remove), ["kvmnet:w:1", "kvmnet:w:2", "kvmnet:w:old"]);
        assert_eq!(tags(&add), ["kvmnet:w:2"]);
        let c = changes(
            &State {
                rules: current,
                table_exists: true,
                ..State::default()
            },
            &State {
                rules: desired,
                ..State::default()
            },
            "",
        );
        assert!(!c.drop_table, "the table still holds the forward's rules");
        assert!(
            c.actions
                .iter()
                .any(|a| a.starts_with("put back at the top of nft ip libvirt_network forward"))
        );
    }

    #[test]
    fn the_table_goes_with_the_last_forward_only() {
        let current = State {
            rules: vec![rule(Chain::Prerouting, "kvmnet:w:1", true)],
            table_exists: true,
            ..State::default()
        };
        assert!(changes(&current, &State::default(), "").drop_table);
        let shared = State {
            others_in_table: true,
            ..current.clone()
        };
        assert!(!changes(&shared, &State::default(), "").drop_table);
        let same = changes(&current, &current, "");
        assert!(
            kvmnet_core::Plan::is_empty(&same),
            "nothing to do: {:?}",
            same.actions
        );
    }
}
