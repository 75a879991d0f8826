//! The checklist on a healthy host (tests/golden/host.json: a bond, a
//! VLAN, bridges on both, NAT, isolated, host-bridge and VF-pool networks,
//! guests on each) finds nothing; each deliberate breakage raises exactly
//! its finding, on the right subject, and nothing else.

use kvm_net_facts::facts::{Facts, Interface};
use kvm_net_facts::findings::{self, Finding, Settings};
use kvm_net_facts::params::Check;

fn healthy() -> Facts {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/host.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn settings() -> Settings {
    Settings {
        ignore: Vec::new(),
        max_drops: 100,
    }
}

fn found(facts: &Facts) -> Vec<Finding> {
    findings::check(facts, &settings())
}

/// Exactly one finding, of `check`, about `subject`.
fn only(facts: &Facts, check: Check, subject: &str) -> Finding {
    let f = found(facts);
    assert_eq!(f.len(), 1, "one finding expected: {f:#?}");
    assert_eq!(
        (f[0].check, f[0].subject.as_str()),
        (check, subject),
        "{f:#?}"
    );
    assert!(!f[0].detail.is_empty() && !f[0].hint.is_empty());
    f.into_iter().next().unwrap()
}

fn nic<'a>(f: &'a mut Facts, domain: &str, i: usize) -> &'a mut kvm_net_facts::facts::DomainNic {
    &mut f
        .domains
        .iter_mut()
        .find(|d| d.name == domain)
        .unwrap()
        .nics[i]
}

#[test]
fn a_healthy_host_has_no_findings() {
    assert_eq!(found(&healthy()), []);
}

#[test]
fn a_guest_nic_on_no_bridge() {
    let mut f = healthy();
    nic(&mut f, "web", 0).bridge = None;
    let x = only(
        &f,
        Check::NicNotOnBridge,
        "domain web, NIC 52:54:00:00:00:01",
    );
    assert!(
        x.detail
            .contains("vnet0 is a port of no bridge; it should be on virbr0"),
        "{}",
        x.detail
    );
    // On the wrong bridge is the same problem.
    nic(&mut f, "web", 0).bridge = Some("br0".into());
    let x = only(
        &f,
        Check::NicNotOnBridge,
        "domain web, NIC 52:54:00:00:00:01",
    );
    assert!(x.detail.contains("is a port of br0"), "{}", x.detail);
    // A shut-off guest has no tap to be anywhere.
    let mut f = healthy();
    nic(&mut f, "old", 0).tap = Some("vnet9".into());
    assert_eq!(found(&f), []);
}

#[test]
fn a_missing_bridge_of_a_nic_or_a_network() {
    let mut f = healthy();
    // The shut-off guest's NIC names a bridge that is not there.
    *nic(&mut f, "old", 0) = kvm_net_facts::facts::DomainNic {
        kind: "bridge".into(),
        source: Some("br-gone".into()),
        model: Some("virtio".into()),
        mac: Some("52:54:00:00:00:04".into()),
        link_state: "up".into(),
        ..Default::default()
    };
    let x = only(
        &f,
        Check::BridgeMissing,
        "domain old, NIC 52:54:00:00:00:04",
    );
    assert!(x.detail.contains("br-gone"));

    // A host-bridge network needs its bridge even while inactive...
    let mut f = healthy();
    let lan = f.networks.iter_mut().find(|n| n.name == "lan").unwrap();
    lan.active = false;
    lan.bridge = Some("br-gone".into());
    only(&f, Check::BridgeMissing, "network lan");
    // ...a NAT network's bridge is libvirt's to make when it starts.
    let mut f = healthy();
    let iso = f
        .networks
        .iter_mut()
        .find(|n| n.name == "isolated")
        .unwrap();
    iso.active = false;
    f.bridges.retain(|b| b.name != "virbr9");
    f.interfaces.retain(|i| i.name != "virbr9");
    assert_eq!(found(&f), []);
    // Active without it: removed behind libvirt's back.
    f.networks
        .iter_mut()
        .find(|n| n.name == "isolated")
        .unwrap()
        .active = true;
    only(&f, Check::BridgeMissing, "network isolated");
}

/// An Open vSwitch bridge is not a Linux bridge, but it is there: a NIC
/// on it (type bridge, virtualport openvswitch) is not on a missing
/// bridge, nor reported as off its (Linux) bridge.
#[test]
fn a_nic_on_an_open_vswitch_bridge() {
    let mut f = healthy();
    f.interfaces.push(Interface {
        name: "ovsbr0".into(),
        kind: "openvswitch".into(),
        ..Default::default()
    });
    let db = nic(&mut f, "db", 0);
    db.source = Some("ovsbr0".into());
    db.bridge = None;
    assert_eq!(found(&f), []);
}

#[test]
fn a_running_guest_without_an_address() {
    let mut f = healthy();
    nic(&mut f, "db", 0).ips.clear();
    only(
        &f,
        Check::GuestWithoutIp,
        "domain db, NIC 52:54:00:00:00:02",
    );
    // Not for a NIC whose link is down, nor a shut-off guest (old), nor a
    // VF (vfguest: the host cannot see its traffic).
    nic(&mut f, "db", 0).link_state = "down".into();
    assert_eq!(found(&f), []);
}

