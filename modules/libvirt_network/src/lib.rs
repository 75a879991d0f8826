//! kvmnet.network.libvirt_network: one libvirt network, by typed options.
//!
//! - [`params`]: the task's options (and the module's documentation);
//! - [`model`]: the normalised [`model::NetworkDef`] both sides are turned
//!   into, and the validation of the task;
//! - [`xmlio`]: libvirt XML to model and back;
//! - [`plan`]: the classified steps from current to desired;
//! - this file: the [`kvmnet_core::Module`] glue, and `apply`.

mod apply;
pub mod model;
pub mod params;
pub mod plan;
pub mod xmlio;

use kvmnet_core::doc::ModuleDoc;
use kvmnet_core::libvirt::{Libvirt, resolve_uri};
use kvmnet_core::{Error, Module, Mutation, Result};
use model::{NetState, NetworkDef};
use params::{ForwardMode, Params, PresentAbsent};
use plan::NetworkPlan;
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug)]
pub struct LibvirtNetwork;

/// What the module returns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Returns {
    /// The network after the task (in check mode: as it would be), in the
    /// shape of the module's options, with what libvirt chose filled in.
    #[schemars(extend("x-returned" = "when O(state=present)"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Map<String, serde_json::Value>>")]
    pub network: Option<NetworkDef>,
    /// The network's libvirt XML, as kvmnet renders it.
    #[schemars(extend("x-returned" = "when O(state=present)", "x-sample" = "<network>\n  <name>default</name>\n  ...\n</network>\n"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xml: Option<String>,
    /// Whether the network runs.
    pub active: bool,
    /// Whether the network starts with libvirtd.
    pub autostart: bool,
    /// The steps taken (in check mode: that would be taken), in order.
    #[schemars(extend("x-sample" = ["update network default: add ip-dhcp-host <host mac='52:54:00:6c:3c:01' ip='192.168.122.50'/> (live and config)"]))]
    pub actions: Vec<String>,
}

/// Refuse references to host devices that do not exist, before libvirt
/// would fail halfway (at network start).
fn check_devices(def: &NetworkDef, current: &NetState) -> Result<()> {
    let mode = def.forward.as_ref().map(|f| f.mode);
    if let Some(f) = &def.forward {
        for dev in f.interfaces.iter().chain(f.pf.iter()) {
            if !kvmnet_core::netdev_exists(dev) {
                return Err(Error::not_yet(format!(
                    "forward: the host interface {dev} does not exist on this host"
                )));
            }
        }
        if f.mode == ForwardMode::Bridge
            && let Some(name) = def.bridge.as_ref().and_then(|b| b.name.as_ref())
            && !kvmnet_core::is_bridge(name)
        {
            return Err(Error::not_yet(format!(
                "bridge.name: {name} is not an existing bridge on this host (forward.mode=bridge uses a host bridge, e.g. one made with netplan_bridge)"
            )));
        }
    }
    // A bridge libvirt is to create must not already be someone else's.
    if model::has_own_bridge(mode)
        && let Some(name) = def.bridge.as_ref().and_then(|b| b.name.as_ref())
    {
        let ours_running = current.active
            && current
                .live
                .as_ref()
                .and_then(|l| l.bridge.as_ref())
                .and_then(|b| b.name.as_ref())
                == Some(name);
        if !ours_running && kvmnet_core::netdev_exists(name) {
            return Err(Error::invalid(format!(
                "bridge.name: an interface named {name} already exists on this host; libvirt needs a name of its own for the network's bridge"
            )));
        }
    }
    Ok(())
}

impl Module for LibvirtNetwork {
    const NAME: &'static str = "libvirt_network";
    const DOC: ModuleDoc = ModuleDoc {
        short_description: "Manage a libvirt virtual network by typed options",
        version_added: "0.1.0",
        requirements: &["libvirt on the target (the module links libvirt.so)"],
        notes: &[
            "Compares with the network's persistent definition semantically: what libvirt fills in (UUID, bridge name, MAC, defaults) is not a difference.",
            "A restart re-plugs the taps of running guests into the network's bridge, but libvirt's own count of the network's connections starts again from zero.",
            "Refuses to redefine a network that has settings kvmnet does not model (for example <metadata> or dnsmasq options), rather than drop them.",
        ],
        examples: include_str!("../examples.yml"),
        read_only: false,
    };
    type Params = Params;
    type Returns = Returns;
    type Host = Libvirt;
    type State = NetState;
    type Plan = NetworkPlan;

    fn connect(p: &Params) -> Result<Libvirt> {
        Libvirt::open(&resolve_uri(p.uri.as_deref()))
    }

    fn observe(host: &Libvirt, p: &Params) -> Result<NetState> {
        let Some(info) = host.network(&p.name)? else {
            return Ok(NetState::absent());
        };
        let (uuid, def) = xmlio::parse(&info.inactive_xml)?;
        let live = info
            .live_xml
            .as_deref()
            .map(xmlio::parse)
            .transpose()?
            .map(|(_, d)| d);
        Ok(NetState {
            def: Some(def),
            active: live.is_some(),
            live,
            uuid,
            autostart: info.autostart,
            unmodelled: xmlio::unmodelled(&info.inactive_xml),
            inactive_xml: Some(info.inactive_xml),
        })
    }

    fn desired(host: &Libvirt, p: &Params, current: &NetState) -> Result<NetState> {
        if p.state == PresentAbsent::Absent {
            return Ok(NetState::absent());
        }
        let mut def = model::desired(p)?;
        if let Some(have) = &current.def {
            model::adopt_libvirt_choices(&mut def, have);
        }
        if kvmnet_core::libvirt::is_local(&host.uri) {
            check_devices(&def, current)?;
        }
        Ok(NetState {
            live: p.active.then(|| def.clone()),
            def: Some(def),
            uuid: current.uuid.clone(),
            active: p.active,
            autostart: p.autostart.unwrap_or(current.autostart),
            unmodelled: Vec::new(),
            inactive_xml: None,
        })
    }

    fn plan(p: &Params, current: &NetState, desired: &NetState) -> Result<NetworkPlan> {
        plan::plan(p, current, desired)
    }

    fn render(state: &NetState) -> String {
        match &state.def {
            None => String::new(),
            Some(def) => format!(
                "<!-- {}, autostart {} -->\n{}",
                if state.active { "running" } else { "stopped" },
                if state.autostart { "on" } else { "off" },
                xmlio::render(def, None)
            ),
        }
    }

    fn subject(p: &Params) -> String {
        format!("libvirt network {}", p.name)
    }

    fn apply(host: &Libvirt, _: &Params, plan: &NetworkPlan, token: &Mutation) -> Result<()> {
        apply::apply(host, plan, token)
    }

    fn returns(_: &Params, state: &NetState, plan: &NetworkPlan) -> Returns {
        Returns {
            xml: state
                .def
                .as_ref()
                .map(|d| xmlio::render(d, state.uuid.as_deref())),
            network: state.def.clone(),
            active: state.active,
            autostart: state.autostart,
            actions: kvmnet_core::Plan::actions(plan),
        }
    }
}
