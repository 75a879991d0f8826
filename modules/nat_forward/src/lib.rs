//! kvmnet.network.nat_forward: a port of the host forwarded to a guest on
//! a libvirt NAT network, in rules of its own that say whose they are.
//!
//! - [`params`]: the options (and the docs);
//! - [`resolve`]: the task checked, then against libvirt (network, guest
//!   address, which firewall libvirt uses) into a [`rules::Forward`];
//! - [`rules`]: the forward's tagged rules per backend, and parsers for
//!   what nft and iptables list (pure);
//! - [`plan`]: the state of a forward and the changes to it (pure);
//! - [`firewall`]: reading and changing the rules, one transaction per
//!   backend;
//! - [`persist`]: the saved forward, the libvirt hook, the sysctl;
//! - [`hook`]: this binary run by libvirt as that hook;
//! - this file: the Module glue.

pub mod firewall;
pub mod hook;
pub mod params;
pub mod persist;
pub mod plan;
pub mod resolve;
pub mod rules;

use firewall::Listings;
use kvmnet_core::doc::ModuleDoc;
use kvmnet_core::libvirt::{self, Libvirt};
use kvmnet_core::{Error, Module, Mutation, PresentAbsent, Result, fs};
use params::Params;
use persist::Paths;
use plan::{Changes, State};
use schemars::JsonSchema;
use serde::Serialize;
use std::cell::RefCell;
use std::path::PathBuf;

#[derive(Debug)]
pub struct NatForward;

#[derive(Debug)]
pub struct Host {
    /// Only a present forward asks libvirt anything.
    pub lv: Option<Libvirt>,
    pub paths: Paths,
    /// This binary's bytes: what the hook is (or would be) a copy of.
    pub exe: Vec<u8>,
    /// The firewalls as the last observe read them: desired decides the
    /// backend from the same listing.
    pub listings: RefCell<Option<Listings>>,
}

/// The forward as resolved, as returned.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ForwardInfo {
    /// The libvirt network and its bridge.
    pub network: String,
    pub bridge: String,
    /// The guest's address (found through libvirt when O(domain) was given).
    pub dest: String,
    /// Host port(s) and guest port(s), as V(80) or V(8000-8010).
    pub host_port: String,
    pub dest_port: String,
    pub protocol: String,
    /// The firewall the rules are in: V(nftables) or V(iptables).
    pub backend: String,
}

/// What the module returns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Returns {
    /// The forward as resolved; absent after O(state=absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward: Option<ForwardInfo>,
    /// The forward's rules, each with its place and its comment.
    #[schemars(extend("x-sample" = ["nft ip kvmnet prerouting: iifname != \"virbr0\" fib daddr type local tcp dport 8080 dnat to 192.168.122.50:80 comment \"kvmnet:web:1c9f3b2a\""]))]
    pub rules: Vec<String>,
    /// The steps taken (in check mode: that would be taken), in order.
    pub actions: Vec<String>,
}

impl Module for NatForward {
    const NAME: &'static str = "nat_forward";
    const DOC: ModuleDoc = ModuleDoc {
        short_description: "Forward a host port to a guest on a libvirt NAT network",
        version_added: "0.1.0",
        requirements: &[
            "libvirt's client library (libvirt.so.0) on the target, and a reachable libvirtd",
            "nft (nftables backend) or iptables and iptables-restore (iptables backend)",
        ],
        notes: &[
            "The network must be active: the forward's rules sit next to libvirt's, which exist only while it runs.",
            "With O(domain), the guest's address is looked up when the task runs (and saved for the hook); give the guest a DHCP reservation so it stays the same.",
            "libvirt runs hooks it found when its daemon started: the first time O(persist=true) installs the hook, restart libvirtd (or virtnetworkd and virtqemud) for it to take effect; the module warns.",
            "A host firewall of your own that drops forwarded traffic (a FORWARD policy of drop, another table's reject) must allow the forward too.",
        ],
        examples: include_str!("../examples.yml"),
        read_only: false,
    };
    type Params = Params;
    type Returns = Returns;
    type Host = Host;
    type State = State;
    type Plan = Changes;

    fn connect(p: &Params) -> Result<Host> {
        resolve::check_name(&p.name)?;
        let lv = match p.state {
            PresentAbsent::Present => Some(Libvirt::open(&libvirt::resolve_uri(p.uri.as_deref()))?),
            PresentAbsent::Absent => None,
        };
        let exe_path = std::env::current_exe()
            .map_err(|e| Error::backend(format!("finding this module's binary: {e}")))?;
        let exe = std::fs::read(&exe_path).map_err(|e| {
            Error::backend(format!(
                "reading this module's binary {}: {e}",
                exe_path.display()
            ))
        })?;
        Ok(Host {
            lv,
            paths: Paths::under(&PathBuf::from(p.root_dir.as_deref().unwrap_or("/"))),
            exe,
            listings: RefCell::new(None),
        })
    }

