//! kvmnet.network.vm_interface: one NIC of a libvirt domain, live and
//! persistent, changed by the least disruptive means.
//!
//! - [`params`]: the options (and the docs);
//! - [`checks`]: the task on its own and against the host;
//! - [`model`]: a NIC parsed from and rendered to `<interface>` XML;
//! - [`plan`]: per side (live, persistent), the libvirt calls from the NIC
//!   it has to the NIC it should have;
//! - this file: finding the NIC, the desired NIC per side, the Module glue
//!   and the apply that waits for a live detach.

pub mod checks;
pub mod model;
pub mod params;
pub mod plan;

use kvmnet_core::doc::ModuleDoc;
use kvmnet_core::libvirt::{Affect, DeviceChange, Libvirt};
use kvmnet_core::{Error, Module, Mutation, PresentAbsent, Result};
use model::{Nic, Source};
use params::{NicType, Params};
use plan::{Side, Step};
use schemars::JsonSchema;
use serde::Serialize;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct VmInterface;

#[derive(Debug)]
pub struct Host {
    pub lv: Libvirt,
    /// The task's source (a `{pf, vf}` resolved to its PCI address once);
    /// None when the task names none (absent by MAC).
    pub source: Option<Source>,
}

/// The NIC on each side of the domain.
#[derive(Debug, Clone, Default, Serialize)]
pub struct State {
    /// Whether the domain runs (a live side exists).
    #[serde(skip)]
    pub running: bool,
    /// Whether the domain has a persistent definition.
    #[serde(skip)]
    pub persistent: bool,
    pub live: Option<Nic>,
    pub persistent_nic: Option<Nic>,
    /// Sides the task manages.
    #[serde(skip)]
    pub manage_live: bool,
    #[serde(skip)]
    pub manage_persistent: bool,
}

#[derive(Debug, Clone, Default)]
pub struct NicPlan {
    pub domain: String,
    pub steps: Vec<Step>,
    pub detach_timeout: Duration,
}

impl kvmnet_core::Plan for NicPlan {
    fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
    fn actions(&self) -> Vec<String> {
        self.steps.iter().map(Step::describe).collect()
    }
}

/// What the module returns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Returns {
    /// The NIC as the task leaves it (the live one when the domain runs);
    /// absent after O(state=absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<Nic>,
    /// Its MAC address (the one libvirt generated, when the task gave none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// The host device of the running NIC (tap or macvtap).
    #[schemars(extend("x-returned" = "when the domain runs and the NIC has one"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The steps taken (in check mode: that would be taken), in order.
    #[schemars(extend("x-sample" = ["update interface 52:54:00:6c:3c:01: link up → down (live)", "update interface 52:54:00:6c:3c:01: link up → down (persistent)"]))]
    pub actions: Vec<String>,
}

/// The task's NIC in a domain's NICs: by MAC when there is one, else by
/// type and source.
fn find(nics: &[Nic], mac: Option<&str>, src: Option<&Source>) -> Option<Nic> {
    match mac {
        Some(m) => nics.iter().find(|n| n.mac.as_deref() == Some(m)).cloned(),
        None => src.and_then(|s| nics.iter().find(|n| n.source.same_place(s)).cloned()),
    }
}

fn task_mac(p: &Params) -> Option<String> {
    p.mac.as_ref().map(|m| m.to_ascii_lowercase())
}

/// The NIC a side should have: the one it has with the task's settings
/// laid over it (what the task leaves out stays), or a new one.
fn desired_nic(p: &Params, src: &Source, base: Option<&Nic>, mac: Option<String>) -> Nic {
    let mut n = base.cloned().unwrap_or(Nic {
        source: src.clone(),
        // The guide's advice, for a new NIC only: an existing NIC keeps its
        // model unless the task names one.
        model: (src.kind() != NicType::Hostdev).then(|| "virtio".to_string()),
        mac: None,
        link_state: None,
        mtu: None,
        vlan: None,
        bandwidth: None,
        target: None,
        address: Vec::new(),
    });
    if n.source.kind() != src.kind() {
        n.model = (src.kind() != NicType::Hostdev).then(|| "virtio".to_string());
        n.address.clear();
    }
    n.source = src.clone();
    n.mac = mac.or(n.mac);
    if let Some(m) = &p.model {
        n.model = Some(m.clone());
    }
    if let Some(l) = p.link_state {
        n.link_state = Some(l);
    }
    if let Some(m) = p.mtu {
        n.mtu = Some(m);
    }
    if let Some(v) = &p.vlan {
        n.vlan = Some(v.clone());
    }
    if let Some(b) = &p.bandwidth {
        n.bandwidth = (b != &params::Bandwidth::default()).then(|| b.clone());
    }
    n
}

