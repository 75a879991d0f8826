//! libvirt's and kvmnet's firewall rules, picked out of the listings of
//! iptables and of the nft tables they use. Pure.

use crate::facts::{FirewallRule, FirewallRules};
use kvmnet_core::firewall::Listings;

/// libvirt's nft table (its nftables backend, libvirt 10+).
pub const LIBVIRT_TABLE: &str = "libvirt_network";
/// nat_forward's nft table.
pub const KVMNET_TABLE: &str = "kvmnet";
/// The tag every kvmnet rule's comment starts with.
const TAG: &str = "kvmnet:";

/// The rules of one nft table listing (`nft -a list table`): each rule
/// line with its chain, without the handle.
fn nft_rules(table: &str, listing: &str) -> Vec<FirewallRule> {
    let mut out = Vec::new();
    let mut chain = String::new();
    for line in listing.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("chain ") {
            chain = rest.split_whitespace().next().unwrap_or("").to_string();
            continue;
        }
        let rule = line.split(" # handle ").next().unwrap_or(line).trim();
        if chain.is_empty()
            || rule.is_empty()
            || rule == "}"
            || rule.starts_with("type ")
            || rule.starts_with("policy ")
            || rule.starts_with('#')
        {
            continue;
        }
        out.push(FirewallRule {
            firewall: "nftables".into(),
            table: table.into(),
            chain: chain.clone(),
            rule: rule.to_string(),
        });
    }
    out
}

/// The `-A` lines of one iptables-save table, with their chain.
fn iptables_rules(table: &str, listing: &str) -> Vec<FirewallRule> {
    listing
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("-A ")?;
            let (chain, rule) = rest.split_once(' ').unwrap_or((rest, ""));
            Some(FirewallRule {
                firewall: "iptables".into(),
                table: table.into(),
                chain: chain.into(),
                rule: rule.into(),
            })
        })
        .collect()
}

/// libvirt's rules (its own chains and table, and its jumps into them)
/// and kvmnet's (its table, and anything tagged kvmnet elsewhere).
pub fn classify(l: &Listings) -> FirewallRules {
    let mut out = FirewallRules::default();
    let mut all = nft_rules(LIBVIRT_TABLE, &l.nft_table(LIBVIRT_TABLE));
    for table in ["nat", "filter", "mangle"] {
        all.extend(iptables_rules(table, &l.iptables_table(table)));
    }
    for r in all {
        if r.rule.contains(TAG) {
            out.kvmnet.push(r);
        } else if r.table == LIBVIRT_TABLE
            || r.chain.starts_with("LIBVIRT_")
            || r.rule.contains("-j LIBVIRT_")
        {
            out.libvirt.push(r);
        }
    }
    let mut ours = nft_rules(KVMNET_TABLE, &l.nft_table(KVMNET_TABLE));
    ours.append(&mut out.kvmnet);
    out.kvmnet = ours;
    out
}

/// Whether libvirt's rules masquerade traffic from `subnet` (a network
/// address with prefix, `192.168.122.0/24`) in either backend.
pub fn masquerades(rules: &FirewallRules, subnet: &str) -> bool {
    rules.libvirt.iter().any(|r| match r.firewall.as_str() {
        "iptables" => r.rule.contains(&format!("-s {subnet} ")) && r.rule.contains("MASQUERADE"),
        _ => r.rule.contains(&format!("ip saddr {subnet} ")) && r.rule.contains("masquerade"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPTABLES: &str = "*nat\n:POSTROUTING ACCEPT [0:0]\n:LIBVIRT_PRT - [0:0]\n\
-A POSTROUTING -j LIBVIRT_PRT\n\
-A PREROUTING -p tcp -m tcp --dport 80 -m comment --comment kvmnet:web:0000abcd -j DNAT --to-destination 10.93.1.50:80\n\
-A LIBVIRT_PRT -s 10.93.1.0/24 -d 224.0.0.0/24 -j RETURN\n\
-A LIBVIRT_PRT -s 10.93.1.0/24 ! -d 10.93.1.0/24 -j MASQUERADE\n\
-A POSTROUTING -o eth0 -j MASQUERADE\nCOMMIT\n\
*filter\n-A FORWARD -j LIBVIRT_FWX\n-A LIBVIRT_FWI -d 10.93.1.0/24 -o virbr-tx -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\nCOMMIT\n";

    const NFT: &str = "table ip kvmnet { # handle 9\n\tchain prerouting { # handle 1\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n\t\tfib daddr type local tcp dport 80 dnat to 10.0.0.5:80 comment \"kvmnet:web:00000002\" # handle 4\n\t}\n}\n\
table ip libvirt_network { # handle 3\n\tchain guest_nat { # handle 1\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n\t\tip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 counter packets 0 bytes 0 masquerade # handle 8\n\t}\n}\n";

    #[test]
    fn libvirt_and_kvmnet_rules_apart_from_the_rest() {
        let r = classify(&Listings::from_text(NFT, IPTABLES));
        let chains = |v: &[FirewallRule]| -> Vec<String> {
            v.iter()
                .map(|r| format!("{} {} {}", r.firewall, r.table, r.chain))
                .collect()
        };
        assert_eq!(
            chains(&r.libvirt),
            [
                "nftables libvirt_network guest_nat",
                "iptables nat POSTROUTING",
                "iptables nat LIBVIRT_PRT",
                "iptables nat LIBVIRT_PRT",
                "iptables filter FORWARD",
                "iptables filter LIBVIRT_FWI",
            ]
        );
        assert_eq!(
            chains(&r.kvmnet),
            ["nftables kvmnet prerouting", "iptables nat PREROUTING"]
        );
        // The user's own masquerade is neither.
        assert!(
            !r.libvirt
                .iter()
                .chain(&r.kvmnet)
                .any(|x| x.rule == "-o eth0 -j MASQUERADE")
        );
        assert_eq!(
            r.libvirt[0].rule,
            "ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 counter packets 0 bytes 0 masquerade"
        );
    }

    #[test]
    fn masquerade_found_in_either_backend() {
        let r = classify(&Listings::from_text(NFT, IPTABLES));
        assert!(masquerades(&r, "10.93.1.0/24"));
        assert!(masquerades(&r, "192.168.122.0/24"));
        assert!(!masquerades(&r, "10.93.2.0/24"));
    }
}