    fn observe(host: &Host, p: &Params) -> Result<State> {
        let listings = firewall::listings()?;
        let fw = firewall::observe_in(&listings, &p.name);
        host.listings.replace(Some(listings));
        let saved = persist::observe(&host.paths, &p.name, &host.exe)?;
        Ok(State {
            forward: None,
            rules: fw.rules,
            table_exists: fw.table_exists,
            others_in_table: fw.others_in_table,
            saved: saved.this,
            hook: saved.hook,
            others_saved: saved.others,
            libvirt_knew_hooks: saved.libvirt_knew_hooks,
            ip_forward: if p.ip_forward {
                Some(persist::ip_forward_on(&host.paths)?)
            } else {
                None
            },
            listed: Vec::new(),
        })
    }

    fn desired(host: &Host, p: &Params, current: &State) -> Result<State> {
        let mut d = State {
            hook: current.others_saved,
            others_saved: current.others_saved,
            table_exists: current.table_exists,
            others_in_table: current.others_in_table,
            libvirt_knew_hooks: current.libvirt_knew_hooks,
            ip_forward: p.ip_forward.then_some(true),
            listed: current.rules.clone(),
            ..State::default()
        };
        if p.state == PresentAbsent::Absent {
            return Ok(d);
        }
        let lv = host
            .lv
            .as_ref()
            .ok_or_else(|| Error::bug("no libvirt connection for a present forward"))?;
        let listings = match host.listings.borrow().clone() {
            Some(l) => l,
            None => firewall::listings()?,
        };
        let forward = resolve::forward(lv, p, &listings)?;
        d.rules = rules::render(&forward);
        if p.persist {
            let json = serde_json::to_string_pretty(&forward)
                .map_err(|e| Error::bug(format!("saving the forward: {e}")))?;
            d.saved = Some(json + "\n");
            d.hook = true;
        }
        d.forward = Some(forward);
        Ok(d)
    }

    fn plan(p: &Params, current: &State, desired: &State) -> Result<Changes> {
        let path = Paths::under(&PathBuf::from(p.root_dir.as_deref().unwrap_or("/")));
        Ok(plan::changes(
            current,
            desired,
            &path.saved(&p.name).display().to_string(),
        ))
    }

    fn render(state: &State) -> String {
        plan::render(state)
    }

    fn subject(p: &Params) -> String {
        format!("port forward '{}'", p.name)
    }

    fn apply(host: &Host, p: &Params, c: &Changes, token: &Mutation) -> Result<()> {
        // The rules first: each backend's change is one transaction, so a
        // firewall that refuses leaves the host as it was, with no hook or
        // saved copy for rules that do not exist.
        firewall::change(&c.remove, &c.add, c.drop_table, token)?;
        if c.hook == Some(true) {
            persist::install_hook(&host.paths, &host.exe, token)?;
        }
        let saved = host.paths.saved(&p.name);
        match &c.save {
            Some(Some(json)) => fs::write_atomic(&saved, json, 0o600, token)?,
            Some(None) => fs::remove(&saved, token)?,
            None => {}
        }
        if c.hook == Some(false) {
            persist::remove_hook(&host.paths, token)?;
        }
        if c.ip_forward {
            persist::set_ip_forward(&host.paths, token)?;
        }
        Ok(())
    }

    fn returns(_: &Params, state: &State, plan: &Changes) -> Returns {
        Returns {
            forward: state.forward.as_ref().map(|f| ForwardInfo {
                network: f.network.clone(),
                bridge: f.bridge.clone(),
                dest: f.dest.to_string(),
                host_port: f.host_ports.to_string(),
                dest_port: f.dest_ports.to_string(),
                protocol: kvmnet_core::enum_name(&f.protocol),
                backend: kvmnet_core::enum_name(&f.firewall),
            }),
            rules: state
                .rules
                .iter()
                .map(|r| format!("{}: {}", plan::place(r), r.with_comment()))
                .collect(),
            actions: kvmnet_core::Plan::actions(plan),
        }
    }
}

/// The binary's entry: the module, or the libvirt hook when libvirt runs
/// it under the hook's name.
pub fn main() -> ! {
    let argv: Vec<String> = std::env::args().collect();
    if hook::is_hook(&argv) {
        std::process::exit(hook::main(&argv));
    }
    kvmnet_core::run::main_with::<NatForward>(&argv)
}
