//! What makes a bridge a bridge for the shared netplan device module: its
//! options, its `parameters` stanza, and how the running bridge must look.

use crate::params::Params;
use kvmnet_core::doc::ModuleDoc;
use kvmnet_core::netlink::{Kernel, Link};
use kvmnet_core::netplan_device::{Common, Device};
use kvmnet_core::{Error, Result};
use serde_json::{Map, Value, json};

/// A bridge port's own setting, from sysfs (`brport/priority`, `path_cost`).
fn brport(port: &str, what: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/class/net/{port}/brport/{what}"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

impl Device for Params {
    const MODULE: &'static str = "netplan_bridge";
    const DOC: ModuleDoc = ModuleDoc {
        short_description: "Manage a Linux bridge in netplan, applied, verified and reverted safely",
        version_added: "0.1.0",
        requirements: &["netplan.io on the target; systemd-networkd to apply"],
        notes: &[
            "Define bonds (netplan_bond) before bridges that use them as ports.",
            "KVMNET_VERIFY_TIMEOUT (seconds, default 60) bounds the wait for the kernel to match after netplan apply.",
        ],
        examples: include_str!("../examples.yml"),
        read_only: false,
    };
    const KIND: &'static str = "bridge";
    const SECTION: &'static str = "bridges";
    const MEMBER: &'static str = "port";
    // Guests' taps are ports too, and none of the task's business.
    const EXCLUSIVE_MEMBERS: bool = false;

    fn common(&self) -> Common<'_> {
        Common {
            name: &self.name,
            state: self.state,
            members: &self.interfaces,
            vlans: &self.vlans,
            addresses: &self.addresses,
            dhcp4: self.dhcp4,
            dhcp6: self.dhcp6,
            routes: &self.routes,
            nameservers: self.nameservers.as_ref(),
            mtu: self.mtu,
            macaddress: self.macaddress.as_deref(),
            file: self.file.as_deref(),
            root_dir: self.root_dir.as_deref(),
            apply: self.apply,
            backup: self.backup,
        }
    }

    fn check(&self) -> Result<()> {
        let Some(params) = &self.parameters else {
            return Ok(());
        };
        for (option, map, max) in [
            ("port_priority", &params.port_priority, Some(63)),
            ("path_cost", &params.path_cost, None),
        ] {
            for (port, value) in map.iter().flatten() {
                if !self.interfaces.contains(port) {
                    return Err(Error::invalid(format!(
                        "parameters.{option}: {port} is not one of the bridge's interfaces ({})",
                        self.interfaces.join(", ")
                    )));
                }
                if max.is_some_and(|m| *value > m) {
                    return Err(Error::invalid(format!(
                        "parameters.{option}.{port}: {value} is above 63"
                    )));
                }
            }
        }
        Ok(())
    }

    fn parameters(&self) -> Option<Value> {
        let params = self.parameters.as_ref()?;
        let mut m = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        };
        put("stp", params.stp.map(Value::from));
        put("forward-delay", params.forward_delay.map(Value::from));
        put("priority", params.priority.map(Value::from));
        put("hello-time", params.hello_time.map(Value::from));
        put("max-age", params.max_age.map(Value::from));
        put("ageing-time", params.ageing_time.map(Value::from));
        put(
            "port-priority",
            params.port_priority.as_ref().map(|x| json!(x)),
        );
        put("path-cost", params.path_cost.as_ref().map(|x| json!(x)));
        (!m.is_empty()).then_some(Value::Object(m))
    }

    fn mismatches(&self, br: &Link, _k: &Kernel) -> Vec<String> {
        let mut out = Vec::new();
        let Some(params) = &self.parameters else {
            return out;
        };
        let info = br.bridge.clone().unwrap_or_default();
        // netplan takes seconds; the kernel keeps centiseconds.
        // During an STP topology change the kernel reports a shortened
        // ageing time: not a difference.
        let ageing = if info.topology_change {
            params.ageing_time.map(|a| a * 100)
        } else {
            None
        };
        let timers = [
            ("forward-delay", params.forward_delay, info.forward_delay),
            ("hello-time", params.hello_time, info.hello_time),
            ("max-age", params.max_age, info.max_age),
            (
                "ageing-time",
                params.ageing_time,
                ageing.unwrap_or(info.ageing_time),
            ),
        ];
        for (name, want, have) in timers {
            if let Some(w) = want
                && w * 100 != have
            {
                out.push(format!("{name} is {}s, not {w}s", have / 100));
            }
        }
        if let Some(stp) = params.stp
            && stp != (info.stp_state != 0)
        {
            out.push(format!("STP is {}", if stp { "off" } else { "on" }));
        }
        if let Some(prio) = params.priority
            && prio != u32::from(info.priority)
        {
            out.push(format!("priority is {}, not {prio}", info.priority));
        }
        for (port, want) in params.port_priority.iter().flatten() {
            if brport(port, "priority") != Some(*want) {
                out.push(format!("port-priority of {port} is not {want}"));
            }
        }
        for (port, want) in params.path_cost.iter().flatten() {
            if brport(port, "path_cost") != Some(*want) {
                out.push(format!("path-cost of {port} is not {want}"));
            }
        }
        out
    }

    /// `ip` commands that set the task's bridge parameters on a bridge
    /// that exists: networkd applies them only when it creates a bridge,
    /// so a drift (STP switched on by hand, say) survives `netplan apply`.
    /// STP goes first: with STP on, the kernel refuses a forward delay
    /// under 2 s.
    fn fixes(&self, br: &Link, k: &Kernel) -> Vec<Vec<String>> {
        let mut cmds = Vec::new();
        let Some(params) = &self.parameters else {
            return cmds;
        };
        let info = br.bridge.clone().unwrap_or_default();
        let argv = |words: &[&str]| words.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let base = |extra: &[String]| {
            let mut c = argv(&["ip", "link", "set", "dev", &self.name, "type", "bridge"]);
            c.extend_from_slice(extra);
            c
        };
        if let Some(stp) = params.stp
            && stp != (info.stp_state != 0)
        {
            cmds.push(base(&["stp_state".into(), u32::from(stp).to_string()]));
        }
        let mut timers = Vec::new();
        for (key, want, have) in [
            ("forward_delay", params.forward_delay, info.forward_delay),
            ("hello_time", params.hello_time, info.hello_time),
            ("max_age", params.max_age, info.max_age),
            ("ageing_time", params.ageing_time, info.ageing_time),
        ] {
            if let Some(w) = want
                && w * 100 != have
            {
                timers.extend([key.to_string(), (w * 100).to_string()]);
            }
        }
        if let Some(prio) = params.priority
            && prio != u32::from(info.priority)
        {
            timers.extend(["priority".to_string(), prio.to_string()]);
        }
        if !timers.is_empty() {
            cmds.push(base(&timers));
        }
        for (key, map, file) in [
            ("priority", &params.port_priority, "priority"),
            ("cost", &params.path_cost, "path_cost"),
        ] {
            for (port, want) in map.iter().flatten() {
                if brport(port, file) != Some(*want)
                    && k.link(port).is_some_and(|l| l.master == Some(br.index))
                {
                    cmds.push(argv(&[
                        "ip",
                        "link",
                        "set",
                        "dev",
                        port,
                        "type",
                        "bridge_slave",
                        key,
                        &want.to_string(),
                    ]));
                }
            }
        }
        cmds
    }
}
