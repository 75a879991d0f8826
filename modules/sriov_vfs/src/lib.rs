//! kvmnet.network.sriov_vfs: the SR-IOV virtual functions of a physical
//! NIC, their count and each one's settings, and how they survive a reboot.
//!
//! - [`params`]: the options (and the docs);
//! - [`sysfs`]: the PF, the VF count, the VFs' PCI addresses and netdevs;
//! - [`holders`]: which libvirt guests hold VFs (refused unless `force`);
//! - [`plan`]: the state, the checks and the steps (pure);
//! - [`persist`]: the netplan file or udev rule (rendering is pure);
//! - this file: the Module glue, observe and apply. VF settings go over
//!   rtnetlink (`kvmnet_core::netlink::vf`).

pub mod holders;
pub mod params;
pub mod persist;
pub mod plan;
pub mod sysfs;

use kvmnet_core::doc::ModuleDoc;
use kvmnet_core::libvirt::{self, Libvirt};
use kvmnet_core::netlink::vf::{self, VfChange};
use kvmnet_core::{Error, Module, Mutation, Result};
use params::Params;
use plan::{Changes, State, Vf};
use schemars::JsonSchema;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;
use sysfs::Pf;

#[derive(Debug)]
pub struct SriovVfs;

#[derive(Debug)]
pub struct Host {
    pub pf: Pf,
    pub pf_index: u32,
    pub root: PathBuf,
    /// None when libvirtd cannot be reached: then no guest holds a VF.
    pub lv: Option<Libvirt>,
    pub lv_error: Option<String>,
}

/// What the module returns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Returns {
    /// The PF's netdev and PCI address.
    pub pf: String,
    pub pci: String,
    /// VFs the PF can have, and has.
    pub total_vfs: u32,
    pub num_vfs: u32,
    /// Each VF as the PF reports it (settings the driver does not report
    /// are left out).
    pub vfs: Vec<Vf>,
    /// The steps taken (in check mode: that would be taken), in order.
    #[schemars(extend("x-sample" = ["VFs of enp1s0: 2 → 3, through 0 (the kernel takes a new count only from 0; VFs 0-1 are made anew)", "VF 0: mac 00:00:00:00:00:00 → 52:54:00:aa:00:01"]))]
    pub actions: Vec<String>,
}

fn ifindex(netdev: &str) -> Result<u32> {
    let path = format!("/sys/class/net/{netdev}/ifindex");
    std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| Error::backend(format!("reading {path}")))
}

