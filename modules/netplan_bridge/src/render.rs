//! The module's netplan file, rendered from the task, and the checks
//! against the rest of the netplan configuration.

use crate::params::{Params, PresentAbsent};
use kvmnet_core::netplan::Definition;
use kvmnet_core::{Error, Result, validate};
use serde_json::{Map, Value, json};
use std::path::Path;

pub const HEADER: &str =
    "# Managed by kvmnet.network.netplan_bridge: edits here are overwritten.\n";

/// Check what the task names: interface names, addresses, references.
pub fn check_params(p: &Params) -> Result<()> {
    validate::ifname("name", &p.name)?;
    if p.state == PresentAbsent::Absent {
        return Ok(());
    }
    let mut seen = Vec::new();
    for (i, port) in p.interfaces.iter().enumerate() {
        validate::ifname(&format!("interfaces[{i}]"), port)?;
        if *port == p.name {
            return Err(Error::invalid(format!(
                "interfaces[{i}]: the bridge {port} cannot be its own port"
            )));
        }
        if seen.contains(&port) {
            return Err(Error::invalid(format!(
                "interfaces[{i}]: {port} is listed twice"
            )));
        }
        seen.push(port);
    }
    for (i, v) in p.vlans.iter().enumerate() {
        validate::ifname(&format!("vlans[{i}].name"), &v.name)?;
        validate::ifname(&format!("vlans[{i}].link"), &v.link)?;
        if v.link == p.name || v.link == v.name {
            return Err(Error::invalid(format!(
                "vlans[{i}].link: a VLAN cannot ride on {}",
                v.link
            )));
        }
    }
    for (i, a) in p.addresses.iter().enumerate() {
        cidr(&format!("addresses[{i}]"), a)?;
    }
    for (i, r) in p.routes.iter().enumerate() {
        if r.to != "default" {
            cidr(&format!("routes[{i}].to"), &r.to)?;
        }
        validate::ip(&format!("routes[{i}].via"), &r.via)?;
    }
    if let Some(ns) = &p.nameservers {
        for (i, a) in ns.addresses.iter().enumerate() {
            validate::ip(&format!("nameservers.addresses[{i}]"), a)?;
        }
    }
    if let Some(m) = &p.macaddress {
        validate::mac("macaddress", m)?;
    }
    if let Some(params) = &p.parameters {
        for (option, map, max) in [
            ("port_priority", &params.port_priority, Some(63)),
            ("path_cost", &params.path_cost, None),
        ] {
            for (port, value) in map.iter().flatten() {
                if !p.interfaces.contains(port) {
                    return Err(Error::invalid(format!(
                        "parameters.{option}: {port} is not one of the bridge's interfaces ({})",
                        p.interfaces.join(", ")
                    )));
                }
                if max.is_some_and(|m| *value > m) {
                    return Err(Error::invalid(format!(
                        "parameters.{option}.{port}: {value} is above 63"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// `10.0.0.1/24` or `fd00::1/64`.
fn cidr(option: &str, text: &str) -> Result<()> {
    let (addr, prefix) = text.split_once('/').ok_or_else(|| {
        Error::invalid(format!(
            "{option}: '{text}' needs a prefix length, as in 192.168.1.10/24"
        ))
    })?;
    let ip = validate::ip(option, addr)?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    match prefix.parse::<u8>() {
        Ok(n) if n <= max => Ok(()),
        _ => Err(Error::invalid(format!(
            "{option}: '{prefix}' is not a prefix length for {ip}"
        ))),
    }
}

/// The ports that are NICs (not VLANs of this task, not bonds or other
/// devices defined elsewhere): they get a stanza in this file.
fn nic_ports<'a>(p: &'a Params, others: &[Definition]) -> Vec<&'a String> {
    p.interfaces
        .iter()
        .filter(|port| !p.vlans.iter().any(|v| &v.name == *port))
        .filter(|port| {
            !others
                .iter()
                .any(|d| &d.name == *port && d.kind != "ethernets")
        })
        .collect()
}

/// The file's content for the task.
pub fn render(p: &Params, others: &[Definition]) -> String {
    let mut network = Map::new();
    network.insert("version".into(), json!(2));
    let mut ethernets = Map::new();
    for port in nic_ports(p, others) {
        // A port carries no addresses of its own: the bridge does.
        ethernets.insert(port.clone(), json!({"dhcp4": false, "dhcp6": false}));
    }
    // A VLAN's link has to be defined for netplan. Defined here too even
    // when another file does (an empty stanza merges with it), so this file
    // stands on its own when that one goes; not when it is a bond or such.
    for v in &p.vlans {
        let other_kind = others
            .iter()
            .any(|d| d.name == v.link && d.kind != "ethernets");
        if !other_kind && !ethernets.contains_key(&v.link) {
            ethernets.insert(v.link.clone(), json!({}));
        }
    }
    if !ethernets.is_empty() {
        network.insert("ethernets".into(), Value::Object(ethernets));
    }
    if !p.vlans.is_empty() {
        let vlans: Map<String, Value> = p
            .vlans
            .iter()
            .map(|v| (v.name.clone(), json!({"id": v.id, "link": v.link})))
            .collect();
        network.insert("vlans".into(), Value::Object(vlans));
    }
    let mut br = Map::new();
    br.insert("interfaces".into(), json!(p.interfaces));
    if !p.addresses.is_empty() {
        br.insert("addresses".into(), json!(p.addresses));
    }
    if let Some(d) = p.dhcp4 {
        br.insert("dhcp4".into(), json!(d));
    }
    if let Some(d) = p.dhcp6 {
        br.insert("dhcp6".into(), json!(d));
    }
    if !p.routes.is_empty() {
        br.insert("routes".into(), json!(p.routes));
    }
    if let Some(ns) = &p.nameservers {
        let mut m = Map::new();
        if !ns.addresses.is_empty() {
            m.insert("addresses".into(), json!(ns.addresses));
        }
        if !ns.search.is_empty() {
            m.insert("search".into(), json!(ns.search));
        }
        br.insert("nameservers".into(), Value::Object(m));
    }
    if let Some(m) = p.mtu {
        br.insert("mtu".into(), json!(m));
    }
    if let Some(m) = &p.macaddress {
        br.insert("macaddress".into(), json!(m.to_ascii_lowercase()));
    }
    if let Some(params) = &p.parameters {
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
        if !m.is_empty() {
            br.insert("parameters".into(), Value::Object(m));
        }
    }
    let mut bridges = Map::new();
    bridges.insert(p.name.clone(), Value::Object(br));
    network.insert("bridges".into(), Value::Object(bridges));
    format!(
        "{HEADER}{}",
        kvmnet_core::yaml::to_yaml(&json!({ "network": network }))
    )
}

/// What the rest of the configuration says about this bridge and its
/// ports: errors where the merged result would be broken, warnings where
/// this file overrides another.
pub fn conflicts(p: &Params, own: &Path, others: &[Definition]) -> Result<Vec<String>> {
    let mut warnings = Vec::new();
    let own_name = own
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let is_member = |d: &Definition, port: &str| {
        d.body
            .get("interfaces")
            .and_then(Value::as_array)
            .is_some_and(|l| l.iter().any(|x| x == port))
    };
    if let Some(d) = others.iter().find(|d| d.name == p.name) {
        return Err(Error::invalid(format!(
            "{} is also defined in {} (as one of its {}): manage it in one place only",
            p.name,
            d.file.display(),
            d.kind
        )));
    }
    for v in &p.vlans {
        if let Some(d) = others.iter().find(|d| d.name == v.name) {
            return Err(Error::invalid(format!(
                "vlans: {} is also defined in {}",
                v.name,
                d.file.display()
            )));
        }
    }
    for port in &p.interfaces {
        if let Some(d) = others
            .iter()
            .find(|d| (d.kind == "bridges" || d.kind == "bonds") && is_member(d, port))
        {
            return Err(Error::invalid(format!(
                "interfaces: {port} is already a port of {} in {}",
                d.name,
                d.file.display()
            )));
        }
        for d in others
            .iter()
            .filter(|d| &d.name == port && d.kind == "ethernets")
        {
            let addrs = d
                .body
                .get("addresses")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            if addrs {
                return Err(Error::invalid(format!(
                    "interfaces: {port} has addresses in {}; a bridge port carries none (move them to the bridge)",
                    d.file.display()
                )));
            }
            let dhcp = ["dhcp4", "dhcp6"]
                .iter()
                .any(|k| d.body.get(*k).and_then(Value::as_bool) == Some(true));
            if dhcp {
                let file_name = d
                    .file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if file_name > own_name {
                    return Err(Error::invalid(format!(
                        "interfaces: {port} has DHCP on in {}, which netplan reads after {}: the port would keep DHCP",
                        d.file.display(),
                        own.display()
                    )));
                }
                warnings.push(format!(
                    "{port} has DHCP on in {}; {} turns it off, as a bridge port needs",
                    d.file.display(),
                    own.display()
                ));
            }
        }
    }
    Ok(warnings)
}