#[test]
fn ip_forward_off_only_matters_with_an_active_nat_or_routed_network() {
    let mut f = healthy();
    f.ip_forward = false;
    let x = only(&f, Check::IpForwardOff, "host");
    assert!(x.detail.ends_with(": default"), "{}", x.detail);
    f.networks
        .iter_mut()
        .find(|n| n.name == "default")
        .unwrap()
        .active = false;
    assert_eq!(found(&f), []);
}

#[test]
fn nat_rules_missing() {
    let mut f = healthy();
    f.firewall.libvirt.clear();
    let x = only(&f, Check::NatRulesMissing, "network default");
    assert!(x.detail.contains("192.168.122.0/24"));
    // libvirt's nftables backend's rule counts as well.
    f.firewall.libvirt.push(kvm_net_facts::facts::FirewallRule {
        firewall: "nftables".into(),
        table: "libvirt_network".into(),
        chain: "guest_nat".into(),
        rule: "ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 counter packets 3 bytes 180 masquerade".into(),
    });
    assert_eq!(found(&f), []);
    // An inactive network has no rules, and needs none.
    f.firewall.libvirt.clear();
    f.networks
        .iter_mut()
        .find(|n| n.name == "default")
        .unwrap()
        .active = false;
    assert_eq!(found(&f), []);
}

#[test]
fn stp_blocking_and_forward_delay() {
    let mut f = healthy();
    f.bridges
        .iter_mut()
        .find(|b| b.name == "br0")
        .unwrap()
        .ports[0]
        .state = "blocking".into();
    let x = only(&f, Check::StpBlocking, "bridge br0");
    assert!(x.detail.contains("bond0"));

    // STP with a 15 s delay on a bridge with one uplink: every guest port
    // waits 30 s.
    let mut f = healthy();
    let br0 = f.bridges.iter_mut().find(|b| b.name == "br0").unwrap();
    br0.stp = true;
    br0.forward_delay = 15.0;
    let x = only(&f, Check::StpForwardDelay, "bridge br0");
    assert!(x.detail.contains("after 30 s"), "{}", x.detail);
    // Two uplinks: STP has a loop to break; libvirt's own 2 s: the minimum.
    let br0 = f.bridges.iter_mut().find(|b| b.name == "br0").unwrap();
    br0.ports.push(kvm_net_facts::facts::BridgePort {
        name: "eno3".into(),
        state: "forwarding".into(),
        domain: None,
    });
    assert_eq!(found(&f), []);
}

#[test]
fn drops_on_a_bridge_or_its_ports_over_the_threshold() {
    let mut f = healthy();
    let tap = f.interfaces.iter_mut().find(|i| i.name == "vnet0").unwrap();
    tap.tx_dropped = 60;
    tap.rx_dropped = 40;
    assert_eq!(found(&f), [], "100 is not over 100");
    f.interfaces
        .iter_mut()
        .find(|i| i.name == "vnet0")
        .unwrap()
        .tx_dropped = 61;
    let x = only(&f, Check::BridgeDrops, "bridge virbr0");
    assert_eq!(
        x.detail,
        "packets dropped: vnet0 rx_dropped 40 tx_dropped 61"
    );
    // A lower threshold, and the bridge itself.
    f.interfaces
        .iter_mut()
        .find(|i| i.name == "br0")
        .unwrap()
        .rx_dropped = 5;
    let low = Settings {
        ignore: Vec::new(),
        max_drops: 0,
    };
    let subjects: Vec<String> = findings::check(&f, &low)
        .into_iter()
        .map(|x| x.subject)
        .collect();
    assert_eq!(subjects, ["bridge br0", "bridge virbr0"]);
}

#[test]
fn a_nic_model_that_is_not_virtio() {
    let mut f = healthy();
    nic(&mut f, "web", 1).model = Some("e1000".into());
    let x = only(&f, Check::NicModel, "domain web, NIC 52:54:00:00:00:05");
    assert!(x.detail.contains("e1000"));
    nic(&mut f, "web", 1).model = None;
    let x = only(&f, Check::NicModel, "domain web, NIC 52:54:00:00:00:05");
    assert!(x.detail.contains("no model"));
}

#[test]
fn a_network_whose_dhcp_server_is_not_running() {
    let mut f = healthy();
    f.networks
        .iter_mut()
        .find(|n| n.name == "default")
        .unwrap()
        .dhcp_running = Some(false);
    only(&f, Check::DhcpNotRunning, "network default");
}

#[test]
fn libvirt_unreachable_and_checks_ignored() {
    let mut f = healthy();
    f.libvirt.reachable = false;
    f.libvirt.error =
        Some("connecting to libvirt at qemu:///system: Failed to connect socket".into());
    let x = only(&f, Check::LibvirtUnreachable, "libvirt qemu:///system");
    assert!(x.detail.contains("Failed to connect socket"));

    let mut f = healthy();
    f.ip_forward = false;
    nic(&mut f, "web", 1).model = Some("rtl8139".into());
    assert_eq!(found(&f).len(), 2);
    let s = Settings {
        ignore: vec![Check::NicModel],
        max_drops: 100,
    };
    let left: Vec<Check> = findings::check(&f, &s)
        .into_iter()
        .map(|x| x.check)
        .collect();
    assert_eq!(left, [Check::IpForwardOff]);
}
