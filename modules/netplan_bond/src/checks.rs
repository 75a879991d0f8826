//! Which bond parameter goes with which mode and with which other
//! parameter. netplan accepts nearly any combination and the kernel
//! ignores what does not apply to a mode (or rounds it), so a wrong
//! combination would be written and "work" without doing what the task
//! says: it is refused here, naming the option, the mode and what is
//! allowed.

use crate::params::{Mode, Parameters, Params, name_of};
use kvmnet_core::{Error, Result, validate};

use Mode::*;

/// Modes with an active member: a primary, failover settings.
const WITH_ACTIVE_MEMBER: &[Mode] = &[ActiveBackup, BalanceTlb, BalanceAlb];

fn modes(list: &[Mode]) -> String {
    list.iter().map(name_of).collect::<Vec<_>>().join(", ")
}

/// `option` is set: it must be one of `allowed` modes.
fn only_in(option: &str, set: bool, mode: Mode, allowed: &[Mode]) -> Result<()> {
    if set && !allowed.contains(&mode) {
        return Err(Error::invalid(format!(
            "parameters.{option} does not apply to mode {}: only to {}",
            name_of(&mode),
            modes(allowed)
        )));
    }
    Ok(())
}

/// `option` is set: it needs `needed`.
fn needs(option: &str, set: bool, needed: &str, present: bool) -> Result<()> {
    if set && !present {
        return Err(Error::invalid(format!(
            "parameters.{option} needs parameters.{needed}"
        )));
    }
    Ok(())
}

pub fn check(p: &Params) -> Result<()> {
    let Some(b) = &p.parameters else {
        return Ok(());
    };
    let mode = b.mode.unwrap_or_default();
    only_in("lacp_rate", b.lacp_rate.is_some(), mode, &[Lacp])?;
    only_in("ad_select", b.ad_select.is_some(), mode, &[Lacp])?;
    only_in("min_links", b.min_links.is_some(), mode, &[Lacp])?;
    only_in(
        "transmit_hash_policy",
        b.transmit_hash_policy.is_some(),
        mode,
        &[BalanceXor, Lacp, BalanceTlb],
    )?;
    only_in("primary", b.primary.is_some(), mode, WITH_ACTIVE_MEMBER)?;
    only_in(
        "primary_reselect_policy",
        b.primary_reselect_policy.is_some(),
        mode,
        WITH_ACTIVE_MEMBER,
    )?;
    only_in(
        "fail_over_mac_policy",
        b.fail_over_mac_policy.is_some(),
        mode,
        &[ActiveBackup],
    )?;
    only_in(
        "gratuitous_arp",
        b.gratuitous_arp.is_some(),
        mode,
        &[ActiveBackup],
    )?;
    only_in(
        "packets_per_member",
        b.packets_per_member.is_some(),
        mode,
        &[BalanceRr],
    )?;
    only_in(
        "learn_packet_interval",
        b.learn_packet_interval.is_some(),
        mode,
        &[BalanceTlb, BalanceAlb],
    )?;
    only_in(
        "resend_igmp",
        b.resend_igmp.is_some(),
        mode,
        &[BalanceRr, ActiveBackup, BalanceTlb, BalanceAlb],
    )?;
    if let Some(primary) = &b.primary
        && !p.interfaces.contains(primary)
    {
        return Err(Error::invalid(format!(
            "parameters.primary: {primary} is not one of the bond's interfaces ({})",
            p.interfaces.join(", ")
        )));
    }
    needs(
        "primary_reselect_policy",
        b.primary_reselect_policy.is_some(),
        "primary",
        b.primary.is_some(),
    )?;
    check_monitoring(b, mode)
}

/// MII or ARP monitoring, not both; the ARP options need ARP monitoring,
/// the delays MII monitoring in whole multiples.
fn check_monitoring(b: &Parameters, mode: Mode) -> Result<()> {
    let miimon = b.mii_monitor_interval.unwrap_or(0);
    let arp = b.arp_interval.unwrap_or(0);
    if miimon > 0 && arp > 0 {
        return Err(Error::invalid(format!(
            "parameters.mii_monitor_interval ({miimon}) and parameters.arp_interval ({arp}) are both set: a bond monitors its members by MII or by ARP, not both; set one of them to 0 or leave it out"
        )));
    }
    let arp_options = [
        ("arp_interval", arp > 0),
        ("arp_ip_targets", b.arp_ip_targets.is_some()),
        ("arp_validate", b.arp_validate.is_some()),
        ("arp_all_targets", b.arp_all_targets.is_some()),
    ];
    for (option, set) in arp_options {
        only_in(
            option,
            set,
            mode,
            &[BalanceRr, ActiveBackup, BalanceXor, Broadcast],
        )?;
    }
    for (option, set) in &arp_options[1..] {
        needs(option, *set, "arp_interval", arp > 0)?;
    }
    let targets = b.arp_ip_targets.as_deref().unwrap_or_default();
    if arp > 0 && targets.is_empty() {
        return Err(Error::invalid(
            "parameters.arp_interval needs parameters.arp_ip_targets: the ARP monitor has nobody to ask",
        ));
    }
    if targets.len() > 16 {
        return Err(Error::invalid(format!(
            "parameters.arp_ip_targets: {} targets; the kernel takes at most 16",
            targets.len()
        )));
    }
    for (i, t) in targets.iter().enumerate() {
        let option = format!("parameters.arp_ip_targets[{i}]");
        if !validate::ip(&option, t)?.is_ipv4() {
            return Err(Error::invalid(format!(
                "{option}: {t} is not an IPv4 address; ARP targets are IPv4"
            )));
        }
        if targets[..i].contains(t) {
            return Err(Error::invalid(format!("{option}: {t} is listed twice")));
        }
    }
    for (option, delay) in [("up_delay", b.up_delay), ("down_delay", b.down_delay)] {
        let Some(delay) = delay.filter(|d| *d > 0) else {
            continue;
        };
        if miimon == 0 {
            return Err(Error::invalid(format!(
                "parameters.{option} needs parameters.mii_monitor_interval: the delays count MII checks"
            )));
        }
        if delay % miimon != 0 {
            return Err(Error::invalid(format!(
                "parameters.{option}: {delay} is not a multiple of parameters.mii_monitor_interval ({miimon}); the kernel would round it down to {}",
                delay / miimon * miimon
            )));
        }
    }
    Ok(())
}
