//! One network device in a netplan file of its own, applied safely: what
//! netplan_bridge and netplan_bond share, so the two cannot drift apart.
//!
//! A module describes its device with [`Device`] (its options, its
//! stanza's `parameters`, how the kernel must look); [`Netplan`] is the
//! whole [`Module`] on top of that:
//!
//! - the file: one per device (default `/etc/netplan/60-kvmnet-<name>.yaml`),
//!   checked against every other netplan file ([`config::conflicts`]),
//!   validated by the real `netplan generate` on a staged copy, written
//!   atomically with mode 0600, optionally backed up;
//! - the kernel: read over rtnetlink; `netplan apply` runs when the file
//!   changed or the kernel differs; a device whose settings the kernel
//!   cannot change in place is deleted first so networkd creates it anew;
//! - verification: the kernel is polled until it matches; when it does not,
//!   or the SSH connection Ansible runs over would be cut, the previous
//!   file is put back and applied ([`apply::revert`]);
//! - absent: the file goes, and the device (netplan leaves it) is deleted.

pub mod apply;
pub mod config;

use crate::doc::ModuleDoc;
use crate::netlink::{Kernel, Link};
use crate::netplan::{self, Definition};
use crate::{Error, Module, Mutation, PresentAbsent, Result, fs};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// The options every netplan device module has, borrowed from its Params.
#[derive(Debug, Clone, Copy)]
pub struct Common<'a> {
    pub name: &'a str,
    pub state: PresentAbsent,
    /// Bridge ports or bond members.
    pub members: &'a [String],
    /// VLANs defined in the same file.
    pub vlans: &'a [Vlan],
    pub addresses: &'a [String],
    pub dhcp4: Option<bool>,
    pub dhcp6: Option<bool>,
    pub routes: &'a [Route],
    pub nameservers: Option<&'a Nameservers>,
    pub mtu: Option<u32>,
    pub macaddress: Option<&'a str>,
    pub file: Option<&'a str>,
    pub root_dir: Option<&'a str>,
    pub apply: Option<bool>,
    pub backup: bool,
}

/// A kind of netplan device: what differs between bridges and bonds.
pub trait Device: DeserializeOwned + JsonSchema {
    /// The module's name: `netplan_bond`.
    const MODULE: &'static str;
    const DOC: ModuleDoc;
    /// The kernel's link kind, and the word in messages: `bond`.
    const KIND: &'static str;
    /// netplan's section: `bonds`.
    const SECTION: &'static str;
    /// What the device's members are called: `port`, `member`.
    const MEMBER: &'static str;
    /// Whether links enslaved beyond the task's are a difference. A bond's
    /// members are all configuration; a bridge also holds guests' taps.
    const EXCLUSIVE_MEMBERS: bool;