impl Module for SriovVfs {
    const NAME: &'static str = "sriov_vfs";
    const DOC: ModuleDoc = ModuleDoc {
        short_description: "Manage the SR-IOV virtual functions of a NIC and their settings",
        version_added: "0.1.0",
        requirements: &[
            "an SR-IOV capable NIC and its driver on the target",
            "libvirt's client library (libvirt.so.0) on the target; libvirtd is asked which guests hold VFs when it runs",
            "netplan.io with O(persist=netplan); udev with O(persist=udev)",
        ],
        notes: &[
            "A change from one non-zero VF count to another goes through 0: every VF is removed and made anew, without its settings (the task's are set again).",
            "Settings a driver does not support are refused by it (the error names the VF and the driver's answer); igb, for example, has no link state or minimum rate per VF.",
            "O(persist=netplan) keeps the count only (netplan has no per-VF MAC or trust); O(persist=udev) keeps the count and the settings the task names.",
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
        let pf = sysfs::pf(&p.device)?;
        let pf_index = ifindex(&pf.netdev)?;
        let (lv, lv_error) = match Libvirt::open(&libvirt::resolve_uri(p.uri.as_deref())) {
            Ok(lv) => (Some(lv), None),
            Err(e) => (None, Some(e.msg)),
        };
        Ok(Host {
            pf,
            pf_index,
            root: PathBuf::from(p.root_dir.as_deref().unwrap_or("/")),
            lv,
            lv_error,
        })
    }

    fn observe(host: &Host, _: &Params) -> Result<State> {
        let pf = &host.pf;
        let infos = vf::vfs(host.pf_index)?;
        let num_vfs = pf.num_vfs()?;
        let vfs: Vec<Vf> = (0..num_vfs)
            .map(|id| {
                let pci = pf.vf_pci(id);
                let netdev = pci.as_deref().and_then(Pf::vf_netdev);
                let info = infos
                    .iter()
                    .find(|i| i.id == id)
                    .cloned()
                    .unwrap_or_default();
                Vf::from_info(id, pci, netdev, &info)
            })
            .collect();
        let ids: Vec<(String, Option<String>)> = vfs
            .iter()
            .filter_map(|v| v.pci.clone().map(|p| (p, v.netdev.clone())))
            .collect();
        let holders = match &host.lv {
            Some(lv) => holders::holders(lv, &pf.netdev, &ids)?,
            None => Vec::new(),
        };
        let (netplan, udev) = persist::observe(&host.root, &pf.netdev)?;
        Ok(State {
            pf: pf.netdev.clone(),
            pci: pf.pci.clone(),
            total_vfs: pf.total_vfs,
            num_vfs,
            drivers_autoprobe: pf.drivers_autoprobe()?,
            vfs,
            netplan,
            udev,
            holders,
            libvirt_error: host.lv_error.clone(),
            pf_up: std::fs::read_to_string(format!("/sys/class/net/{}/flags", pf.netdev))
                .ok()
                .and_then(|f| u32::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok())
                .is_some_and(|f| f & 1 != 0),
        })
    }

    fn desired(host: &Host, p: &Params, current: &State) -> Result<State> {
        let d = plan::desired(p, current)?;
        if let Some(text) = d
            .netplan
            .as_deref()
            .filter(|_| d.netplan != current.netplan)
        {
            // netplan must take the whole configuration with our file, and
            // before anything changes.
            let file = persist::netplan_file(&host.root, &host.pf.netdev);
            kvmnet_core::netplan::validate(&host.root, &file, Some(text))?;
        }
        Ok(d)
    }

    fn plan(p: &Params, current: &State, desired: &State) -> Result<Changes> {
        plan::changes(p, current, desired)
    }

    fn render(state: &State) -> String {
        plan::render(state)
    }

    fn subject(p: &Params) -> String {
        format!("SR-IOV VFs of {}", p.device)
    }

    fn apply(host: &Host, p: &Params, c: &Changes, token: &Mutation) -> Result<()> {
        let pf = &host.pf;
        if let Some(on) = c.drivers_autoprobe {
            pf.set_drivers_autoprobe(on, token)?;
        }
        if let Some((from, to)) = c.count {
            if from > 0 {
                pf.set_num_vfs(0, token)?;
            }
            if to > 0 {
                pf.set_num_vfs(to, token)?;
                let netdevs = pf.drivers_autoprobe()?;
                let limit = Duration::from_secs(p.wait_timeout.unwrap_or(30).into());
                pf.wait_for_vfs(to, netdevs, limit)?;
            }
        }
        // One setting per request: the driver stops at the first setting
        // it refuses, and what came before it stays. So each is sent on
        // its own, and on a refusal those this run set are put back.
        let mut done: Vec<VfChange> = Vec::new();
        for (change, undo) in c.vf_changes.iter().zip(&c.vf_undo) {
            for (one, back) in plan::split(change)
                .into_iter()
                .zip(plan::split_like(change, undo.as_ref()))
            {
                if let Err(e) = vf::set(host.pf_index, &one, token) {
                    let failed: Vec<String> = done
                        .iter()
                        .rev()
                        .filter_map(|u| vf::set(host.pf_index, u, token).err().map(|e| e.msg))
                        .collect();
                    let back = if failed.is_empty() {
                        "the VF settings this run had changed were put back".to_string()
                    } else {
                        format!("putting VF settings back failed too: {}", failed.join("; "))
                    };
                    return Err(Error::backend(format!("{}; {back}", e.msg)));
                }
                done.extend(back);
            }
        }
        if let Some(content) = &c.netplan {
            let file = persist::netplan_file(&host.root, &pf.netdev);
            persist::put(&file, content.as_deref(), 0o600, token)?;
        }
        if let Some(content) = &c.udev {
            let file = persist::udev_file(&host.root, &pf.netdev);
            persist::put(&file, content.as_deref(), 0o644, token)?;
        }
        Ok(())
    }

    fn returns(_: &Params, state: &State, plan: &Changes) -> Returns {
        Returns {
            pf: state.pf.clone(),
            pci: state.pci.clone(),
            total_vfs: state.total_vfs,
            num_vfs: state.num_vfs,
            vfs: state.vfs.clone(),
            actions: kvmnet_core::Plan::actions(plan),
        }
    }
}
