//! What the host's firewalls hold, read once: some nft tables and all of
//! iptables. nat_forward finds its rules (and libvirt's) in it;
//! kvm_net_facts reports libvirt's and kvmnet's rules from it.

use crate::{Result, cmd};

/// Chosen nft tables of family `ip` (`nft -a list table`, each; the whole
/// ruleset, with iptables-nft's tables translated, takes longer), and all
/// of iptables (`iptables-save`: one call costs what one table's listing
/// does). "" for what does not exist or is not installed.
#[derive(Debug, Clone, Default)]
pub struct Listings {
    nft: String,
    iptables: String,
}

impl Listings {
    /// Listings given as text (`nft -a list table` outputs, one after the
    /// other, and `iptables-save`): for tests of what reads them.
    pub fn from_text(nft: &str, iptables: &str) -> Listings {
        Listings {
            nft: nft.to_string(),
            iptables: iptables.to_string(),
        }
    }

    /// Read the nft tables `nft_tables` (family ip) and iptables.
    pub fn read(nft_tables: &[&str]) -> Result<Listings> {
        let read = |prog: &str, argv: &[&str]| {
            if cmd::on_path(prog) {
                cmd::read(argv)
            } else {
                Ok(String::new())
            }
        };
        let mut nft = String::new();
        for table in nft_tables {
            match read("nft", &["nft", "-a", "list", "table", "ip", table]) {
                Ok(t) => nft += &t,
                Err(e) if e.msg.contains("No such file or directory") => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Listings {
            nft,
            iptables: read("iptables-save", &["iptables-save"])?,
        })
    }

    /// One nft table of family `ip`, from its `table` line to its closing
    /// brace; "" when there is no such table.
    pub fn nft_table(&self, name: &str) -> String {
        let head = format!("table ip {name} {{");
        let mut lines = self.nft.lines().skip_while(|l| !l.starts_with(&head));
        let Some(first) = lines.next() else {
            return String::new();
        };
        let mut out = format!("{first}\n");
        for l in lines {
            out += l;
            out += "\n";
            if l == "}" {
                break;
            }
        }
        out
    }

    /// One iptables table's rules, from `*<table>` to its COMMIT.
    pub fn iptables_table(&self, table: &str) -> String {
        let head = format!("*{table}");
        self.iptables
            .lines()
            .skip_while(|l| *l != head)
            .take_while(|l| *l != "COMMIT")
            .map(|l| format!("{l}\n"))
            .collect()
    }
}