    fn common(&self) -> Common<'_>;
    /// Checks of the device's own options (the common ones are checked by
    /// [`config::check`]).
    fn check(&self) -> Result<()>;
    /// The stanza's `parameters`, with netplan's names; None for none.
    fn parameters(&self) -> Option<Value>;
    /// How the device's own settings in the kernel differ from the task.
    fn mismatches(&self, device: &Link, k: &Kernel) -> Vec<String>;
    /// Why the device has to be deleted and created anew: settings that
    /// networkd sets only when it creates a device and the kernel cannot
    /// change in place. None when it need not.
    fn recreate_because(&self, _device: &Link, _k: &Kernel) -> Option<String> {
        None
    }
    /// Commands (argument vectors) that set, after `netplan apply`, what
    /// networkd leaves alone on a device that exists.
    fn fixes(&self, _device: &Link, _k: &Kernel) -> Vec<Vec<String>> {
        Vec::new()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vlan {
    /// The VLAN interface's name, for example V(eth0.20).
    pub name: String,
    /// VLAN ID, 1 to 4094.
    #[schemars(range(min = 1, max = 4094))]
    pub id: u16,
    /// The interface the VLAN rides on.
    pub link: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Destination with prefix, or V(default).
    pub to: String,
    /// Gateway address.
    pub via: String,
    /// Route metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Nameservers {
    /// DNS server addresses.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Search domains.
    #[serde(default)]
    pub search: Vec<String>,
}

/// The whole module for a [`Device`].
#[derive(Debug)]
pub struct Netplan<D>(PhantomData<D>);

/// Where the module works: the root, its file, and whether it applies.
#[derive(Debug)]
pub struct Host {
    pub root: PathBuf,
    pub file: PathBuf,
    pub apply: bool,
}

/// What the module sees: its file, and the kernel's differences from the
/// task.
#[derive(Debug, Clone, Default, Serialize)]
pub struct State {
    /// The module's file; None when it does not exist.
    pub content: Option<String>,
    /// How the kernel differs from the task (empty when it matches, or
    /// when the module does not apply).
    #[serde(skip)]
    pub kernel_differs: Vec<String>,
    /// Why the device must be created anew; None when it need not.
    #[serde(skip)]
    pub recreate: Option<String>,
    /// The device's links (it, its VLANs) the kernel has.
    #[serde(skip)]
    pub links: Vec<String>,
    /// The task's members that are administratively down: a revert puts
    /// them down again.
    #[serde(skip)]
    pub down_members: Vec<String>,
    #[serde(skip)]
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub file: PathBuf,
    #[serde(skip)]
    pub applying: bool,
}

#[derive(Debug, Clone, Default)]
pub struct DevicePlan {
    pub file: PathBuf,
    pub write: Option<String>,
    pub remove: bool,
    pub previous: Option<String>,
    pub backup_to: Option<PathBuf>,
    /// Links deleted before `netplan apply`, so that networkd creates
    /// them with the task's settings.
    pub recreate: Vec<String>,
    /// Why `netplan apply` runs; empty when it does not.
    pub apply_because: Vec<String>,
    /// Links to delete from the kernel after applying (state absent).
    pub delete: Vec<String>,
    /// Links that did not exist before: deleted again on a revert.
    pub new_links: Vec<String>,
    /// Members that were down before: put down again on a revert.
    pub down_members: Vec<String>,
    pub warnings: Vec<String>,
}

impl crate::Plan for DevicePlan {
    fn is_empty(&self) -> bool {
        self.write.is_none()
            && !self.remove
            && self.apply_because.is_empty()
            && self.delete.is_empty()
    }
    fn actions(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(b) = &self.backup_to {
            out.push(format!(
                "back up {} to {}",
                self.file.display(),
                b.display()
            ));
        }
        if self.write.is_some() {
            out.push(format!("write {}", self.file.display()));
        }
        if self.remove {
            out.push(format!("remove {}", self.file.display()));
        }
        for l in &self.recreate {
            out.push(format!(
                "delete {l} from the kernel, for networkd to create it anew"
            ));
        }
        if !self.apply_because.is_empty() {
            out.push(format!("netplan apply ({})", self.apply_because.join("; ")));
        }
        for l in &self.delete {
            out.push(format!("delete {l} from the kernel"));
        }
        out
    }
    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}

/// What the module returns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Returns {
    /// The netplan file the module owns.
    pub file: String,
    /// Its content after the task (in check mode: as it would be).
    #[schemars(extend("x-returned" = "when O(state=present)"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// The backup of the previous file.
    #[schemars(extend("x-returned" = "when O(backup=true) and the file changed"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_file: Option<String>,
    /// The steps taken (in check mode: that would be taken), in order.
    #[schemars(extend("x-sample" = ["write /etc/netplan/60-kvmnet-br0.yaml", "netplan apply (the file changed)"]))]
    pub actions: Vec<String>,
}

/// The VLAN names defined in a netplan file's text.
fn vlans_in(content: Option<&str>) -> Vec<String> {
    let doc: Value = content
        .and_then(|c| netplan::parse_yaml(c).ok())
        .unwrap_or_default();
    doc.pointer("/network/vlans")
        .and_then(|v| v.as_object())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The device's links by name: the device and the VLANs of the task and
/// of the file as it is.
pub fn own_links(c: &Common, content: Option<&str>) -> Vec<String> {
    let mut names = vec![c.name.to_string()];
    names.extend(c.vlans.iter().map(|v| v.name.clone()));
    for v in vlans_in(content) {
        if !names.contains(&v) {
            names.push(v);
        }
    }
    names
}

/// The device of the task in the kernel, when it is there with the right
/// kind.
pub fn device<'k, D: Device>(p: &D, k: &'k Kernel) -> Option<&'k Link> {
    k.link(p.common().name)
        .filter(|l| l.kind.as_deref() == Some(D::KIND))
}

