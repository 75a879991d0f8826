//! kvmnet.network.netplan_bridge: a Linux bridge in netplan, applied safely.
//!
//! - [`params`]: the options (and the docs);
//! - [`render`]: the module's file from the task, and the checks against
//!   the rest of the netplan configuration;
//! - [`kernel`]: the running bridge over rtnetlink, and its differences
//!   from the task;
//! - this file: the [`kvmnet_core::Module`] glue, plan, and the apply that
//!   verifies and reverts.

pub mod kernel;
pub mod params;
pub mod render;

use kernel::Kernel;
use kvmnet_core::doc::ModuleDoc;
use kvmnet_core::{Error, Module, Mutation, Result, fs, netplan};
use params::{Params, PresentAbsent};
use schemars::JsonSchema;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct NetplanBridge;

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
    /// Links of this bridge (the bridge, its VLANs) the kernel has.
    #[serde(skip)]
    pub links: Vec<String>,
    /// The task's ports that are administratively down: a revert puts them
    /// down again.
    #[serde(skip)]
    pub down_ports: Vec<String>,
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// The module's file, and whether it applies to the running system.
    #[serde(skip)]
    pub file: PathBuf,
    #[serde(skip)]
    pub applying: bool,
}

#[derive(Debug, Clone, Default)]
pub struct BridgePlan {
    pub file: PathBuf,
    pub write: Option<String>,
    pub remove: bool,
    pub previous: Option<String>,
    pub backup_to: Option<PathBuf>,
    /// Why `netplan apply` runs; empty when it does not.
    pub apply_because: Vec<String>,
    /// Links to delete from the kernel after applying (state absent).
    pub delete: Vec<String>,
    /// Links that did not exist before: deleted again on a revert.
    pub new_links: Vec<String>,
    /// Ports that were down before: put down again on a revert.
    pub down_ports: Vec<String>,
    pub warnings: Vec<String>,
}

