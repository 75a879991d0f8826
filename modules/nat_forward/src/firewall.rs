//! Reading a forward's rules from nft and iptables, and changing them in
//! one transaction per backend (`nft -f -`, `iptables-restore --noflush`):
//! a failure leaves the rules as they were.

use crate::rules::{self, Chain, Firewall, LIBVIRT_CHAIN, LIBVIRT_TABLE, NFT_TABLE, Rule};
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

/// An nft listing, or "" when the table or chain does not exist (or nft is
/// not installed).
fn nft_list(what: &[&str]) -> Result<String> {
    if !cmd::on_path("nft") {
        return Ok(String::new());
    }
    let mut argv = vec!["nft", "-a", "list"];
    argv.extend(what);
    match cmd::read(&argv) {
        Err(e) if e.msg.contains("No such file or directory") => Ok(String::new()),
        other => other,
    }
}

fn iptables_list(table: &str, chain: Option<&str>) -> Result<String> {
    if !cmd::on_path("iptables") {
        return Ok(String::new());
    }
    let mut argv = vec!["iptables", "-w", "-t", table, "-S"];
    argv.extend(chain);
    match cmd::read(&argv) {
        Err(e) if e.msg.contains("No chain/target/match by that name") => Ok(String::new()),
        other => other,
    }
}

/// The rules tagged for forward `name`, in both backends (a forward that
/// moved between backends must leave nothing behind).
pub fn observe(name: &str) -> Result<Observed> {
    let prefix = rules::tag_prefix(name);
    let ours = nft_list(&["table", "ip", NFT_TABLE])?;
    let mut all = rules::parse_nft(&ours);
    let others_in_table = all.iter().any(|r| !r.tag.starts_with(&prefix));
    all.extend(rules::parse_nft(&nft_list(&[
        "chain",
        "ip",
        LIBVIRT_TABLE,
        LIBVIRT_CHAIN,
    ])?));
    all.extend(rules::parse_iptables(&iptables_list("nat", None)?));
    all.extend(rules::parse_iptables(&iptables_list(
        "filter",
        Some("FORWARD"),
    )?));
    all.retain(|r| r.tag.starts_with(&prefix));
    Ok(Observed {
        rules: all,
        table_exists: !ours.is_empty(),
        others_in_table,
    })
}

/// Whether libvirt's own rules for `bridge` are in nftables (its
/// `libvirt_network` table) or iptables (its LIBVIRT_FWI chain).
pub fn libvirt_firewall(bridge: &str) -> Result<Option<Firewall>> {
    let quoted = format!("\"{bridge}\"");
    if nft_list(&["table", "ip", LIBVIRT_TABLE])?.contains(&quoted) {
        return Ok(Some(Firewall::Nftables));
    }
    let fwi = iptables_list("filter", Some(rules::LIBVIRT_FWI))?;
    if fwi.lines().any(|l| l.contains(&format!("-o {bridge} "))) {
        return Ok(Some(Firewall::Iptables));
    }
    Ok(None)
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