/// How the kernel differs from the task, in words; empty when it matches.
pub fn mismatches<D: Device>(p: &D, k: &Kernel) -> Vec<String> {
    let c = p.common();
    let mut out = Vec::new();
    for v in c.vlans {
        match k.link(&v.name) {
            Some(l) if l.kind.as_deref() == Some("vlan") => {}
            _ => out.push(format!("VLAN {} missing", v.name)),
        }
    }
    let Some(dev) = device(p, k) else {
        out.push(format!("{} {} missing", D::KIND, c.name));
        return out;
    };
    if !dev.up {
        out.push(format!("{} {} is down", D::KIND, c.name));
    }
    for m in c.members {
        match k.link(m) {
            None => out.push(format!("{} {m} missing", D::MEMBER)),
            Some(l) if l.master != Some(dev.index) => {
                out.push(format!("{m} is not a {} of {}", D::MEMBER, c.name))
            }
            Some(_) => {}
        }
    }
    if D::EXCLUSIVE_MEMBERS {
        for extra in k.members_of(dev) {
            if !c.members.contains(&extra.name) {
                out.push(format!(
                    "{} is a {} of {} but not in the task",
                    extra.name,
                    D::MEMBER,
                    c.name
                ));
            }
        }
    }
    out.extend(p.mismatches(dev, k));
    for a in c.addresses {
        if !k.has_address(dev, a) {
            out.push(format!("address {a} missing on {}", c.name));
        }
    }
    if let Some(mtu) = c.mtu
        && dev.mtu != mtu
    {
        out.push(format!("MTU is {}, not {mtu}", dev.mtu));
    }
    if let Some(mac) = c.macaddress
        && dev.mac.as_deref() != Some(mac.to_ascii_lowercase().as_str())
    {
        out.push(format!(
            "MAC is {}, not {mac}",
            dev.mac.clone().unwrap_or_default()
        ));
    }
    out
}

/// After `netplan apply`: what networkd leaves alone — the device's own
/// fixes, and members no longer in the task released.
pub fn fixes<D: Device>(p: &D, k: &Kernel) -> Vec<Vec<String>> {
    let c = p.common();
    let Some(dev) = device(p, k) else {
        return Vec::new();
    };
    let mut cmds = p.fixes(dev, k);
    if D::EXCLUSIVE_MEMBERS {
        for extra in k.members_of(dev) {
            if !c.members.contains(&extra.name) {
                cmds.push(
                    ["ip", "link", "set", "dev", &extra.name, "nomaster"]
                        .map(String::from)
                        .to_vec(),
                );
            }
        }
    }
    cmds
}

impl<D: Device> Module for Netplan<D> {
    const NAME: &'static str = D::MODULE;
    const DOC: ModuleDoc = D::DOC;
    type Params = D;
    type Returns = Returns;
    type Host = Host;
    type State = State;
    type Plan = DevicePlan;

    fn connect(p: &D) -> Result<Host> {
        let c = p.common();
        let root = PathBuf::from(c.root_dir.unwrap_or("/"));
        let live = root == Path::new("/");
        let apply = match c.apply {
            Some(true) if !live => {
                return Err(Error::invalid(
                    "apply: true works on the running system only; with root_dir, use apply: false",
                ));
            }
            Some(a) => a,
            None => live,
        };
        let rel = c
            .file
            .map(str::to_string)
            .unwrap_or_else(|| format!("/etc/netplan/60-kvmnet-{}.yaml", c.name));
        let in_netplan_dir = netplan::DIRS
            .iter()
            .any(|d| Path::new(&rel).parent() == Some(Path::new(&format!("/{d}"))));
        if !in_netplan_dir || !rel.ends_with(".yaml") {
            return Err(Error::invalid(format!(
                "file: {rel} is not read by netplan; give a .yaml file in /etc/netplan, /run/netplan or /lib/netplan"
            )));
        }
        Ok(Host {
            file: root.join(rel.trim_start_matches('/')),
            root,
            apply,
        })
    }

