//! The device's netplan file, rendered from the task, and the checks of
//! the task against itself and the rest of the netplan configuration.

use super::{Common, Device};
use crate::netplan::Definition;
use crate::{Error, PresentAbsent, Result, validate};
use serde_json::{Map, Value, json};
use std::path::Path;

/// The first line of every file the module writes.
pub fn header<D: Device>() -> String {
    format!(
        "# Managed by kvmnet.network.{}: edits here are overwritten.\n",
        D::MODULE
    )
}

/// Check what the task names: interface names, addresses, references;
/// then the device's own options.
pub fn check<D: Device>(p: &D) -> Result<()> {
    let c = p.common();
    validate::ifname("name", c.name)?;
    if c.state == PresentAbsent::Absent {
        return Ok(());
    }
    let mut seen = Vec::new();
    for (i, m) in c.members.iter().enumerate() {
        validate::ifname(&format!("interfaces[{i}]"), m)?;
        if m == c.name {
            return Err(Error::invalid(format!(
                "interfaces[{i}]: the {} {m} cannot be its own {}",
                D::KIND,
                D::MEMBER
            )));
        }
        if seen.contains(&m) {
            return Err(Error::invalid(format!(
                "interfaces[{i}]: {m} is listed twice"
            )));
        }
        seen.push(m);
    }
    for (i, v) in c.vlans.iter().enumerate() {
        validate::ifname(&format!("vlans[{i}].name"), &v.name)?;
        validate::ifname(&format!("vlans[{i}].link"), &v.link)?;
        if v.link == c.name || v.link == v.name {
            return Err(Error::invalid(format!(
                "vlans[{i}].link: a VLAN cannot ride on {}",
                v.link
            )));
        }
    }
    for (i, a) in c.addresses.iter().enumerate() {
        cidr(&format!("addresses[{i}]"), a)?;
    }
    for (i, r) in c.routes.iter().enumerate() {
        if r.to != "default" {
            cidr(&format!("routes[{i}].to"), &r.to)?;
        }
        validate::ip(&format!("routes[{i}].via"), &r.via)?;
    }
    if let Some(ns) = c.nameservers {
        for (i, a) in ns.addresses.iter().enumerate() {
            validate::ip(&format!("nameservers.addresses[{i}]"), a)?;
        }
    }
    if let Some(m) = c.macaddress {
        validate::mac("macaddress", m)?;
    }
    p.check()
}

/// `10.0.0.1/24` or `fd00::1/64`.
pub fn cidr(option: &str, text: &str) -> Result<()> {
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

/// The members that are NICs (not VLANs of this task, not bonds or other
/// devices defined elsewhere): they get a stanza in this file.
fn nic_members<'a>(c: &Common<'a>, others: &[Definition]) -> Vec<&'a String> {
    c.members
        .iter()
        .filter(|m| !c.vlans.iter().any(|v| &v.name == *m))
        .filter(|m| {
            !others
                .iter()
                .any(|d| &d.name == *m && d.kind != "ethernets")
        })
        .collect()
}

/// The file's content for the task.
pub fn render<D: Device>(p: &D, others: &[Definition]) -> String {
    let c = p.common();
    let mut network = Map::new();
    network.insert("version".into(), json!(2));
    let mut ethernets = Map::new();
    for m in nic_members(&c, others) {
        // A member carries no addresses of its own: the device does.
        ethernets.insert(m.clone(), json!({"dhcp4": false, "dhcp6": false}));
    }
    // A VLAN's link has to be defined for netplan. Defined here too even
    // when another file does (an empty stanza merges with it), so this file
    // stands on its own when that one goes; not when it is a bond or such.
    for v in c.vlans {
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
    if !c.vlans.is_empty() {
        let vlans: Map<String, Value> = c
            .vlans
            .iter()
            .map(|v| (v.name.clone(), json!({"id": v.id, "link": v.link})))
            .collect();
        network.insert("vlans".into(), Value::Object(vlans));
    }
    let mut dev = Map::new();
    dev.insert("interfaces".into(), json!(c.members));
    if !c.addresses.is_empty() {
        dev.insert("addresses".into(), json!(c.addresses));
    }
    if let Some(d) = c.dhcp4 {
        dev.insert("dhcp4".into(), json!(d));
    }
    if let Some(d) = c.dhcp6 {
        dev.insert("dhcp6".into(), json!(d));
    }
    if !c.routes.is_empty() {
        dev.insert("routes".into(), json!(c.routes));
    }
    if let Some(ns) = c.nameservers {
        let mut m = Map::new();
        if !ns.addresses.is_empty() {
            m.insert("addresses".into(), json!(ns.addresses));
        }
        if !ns.search.is_empty() {
            m.insert("search".into(), json!(ns.search));
        }
        dev.insert("nameservers".into(), Value::Object(m));
    }
    if let Some(m) = c.mtu {
        dev.insert("mtu".into(), json!(m));
    }
    if let Some(m) = c.macaddress {
        dev.insert("macaddress".into(), json!(m.to_ascii_lowercase()));
    }
    if let Some(params) = p.parameters() {
        dev.insert("parameters".into(), params);
    }
    let mut section = Map::new();
    section.insert(c.name.to_string(), Value::Object(dev));
    network.insert(D::SECTION.into(), Value::Object(section));
    format!(
        "{}{}",
        header::<D>(),
        crate::yaml::to_yaml(&json!({ "network": network }))
    )
}

/// What the rest of the configuration says about this device and its
/// members: errors where the merged result would be broken, warnings where
/// this file overrides another.
pub fn conflicts<D: Device>(p: &D, own: &Path, others: &[Definition]) -> Result<Vec<String>> {
    let c = p.common();
    let mut warnings = Vec::new();
    let own_name = own
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let is_member = |d: &Definition, m: &str| {
        d.body
            .get("interfaces")
            .and_then(Value::as_array)
            .is_some_and(|l| l.iter().any(|x| x == m))
    };
    if let Some(d) = others.iter().find(|d| d.name == c.name) {
        return Err(Error::invalid(format!(
            "{} is also defined in {} (as one of its {}): manage it in one place only",
            c.name,
            d.file.display(),
            d.kind
        )));
    }
    for v in c.vlans {
        if let Some(d) = others.iter().find(|d| d.name == v.name) {
            return Err(Error::invalid(format!(
                "vlans: {} is also defined in {}",
                v.name,
                d.file.display()
            )));
        }
    }
    for m in c.members {
        if let Some(d) = others
            .iter()
            .find(|d| (d.kind == "bridges" || d.kind == "bonds") && is_member(d, m))
        {
            return Err(Error::invalid(format!(
                "interfaces: {m} is already a {} of {} in {}",
                if d.kind == "bonds" { "member" } else { "port" },
                d.name,
                d.file.display()
            )));
        }
        for d in others
            .iter()
            .filter(|d| &d.name == m && d.kind == "ethernets")
        {
            let addrs = d
                .body
                .get("addresses")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            if addrs {
                return Err(Error::invalid(format!(
                    "interfaces: {m} has addresses in {}; a {} {} carries none (move them to the {})",
                    d.file.display(),
                    D::KIND,
                    D::MEMBER,
                    D::KIND
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
                        "interfaces: {m} has DHCP on in {}, which netplan reads after {}: the {} would keep DHCP",
                        d.file.display(),
                        own.display(),
                        D::MEMBER
                    )));
                }
                warnings.push(format!(
                    "{m} has DHCP on in {}; {} turns it off, as a {} {} needs",
                    d.file.display(),
                    own.display(),
                    D::KIND,
                    D::MEMBER
                ));
            }
        }
    }
    Ok(warnings)
}
