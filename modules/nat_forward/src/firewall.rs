//! Reading a forward's rules from nft and iptables, and changing them in
//! one transaction per backend (`nft -f -`, `iptables-restore --noflush`):
//! a failure leaves the rules as they were.

use crate::rules::{self, Chain, Firewall, LIBVIRT_TABLE, NFT_TABLE, Rule};
pub use kvmnet_core::firewall::Listings;
use kvmnet_core::{Mutation, Result, cmd};

/// What the backends hold of one forward.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The forward's rules, in both backends.
    pub rules: Vec<Rule>,
    /// Whether our nft table exists, and holds rules of other forwards.
    pub table_exists: bool,
    pub others_in_table: bool,
}

/// Our nft table, libvirt's, and iptables.
pub fn listings() -> Result<Listings> {
    Listings::read(&[NFT_TABLE, LIBVIRT_TABLE])
}

/// The rules tagged for forward `name`, in both backends (a forward that
/// moved between backends must leave nothing behind).
pub fn observe(name: &str) -> Result<Observed> {
    Ok(observe_in(&listings()?, name))
}

pub fn observe_in(l: &Listings, name: &str) -> Observed {
    let prefix = rules::tag_prefix(name);
    let ours = l.nft_table(NFT_TABLE);
    let mut all: Vec<Rule> = rules::parse_nft(&ours)
        .into_iter()
        .filter(|r| r.chain != Chain::Forward)
        .collect();
    let others_in_table = all.iter().any(|r| !r.tag.starts_with(&prefix));
    all.extend(
        rules::parse_nft(&l.nft_table(LIBVIRT_TABLE))
            .into_iter()
            .filter(|r| r.chain == Chain::Forward),
    );
    for table in ["nat", "filter"] {
        all.extend(
            rules::parse_iptables(&l.iptables_table(table))
                .into_iter()
                .filter(|r| r.chain.table(Firewall::Iptables) == table),
        );
    }
    all.retain(|r| r.tag.starts_with(&prefix));
    Observed {
        rules: all,
        table_exists: !ours.is_empty(),
        others_in_table,
    }
}

/// Whether libvirt's own rules for `bridge` are in nftables (its
/// `libvirt_network` table) or iptables (its LIBVIRT_FWI chain).
pub fn libvirt_firewall(l: &Listings, bridge: &str) -> Option<Firewall> {
    if l.nft_table(LIBVIRT_TABLE)
        .contains(&format!("\"{bridge}\""))
    {
        return Some(Firewall::Nftables);
    }
    let fwi = format!("-A {} ", rules::LIBVIRT_FWI);
    let out = format!("-o {bridge} ");
    if l.iptables_table("filter")
        .lines()
        .any(|r| r.starts_with(&fwi) && r.contains(&out))
    {
        return Some(Firewall::Iptables);
    }
    None
}

/// Delete `remove` and add `add`, then drop our nft table if asked (no
/// forward has rules in it any more).
pub fn change(remove: &[Rule], add: &[Rule], drop_table: bool, token: &Mutation) -> Result<()> {
    let nft = nft_script(remove, add, drop_table);
    if !nft.is_empty() {
        cmd::change_with_input(&["nft", "-f", "-"], &nft, token)?;
    }
    let ipt = iptables_script(remove, add);
    if !ipt.is_empty() {
        cmd::change_with_input(&["iptables-restore", "-w", "--noflush"], &ipt, token)?;
    }
    Ok(())
}

/// The nft transaction. Our NAT chains are declared (`add` is a no-op for
/// what exists); accepts go at the top of libvirt's chain.
pub fn nft_script(remove: &[Rule], add: &[Rule], drop_table: bool) -> String {
    let mut s = String::new();
    let ours = |r: &&Rule| r.firewall == Firewall::Nftables;
    if add.iter().filter(ours).any(|r| r.chain != Chain::Forward) {
        s += &format!("add table ip {NFT_TABLE}\n");
        for (chain, hook, priority) in [
            (Chain::Prerouting, "prerouting", "dstnat"),
            (Chain::Output, "output", "-100"),
            (Chain::Postrouting, "postrouting", "srcnat"),
        ] {
            s += &format!(
                "add chain ip {NFT_TABLE} {} {{ type nat hook {hook} priority {priority}; policy accept; }}\n",
                chain.name(Firewall::Nftables)
            );
        }
    }
    for r in remove.iter().filter(ours) {
        s += &format!(
            "delete rule ip {} {} handle {}\n",
            r.chain.table(Firewall::Nftables),
            r.chain.name(Firewall::Nftables),
            r.handle
        );
    }
    for r in add.iter().filter(ours) {
        let verb = if r.chain == Chain::Forward {
            "insert"
        } else {
            "add"
        };
        s += &format!(
            "{verb} rule ip {} {} {}\n",
            r.chain.table(Firewall::Nftables),
            r.chain.name(Firewall::Nftables),
            r.with_comment()
        );
    }
    if drop_table {
        s += &format!("delete table ip {NFT_TABLE}\n");
    }
    s
}

/// The iptables-restore input: per table, deletions by the listed rule,
/// then insertions at the top of the built-in chain (above libvirt's jumps).
pub fn iptables_script(remove: &[Rule], add: &[Rule]) -> String {
    let mut s = String::new();
    for table in ["nat", "filter"] {
        let in_table =
            |r: &&Rule| r.firewall == Firewall::Iptables && r.chain.table(r.firewall) == table;
        let mut lines = Vec::new();
        for r in remove.iter().filter(in_table) {
            lines.push(r.handle.replacen("-A ", "-D ", 1));
        }
        for r in add.iter().filter(in_table) {
            lines.push(format!(
                "-I {} 1 {}",
                r.chain.name(Firewall::Iptables),
                r.with_comment()
            ));
        }
        if !lines.is_empty() {
            s += &format!("*{table}\n{}\nCOMMIT\n", lines.join("\n"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_read_from_their_own_tables_only() {
        let l = Listings::from_text(
            "table inet user {\n\tchain forward {\n\t\taccept comment \"kvmnet:web:00000001\" # handle 2\n\t}\n}\n\
table ip kvmnet { # handle 9\n\tchain prerouting { # handle 1\n\t\tfib daddr type local tcp dport 80 dnat to 10.0.0.5:80 comment \"kvmnet:web:00000002\" # handle 4\n\t\ttcp dport 81 dnat to 10.0.0.6:80 comment \"kvmnet:db:00000003\" # handle 5\n\t}\n}\n\
table ip libvirt_network { # handle 3\n\tchain forward { # handle 1\n\t\toifname \"virbr0\" accept comment \"kvmnet:web:00000004\" # handle 8\n\t\tjump guest_input # handle 5\n\t}\n}\n",
            "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -m comment --comment kvmnet:web:00000005 -j ACCEPT\n\
-A FORWARD -m comment --comment kvmnet:web:00000006 -j ACCEPT\n-A LIBVIRT_FWI -o virbr1 -j REJECT\nCOMMIT\n\
*nat\n-A OUTPUT -m comment --comment kvmnet:web:00000007 -j DNAT --to-destination 10.0.0.5\nCOMMIT\n",
        );
        let o = observe_in(&l, "web");
        let tags: Vec<&str> = o.rules.iter().map(|r| &r.tag[11..]).collect();
        assert_eq!(tags, ["00000002", "00000004", "00000007", "00000006"]);
        assert!(o.table_exists && o.others_in_table);
        assert!(o.rules.iter().all(|r| r.well_placed));
    }
}