impl kvmnet_core::Plan for BridgePlan {
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

fn vlans_in(content: Option<&str>) -> Vec<String> {
    let doc: serde_json::Value = content
        .and_then(|c| netplan::parse_yaml(c).ok())
        .unwrap_or_default();
    doc.pointer("/network/vlans")
        .and_then(|v| v.as_object())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The bridge's links by name: the bridge and the VLANs of the task and of
/// the file as it is.
fn own_links(p: &Params, content: Option<&str>) -> Vec<String> {
    let mut names = vec![p.name.clone()];
    names.extend(p.vlans.iter().map(|v| v.name.clone()));
    names.extend(vlans_in(content));
    names.dedup();
    names
}

/// Poll the kernel until it matches the task; netplan apply returns before
/// networkd has finished.
fn wait_for_kernel(p: &Params, timeout: Duration) -> Result<Vec<String>> {
    let start = Instant::now();
    loop {
        let differs = kernel::mismatches(p, &Kernel::read()?);
        if differs.is_empty() || start.elapsed() > timeout {
            return Ok(differs);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Poll until the bridge and its ports are there (what networkd does after
/// netplan apply); the kernel as it then is.
fn wait_for_ports(p: &Params, timeout: Duration) -> Result<Kernel> {
    let start = Instant::now();
    loop {
        let k = Kernel::read()?;
        let ready = k.link(&p.name).is_some_and(|br| {
            p.interfaces
                .iter()
                .all(|port| k.link(port).is_some_and(|l| l.master == Some(br.index)))
        });
        if ready || start.elapsed() > timeout {
            return Ok(k);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// When Ansible runs over SSH: is the address the connection came in on
/// still on an up interface, and the client still reachable?
fn connection_guard() -> Result<Option<String>> {
    let Ok(conn) = std::env::var("SSH_CONNECTION") else {
        return Ok(None);
    };
    let parts: Vec<&str> = conn.split_whitespace().collect();
    let (Some(client), Some(server)) = (parts.first(), parts.get(2)) else {
        return Ok(None);
    };
    let Ok(server_ip) = server.parse() else {
        return Ok(None);
    };
    if !Kernel::read()?.has_up_address(server_ip) {
        return Ok(Some(format!(
            "the SSH connection's address {server} is no longer on an up interface"
        )));
    }
    if kvmnet_core::cmd::read(&["ip", "route", "get", client]).is_err() {
        return Ok(Some(format!(
            "the SSH client {client} is no longer routable"
        )));
    }
    Ok(None)
}

fn verify_timeout() -> Duration {
    let secs = std::env::var("KVMNET_VERIFY_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// Put the previous file back, apply it, and delete the links the failed
/// apply created.
fn revert(plan: &BridgePlan, token: &Mutation) -> String {
    let mut problems = Vec::new();
    let restored = match &plan.previous {
        Some(prev) => fs::write_atomic(&plan.file, prev, 0o600, token),
        None => fs::remove(&plan.file, token),
    };
    if let Err(e) = restored.and_then(|()| netplan::apply(token)) {
        problems.push(e.msg);
    }
    // networkd finishes the reload after netplan apply returns, and may
    // re-create a deleted link or bring a released port up once more:
    // settle for a few seconds.
    let settle = Instant::now();
    loop {
        for l in &plan.new_links {
            if kvmnet_core::netdev_exists(l)
                && let Err(e) = kvmnet_core::cmd::change(&["ip", "link", "del", "dev", l], token)
            {
                problems.push(e.msg);
            }
        }
        let k = Kernel::read();
        let up: Vec<&String> = plan
            .down_ports
            .iter()
            .filter(|port| {
                let link = k.as_ref().ok().and_then(|k| k.link(port).cloned());
                link.is_some_and(|l| l.up && l.master.is_none())
            })
            .collect();
        for port in &up {
            if let Err(e) =
                kvmnet_core::cmd::change(&["ip", "link", "set", "dev", port, "down"], token)
            {
                problems.push(e.msg);
            }
        }
        if settle.elapsed() > Duration::from_secs(5) || !problems.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    if problems.is_empty() {
        format!("reverted: {} restored and applied", plan.file.display())
    } else {
        format!("reverting failed too: {}", problems.join("; "))
    }
}

impl Module for NetplanBridge {
    const NAME: &'static str = "netplan_bridge";
    const DOC: ModuleDoc = ModuleDoc {
        short_description: "Manage a Linux bridge in netplan, applied, verified and reverted safely",
        version_added: "0.1.0",
        requirements: &["netplan.io on the target; systemd-networkd to apply"],
        notes: &[
            "Define bonds (netplan_bond) before bridges that use them as ports.",
            "KVMNET_VERIFY_TIMEOUT (seconds, default 60) bounds the wait for the kernel to match after netplan apply.",
        ],
        examples: include_str!("../examples.yml"),
    };
    type Params = Params;
    type Returns = Returns;
    type Host = Host;
    type State = State;
    type Plan = BridgePlan;

    fn connect(p: &Params) -> Result<Host> {
        let root = PathBuf::from(p.root_dir.as_deref().unwrap_or("/"));
        let live = root == Path::new("/");
        let apply = match p.apply {
            Some(true) if !live => {
                return Err(Error::invalid(
                    "apply: true works on the running system only; with root_dir, use apply: false",
                ));
            }
            Some(a) => a,
            None => live,
        };
        let rel = p
            .file
            .clone()
            .unwrap_or_else(|| format!("/etc/netplan/60-kvmnet-{}.yaml", p.name));
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

    fn observe(host: &Host, p: &Params) -> Result<State> {
        let content = fs::read_optional(&host.file)?;
        let mut state = State {
            content,
            file: host.file.clone(),
            applying: host.apply,
            ..State::default()
        };
        if host.apply {
            let k = Kernel::read()?;
            state.links = own_links(p, state.content.as_deref())
                .into_iter()
                .filter(|l| k.link(l).is_some())
                .collect();
            if p.state == PresentAbsent::Present {
                state.kernel_differs = kernel::mismatches(p, &k);
                state.down_ports = p
                    .interfaces
                    .iter()
                    .filter(|i| k.link(i).is_some_and(|l| !l.up))
                    .cloned()
                    .collect();
            }
        }
        Ok(state)
    }

    fn desired(host: &Host, p: &Params, current: &State) -> Result<State> {
        render::check_params(p)?;
        if p.state == PresentAbsent::Absent {
            if current.content.is_some() {
                netplan::validate(&host.root, &host.file, None)?;
            }
            return Ok(State {
                file: host.file.clone(),
                applying: host.apply,
                ..State::default()
            });
        }
        let others = netplan::definitions(&netplan::read_config(&host.root, Some(&host.file))?);
        let warnings = render::conflicts(p, &host.file, &others)?;
        let content = render::render(p, &others);
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

    fn plan(p: &Params, current: &State, desired: &State) -> Result<BridgePlan> {
        let file_changes = current.content != desired.content;
        let mut plan = BridgePlan {
            file: current.file.clone(),
            write: desired.content.clone().filter(|_| file_changes),
            remove: desired.content.is_none() && current.content.is_some(),
            previous: current.content.clone(),
            warnings: desired.warnings.clone(),
            ..BridgePlan::default()
        };
        if p.backup && current.content.is_some() && file_changes {
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
        if p.state == PresentAbsent::Absent {
            plan.delete = current.links.clone();
        } else {
            plan.new_links = own_links(p, None)
                .into_iter()
                .filter(|l| !current.links.contains(l))
                .collect();
            plan.down_ports = current.down_ports.clone();
        }
        Ok(plan)
    }

    fn render(state: &State) -> String {
        state.content.clone().unwrap_or_default()
    }

    fn subject(p: &Params) -> String {
        format!("netplan bridge {}", p.name)
    }

    fn apply(host: &Host, p: &Params, plan: &BridgePlan, token: &Mutation) -> Result<()> {
        if let Some(dest) = &plan.backup_to {
            fs::backup(&plan.file, dest, token)?;
        }
        if let Some(content) = &plan.write {
            fs::write_atomic(&plan.file, content, 0o600, token)?;
        }
        if plan.remove {
            fs::remove(&plan.file, token)?;
        }
        if !host.apply || plan.apply_because.is_empty() && plan.delete.is_empty() {
            return Ok(());
        }
        if let Err(e) = netplan::apply(token) {
            return Err(Error::backend(format!(
                "{}; {}",
                e.msg,
                revert(plan, token)
            )));
        }
        // netplan leaves a removed bridge (and its VLANs) in the kernel.
        for l in &plan.delete {
            if kvmnet_core::netdev_exists(l) {
                kvmnet_core::cmd::change(&["ip", "link", "del", "dev", l], token)?;
            }
        }
        if p.state == PresentAbsent::Absent {
            return Ok(());
        }
        // Bridge parameters networkd did not set on an existing bridge.
        let fixes = kernel::parameter_fixes(p, &wait_for_ports(p, verify_timeout())?);
        for cmd in &fixes {
            let argv: Vec<&str> = cmd.iter().map(String::as_str).collect();
            if let Err(e) = kvmnet_core::cmd::change(&argv, token) {
                return Err(Error::backend(format!(
                    "{}; {}",
                    e.msg,
                    revert(plan, token)
                )));
            }
        }
        let differs = wait_for_kernel(p, verify_timeout())?;
        if !differs.is_empty() {
            return Err(Error::verification(format!(
                "after netplan apply the kernel does not match: {}; {}",
                differs.join(", "),
                revert(plan, token)
            )));
        }
        if let Some(cut) = connection_guard()? {
            return Err(Error::verification(format!(
                "after netplan apply {cut}; {}",
                revert(plan, token)
            )));
        }
        Ok(())
    }

    fn returns(_: &Params, state: &State, plan: &BridgePlan) -> Returns {
        Returns {
            file: plan.file.display().to_string(),
            content: state.content.clone(),
            backup_file: plan.backup_to.as_ref().map(|b| b.display().to_string()),
            actions: kvmnet_core::Plan::actions(plan),
        }
    }
}