    fn observe(host: &Host, p: &D) -> Result<State> {
        let c = p.common();
        let content = fs::read_optional(&host.file)?;
        let mut state = State {
            content,
            file: host.file.clone(),
            applying: host.apply,
            ..State::default()
        };
        if host.apply {
            let k = Kernel::read()?;
            state.links = own_links(&c, state.content.as_deref())
                .into_iter()
                .filter(|l| k.link(l).is_some())
                .collect();
            if c.state == PresentAbsent::Present {
                state.kernel_differs = mismatches(p, &k);
                state.recreate = device(p, &k).and_then(|dev| p.recreate_because(dev, &k));
                state.down_members = c
                    .members
                    .iter()
                    .filter(|i| k.link(i).is_some_and(|l| !l.up))
                    .cloned()
                    .collect();
            }
        }
        Ok(state)
    }

    fn desired(host: &Host, p: &D, current: &State) -> Result<State> {
        config::check(p)?;
        let c = p.common();
        if c.state == PresentAbsent::Absent {
            if current.content.is_some() {
                netplan::validate(&host.root, &host.file, None)?;
            }
            return Ok(State {
                file: host.file.clone(),
                applying: host.apply,
                ..State::default()
            });
        }
        let others: Vec<Definition> =
            netplan::definitions(&netplan::read_config(&host.root, Some(&host.file))?);
        let warnings = config::conflicts(p, &host.file, &others)?;
        let content = config::render(p, &others);
        // Validating costs a netplan run: only when the file would change.
        if current.content.as_deref() != Some(content.as_str()) {
            netplan::validate(&host.root, &host.file, Some(&content))?;
        }
        Ok(State {
            content: Some(content),
            warnings,
            file: host.file.clone(),
            applying: host.apply,
            ..State::default()
        })
    }

    fn plan(p: &D, current: &State, desired: &State) -> Result<DevicePlan> {
        let c = p.common();
        let file_changes = current.content != desired.content;
        let mut plan = DevicePlan {
            file: current.file.clone(),
            write: desired.content.clone().filter(|_| file_changes),
            remove: desired.content.is_none() && current.content.is_some(),
            previous: current.content.clone(),
            warnings: desired.warnings.clone(),
            ..DevicePlan::default()
        };
        if c.backup && current.content.is_some() && file_changes {
            plan.backup_to = Some(fs::backup_path(&current.file));
        }
        if file_changes && current.applying {
            plan.apply_because.push("the file changed".into());
        }
        if !current.kernel_differs.is_empty() {
            plan.apply_because.push(format!(
                "the kernel differs: {}",
                current.kernel_differs.join(", ")
            ));
        }
        if c.state == PresentAbsent::Absent {
            plan.delete = current.links.clone();
        } else {
            if let Some(why) = &current.recreate {
                plan.recreate.push(c.name.to_string());
                plan.apply_because
                    .push(format!("{} {} is created anew: {why}", D::KIND, c.name));
            }
            plan.new_links = own_links(&c, None)
                .into_iter()
                .filter(|l| !current.links.contains(l))
                .collect();
            plan.down_members = current.down_members.clone();
        }
        Ok(plan)
    }

    fn render(state: &State) -> String {
        state.content.clone().unwrap_or_default()
    }

    fn subject(p: &D) -> String {
        format!("netplan {} {}", D::KIND, p.common().name)
    }

    fn apply(host: &Host, p: &D, plan: &DevicePlan, token: &Mutation) -> Result<()> {
        apply::apply(host, p, plan, token)
    }

    fn returns(_: &D, state: &State, plan: &DevicePlan) -> Returns {
        Returns {
            file: plan.file.display().to_string(),
            content: state.content.clone(),
            backup_file: plan.backup_to.as_ref().map(|b| b.display().to_string()),
            actions: crate::Plan::actions(plan),
        }
    }
}