fn timeout(p: &Params) -> Duration {
    Duration::from_secs(p.detach_timeout.unwrap_or(30).into())
}

/// Poll the running guest until the NIC is gone from its live XML.
fn wait_detached(lv: &Libvirt, domain: &str, mac: &str, limit: Duration) -> Result<bool> {
    let start = Instant::now();
    loop {
        let defs = lv
            .domain(domain)?
            .ok_or_else(|| Error::not_found(format!("domain {domain} went away")))?;
        let Some(live) = defs.live_xml else {
            return Ok(true);
        };
        let gone = !model::parse_domain(&live)?
            .iter()
            .any(|n| n.mac.as_deref() == Some(mac));
        if gone {
            return Ok(true);
        }
        if start.elapsed() > limit {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The MAC the persistent side has for the task's NIC now (after an
/// attach there generated one).
fn persistent_mac(lv: &Libvirt, p: &Params, src: Option<&Source>) -> Result<Option<String>> {
    let defs = lv.domain(&p.domain)?;
    let Some(xml) = defs.and_then(|d| d.persistent_xml) else {
        return Ok(None);
    };
    Ok(find(&model::parse_domain(&xml)?, task_mac(p).as_deref(), src).and_then(|n| n.mac))
}

impl Module for VmInterface {
    const NAME: &'static str = "vm_interface";
    const DOC: ModuleDoc = ModuleDoc {
        short_description: "Manage one network interface of a libvirt domain, live and persistent",
        version_added: "0.1.0",
        requirements: &[
            "libvirt's client library (libvirt.so.0) on the target, and a reachable libvirtd",
        ],
        notes: &[
            "A live detach completes only when the guest OS answers the hot-unplug request; a guest that is still in its firmware, or has no ACPI/PCIe hot-plug support, keeps the NIC and the task fails after O(detach_timeout).",
            "On a q35 machine each hot-plugged NIC needs a free pcie-root-port controller.",
            "The MAC address is the NIC's identity: a task with another MAC manages another NIC.",
        ],
        examples: include_str!("../examples.yml"),
        read_only: false,
    };
    type Params = Params;
    type Returns = Returns;
    type Host = Host;
    type State = State;
    type Plan = NicPlan;

    fn connect(p: &Params) -> Result<Host> {
        checks::check(p)?;
        let source = checks::source(p)?;
        let uri = kvmnet_core::libvirt::resolve_uri(p.uri.as_deref());
        Ok(Host {
            lv: Libvirt::open(&uri)?,
            source,
        })
    }

    fn observe(host: &Host, p: &Params) -> Result<State> {
        let defs = host
            .lv
            .domain(&p.domain)?
            .ok_or_else(|| Error::not_found(format!("domain {} does not exist", p.domain)))?;
        let src = host.source.clone();
        let pers = match &defs.persistent_xml {
            Some(x) => model::parse_domain(x)?,
            None => Vec::new(),
        };
        let live = match &defs.live_xml {
            Some(x) => model::parse_domain(x)?,
            None => Vec::new(),
        };
        let mac = task_mac(p);
        let mut persistent_nic = find(&pers, mac.as_deref(), src.as_ref());
        let mut live_nic = find(&live, mac.as_deref(), src.as_ref());
        // Without a MAC in the task, a NIC found on one side names the
        // NIC on the other side by its MAC.
        if mac.is_none() {
            if let Some(m) = persistent_nic.as_ref().and_then(|n| n.mac.clone()) {
                live_nic = find(&live, Some(&m), None);
            } else if let Some(m) = live_nic.as_ref().and_then(|n| n.mac.clone()) {
                persistent_nic = find(&pers, Some(&m), None);
            }
        }
        let running = defs.live_xml.is_some();
        let persistent = defs.persistent_xml.is_some();
        let manage_live = p.live.unwrap_or(running);
        if manage_live && !running {
            return Err(Error::invalid(format!(
                "live: true, but domain {} is not running",
                p.domain
            )));
        }
        let manage_persistent = p.persistent.unwrap_or(persistent);
        if manage_persistent && !persistent {
            return Err(Error::invalid(format!(
                "persistent: true, but domain {} is transient (it has no persistent definition)",
                p.domain
            )));
        }
        Ok(State {
            running,
            persistent,
            live: live_nic,
            persistent_nic,
            manage_live,
            manage_persistent,
        })
    }

    fn desired(host: &Host, p: &Params, current: &State) -> Result<State> {
        let mut want = current.clone();
        if p.state == PresentAbsent::Absent {
            if current.manage_live {
                want.live = None;
            }
            if current.manage_persistent {
                want.persistent_nic = None;
            }
            return Ok(want);
        }
        let src = host
            .source
            .clone()
            .ok_or_else(|| Error::invalid("missing required arguments: type"))?;
        checks::check_references(&host.lv, &src)?;
        // Both sides carry the same MAC: the task's, else the one the NIC
        // already has on either side.
        let mac = task_mac(p).or_else(|| {
            current
                .persistent_nic
                .as_ref()
                .or(current.live.as_ref())
                .and_then(|n| n.mac.clone())
        });
        if current.manage_persistent {
            want.persistent_nic = Some(desired_nic(
                p,
                &src,
                current.persistent_nic.as_ref(),
                mac.clone(),
            ));
        }
        if current.manage_live {
            // A NIC new on the live side keeps the persistent one's PCI
            // address, so the guest sees the same NIC after a reboot.
            let base = current.live.as_ref();
            let mut nic = desired_nic(p, &src, base, mac);
            if base.is_none()
                && let Some(pn) = &current.persistent_nic
            {
                nic.address = pn.address.clone();
            }
            want.live = Some(nic);
        }
        Ok(want)
    }

    fn plan(p: &Params, current: &State, desired: &State) -> Result<NicPlan> {
        let mut steps = Vec::new();
        // The persistent side first: a new NIC gets its MAC there, and the
        // live attach uses it.
        steps.extend(plan::side_steps(
            Side::Persistent,
            current.persistent_nic.as_ref(),
            desired.persistent_nic.as_ref(),
            p.allow_reattach,
            &p.domain,
        )?);
        steps.extend(plan::side_steps(
            Side::Live,
            current.live.as_ref(),
            desired.live.as_ref(),
            p.allow_reattach,
            &p.domain,
        )?);
        Ok(NicPlan {
            domain: p.domain.clone(),
            steps,
            detach_timeout: timeout(p),
        })
    }

    fn render(state: &State) -> String {
        let side = |name: &str, n: &Option<Nic>| match n {
            Some(n) => format!("# {name}\n{}", model::render(n, false)),
            None => format!("# {name}\n(no such interface)\n"),
        };
        format!(
            "{}{}",
            side("persistent definition", &state.persistent_nic),
            side("live (running guest)", &state.live)
        )
    }

    fn subject(p: &Params) -> String {
        format!("interface of domain {}", p.domain)
    }

    fn apply(host: &Host, p: &Params, plan: &NicPlan, token: &Mutation) -> Result<()> {
        let mut undo: Vec<Step> = Vec::new();
        for step in &plan.steps {
            if let Err(e) = carry_out(host, p, plan, step, &mut undo, token) {
                return Err(roll_back(host, p, plan, undo, e, token));
            }
        }
        Ok(())
    }

    fn returns(_: &Params, state: &State, plan: &NicPlan) -> Returns {
        let nic = state.live.clone().or(state.persistent_nic.clone());
        Returns {
            mac: nic.as_ref().and_then(|n| n.mac.clone()),
            target: state.live.as_ref().and_then(|n| n.target.clone()),
            interface: nic,
            actions: kvmnet_core::Plan::actions(plan),
        }
    }
}

/// One step; what undoes it goes on `undo`.
fn carry_out(
    host: &Host,
    p: &Params,
    plan: &NicPlan,
    step: &Step,
    undo: &mut Vec<Step>,
    token: &Mutation,
) -> Result<()> {
    let (lv, src) = (&host.lv, host.source.as_ref());
    match step {
        Step::Attach(side, nic) => {
            let mut nic = nic.clone();
            if *side == Side::Live && nic.mac.is_none() {
                nic.mac = persistent_mac(lv, p, src)?;
            }
            lv.change_device(
                DeviceChange::Attach,
                &plan.domain,
                &model::render(&nic, true),
                affect(*side),
                token,
            )?;
            // The NIC as libvirt made it (MAC, address), to detach it
            // again on a rollback.
            if let Some(made) = side_nic(lv, &plan.domain, *side, nic.mac.as_deref(), src)? {
                undo.push(Step::Detach(*side, made));
            }
        }
        Step::Update(side, what, from, to) => {
            lv.change_device(
                DeviceChange::Update,
                &plan.domain,
                &model::render(to, true),
                affect(*side),
                token,
            )?;
            undo.push(Step::Update(*side, what.clone(), to.clone(), from.clone()));
        }
        Step::Detach(side, nic) => {
            lv.change_device(
                DeviceChange::Detach,
                &plan.domain,
                &model::render(nic, true),
                affect(*side),
                token,
            )?;
            let mac = nic.mac.clone().unwrap_or_default();
            if *side == Side::Live && !wait_detached(lv, &plan.domain, &mac, plan.detach_timeout)? {
                let persistent = persistent_mac(lv, p, src).ok().flatten();
                return Err(Error::backend(format!(
                    "domain {}: the running guest did not release interface {mac} within {} s (the guest OS must answer the hot-unplug; one in its firmware never does). Live: still attached, detach requested. Persistent definition: {}",
                    plan.domain,
                    plan.detach_timeout.as_secs(),
                    if persistent.as_deref() == Some(mac.as_str()) {
                        "has it"
                    } else {
                        "does not have it"
                    }
                )));
            }
            undo.push(Step::Attach(*side, nic.clone()));
        }
    }
    Ok(())
}

/// The task's NIC on one side as libvirt has it now.
fn side_nic(
    lv: &Libvirt,
    domain: &str,
    side: Side,
    mac: Option<&str>,
    src: Option<&Source>,
) -> Result<Option<Nic>> {
    let Some(defs) = lv.domain(domain)? else {
        return Ok(None);
    };
    let xml = match side {
        Side::Live => defs.live_xml,
        Side::Persistent => defs.persistent_xml,
    };
    Ok(match xml {
        Some(x) => find(&model::parse_domain(&x)?, mac, src),
        None => None,
    })
}

/// A step failed: undo the ones done, newest first, and say both.
fn roll_back(
    host: &Host,
    p: &Params,
    plan: &NicPlan,
    undo: Vec<Step>,
    err: Error,
    token: &Mutation,
) -> Error {
    if undo.is_empty() {
        return err;
    }
    let mut problems = Vec::new();
    let mut ignored = Vec::new();
    for step in undo.iter().rev() {
        if let Err(e) = carry_out(host, p, plan, step, &mut ignored, token) {
            problems.push(e.msg);
        }
    }
    let what: Vec<String> = undo.iter().rev().map(Step::describe).collect();
    let msg = if problems.is_empty() {
        format!("{}; rolled back: {}", err.msg, what.join("; "))
    } else {
        format!(
            "{}; rolling back failed too: {}",
            err.msg,
            problems.join("; ")
        )
    };
    Error {
        kind: err.kind,
        msg,
    }
}

fn affect(side: Side) -> Affect {
    Affect {
        live: side == Side::Live,
        config: side == Side::Persistent,
    }
}
