//! netplan_bond in a real Debian guest (tests/rig/guest): bonds made by
//! systemd-networkd from netplan apply in a real kernel with the bonding
//! driver, over SSH as Ansible runs it; bridges on bonds with
//! netplan_bridge.
//!
//! `#[ignore]`d for a plain `cargo test`; `make test` boots the guest and
//! runs them with `-- --ignored`. Without the guest they fail and say so.
//! Every scenario goes through [`Guest::converge`].

use kvmnet_core::testing::guest::{self, Guest, assert_same};
use serde_json::{Value, json};

const BOND: &str = env!("CARGO_BIN_EXE_netplan_bond");

fn guest() -> Guest {
    guest::guest(
        BOND,
        "rm -f /etc/netplan/60-kvmnet-*; for l in br0 br-vlan100 bond0.100 bond0 bond1; do ip link del $l 2>/dev/null; done; netplan apply",
    )
}

/// Run netplan_bridge's `args` to convergence in the guest, then go back
/// to netplan_bond.
fn bridge(g: &mut Guest, args: &Value) -> Value {
    g.install(&guest::sibling_binary("netplan_bridge"));
    let r = g.converge(args);
    g.install(BOND);
    r
}

/// `/sys/class/net/<bond>/bonding/<what>`, as the kernel words it.
fn bonding(g: &Guest, bond: &str, what: &str) -> String {
    g.ssh(&format!("cat /sys/class/net/{bond}/bonding/{what}"))
        .trim()
        .to_string()
}

/// The bond's members, sorted: networkd enslaves them in its own order.
fn members(g: &Guest, bond: &str) -> String {
    let mut m: Vec<String> = bonding(g, bond, "slaves")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    m.sort();
    m.join(" ")
}

fn master_of(g: &Guest, link: &str) -> Option<String> {
    g.try_ssh(&format!(
        "basename $(readlink /sys/class/net/{link}/master)"
    ))
    .ok()
    .map(|s| s.trim().to_string())
}

/// The guide's "Bonded Bridge for VMs": bond0 in 802.3ad (LACP fast, MII
/// every 100 ms, layer3+4 hashing) over two NICs, br0 on it with the
/// host's address; then both removed again.
#[test]
#[ignore = "needs the guest VM: make test"]
fn bonded_bridge_for_vms() {
    let mut g = guest();
    let bond = json!({"name": "bond0", "interfaces": ["enp0s3", "enp0s4"],
        "parameters": {"mode": "802.3ad", "lacp_rate": "fast", "mii_monitor_interval": 100,
                       "transmit_hash_policy": "layer3+4"}});
    g.converge(&bond);
    assert_eq!(bonding(&g, "bond0", "mode"), "802.3ad 4");
    assert_eq!(bonding(&g, "bond0", "lacp_rate"), "fast 1");
    assert_eq!(bonding(&g, "bond0", "miimon"), "100");
    assert_eq!(bonding(&g, "bond0", "xmit_hash_policy"), "layer3+4 1");
    assert_eq!(members(&g, "bond0"), "enp0s3 enp0s4");

    let br = json!({"name": "br0", "interfaces": ["bond0"], "addresses": ["192.168.50.10/24"],
        "parameters": {"stp": false, "forward_delay": 0}});
    bridge(&mut g, &br);
    assert_eq!(master_of(&g, "bond0").as_deref(), Some("br0"));
    assert!(g.ssh("ip -br addr show br0").contains("192.168.50.10/24"));
    // The bond is still as the task says once the bridge is on it.
    assert_eq!(g.ok(&bond)["changed"], json!(false));

    // Removing the bridge first, then the bond: it leaves the kernel and
    // its members are free.
    bridge(&mut g, &json!({"name": "br0", "state": "absent"}));
    let r = g.converge(&json!({"name": "bond0", "state": "absent"}));
    assert!(
        r["actions"]
            .to_string()
            .contains("delete bond0 from the kernel"),
        "{r}"
    );
    assert!(
        g.try_ssh("ip link show bond0").is_err(),
        "bond0 is still in the kernel"
    );
    assert_eq!(master_of(&g, "enp0s3"), None);
    assert_eq!(master_of(&g, "enp0s4"), None);
    g.mgmt_alive();
}

/// Active-backup with a primary: the primary is the active member; a
/// change of mode makes a new bond; a member taken out of the task is
/// released; a drifted parameter is put back.
#[test]
#[ignore = "needs the guest VM: make test"]
fn active_backup_mode_change_and_member_removal() {
    let g = guest();
    let ab = json!({"name": "bond1", "interfaces": ["enp0s3", "enp0s4"],
        "parameters": {"mode": "active-backup", "primary": "enp0s4", "mii_monitor_interval": 100,
                       "up_delay": 200, "down_delay": 300, "fail_over_mac_policy": "active",
                       "gratuitous_arp": 3, "resend_igmp": 2, "all_members_active": true}});
    g.converge(&ab);
    assert_eq!(bonding(&g, "bond1", "mode"), "active-backup 1");
    assert_eq!(bonding(&g, "bond1", "primary"), "enp0s4");
    assert_eq!(bonding(&g, "bond1", "active_slave"), "enp0s4");
    assert_eq!(bonding(&g, "bond1", "updelay"), "200");
    assert_eq!(bonding(&g, "bond1", "downdelay"), "300");
    assert_eq!(bonding(&g, "bond1", "fail_over_mac"), "active 1");
    assert_eq!(bonding(&g, "bond1", "num_grat_arp"), "3");
    assert_eq!(bonding(&g, "bond1", "resend_igmp"), "2");
    assert_eq!(bonding(&g, "bond1", "all_slaves_active"), "1");

    // Drift networkd leaves alone: the MII interval changed by hand.
    g.ssh("echo 500 > /sys/class/net/bond1/bonding/miimon");
    let r = g.ok(&ab);
    let actions = r["actions"].to_string();
    assert!(
        actions.contains("mii-monitor-interval is 500, not 100")
            && actions.contains("created anew"),
        "{actions}"
    );
    assert_eq!(bonding(&g, "bond1", "miimon"), "100");
    assert_eq!(g.ok(&ab)["changed"], json!(false));

    // Another member made active by hand stays active until the next
    // failover: the primary is made active again, in place.
    g.ssh("echo enp0s3 > /sys/class/net/bond1/bonding/active_slave");
    let index = g.ssh("cat /sys/class/net/bond1/ifindex");
    let r = g.ok(&ab);
    let actions = r["actions"].to_string();
    assert!(
        actions.contains("the active member is enp0s3, not the primary enp0s4")
            && !actions.contains("created anew"),
        "{actions}"
    );
    assert_eq!(bonding(&g, "bond1", "active_slave"), "enp0s4");
    assert_eq!(
        g.ssh("cat /sys/class/net/bond1/ifindex"),
        index,
        "bond1 was made anew"
    );
    assert_eq!(g.ok(&ab)["changed"], json!(false));

    // A new mode: the kernel takes it only on a bond without members, so
    // the bond is made anew.
    let xor = json!({"name": "bond1", "interfaces": ["enp0s3", "enp0s4"],
        "parameters": {"mode": "balance-xor", "transmit_hash_policy": "layer2+3", "mii_monitor_interval": 100}});
    let r = g.converge(&xor);
    assert!(
        r["actions"]
            .to_string()
            .contains("mode is active-backup, not balance-xor"),
        "{r}"
    );
    assert_eq!(bonding(&g, "bond1", "mode"), "balance-xor 2");
    assert_eq!(bonding(&g, "bond1", "xmit_hash_policy"), "layer2+3 2");
    assert_eq!(members(&g, "bond1"), "enp0s3 enp0s4");

    // One member fewer: networkd does not release it; the module does.
    let one = json!({"name": "bond1", "interfaces": ["enp0s3"],
        "parameters": {"mode": "balance-xor", "transmit_hash_policy": "layer2+3", "mii_monitor_interval": 100}});
    let r = g.converge(&one);
    assert!(
        r["actions"]
            .to_string()
            .contains("enp0s4 is a member of bond1 but not in the task"),
        "{r}"
    );
    assert_eq!(members(&g, "bond1"), "enp0s3");
    assert_eq!(master_of(&g, "enp0s4"), None);

    g.converge(&json!({"name": "bond1", "state": "absent"}));
    assert!(g.try_ssh("ip link show bond1").is_err());
    assert_eq!(master_of(&g, "enp0s3"), None);
    g.mgmt_alive();
}

/// A VLAN on a bond, and a bridge on the VLAN (netplan_bridge defines the
/// VLAN with the bridge).
#[test]
#[ignore = "needs the guest VM: make test"]
fn vlan_on_a_bond_with_a_bridge() {
    let mut g = guest();
    let bond = json!({"name": "bond0", "interfaces": ["enp0s3", "enp0s4"],
        "parameters": {"mode": "active-backup", "primary": "enp0s3", "mii_monitor_interval": 100}});
    g.converge(&bond);
    let br = json!({"name": "br-vlan100", "vlans": [{"name": "bond0.100", "id": 100, "link": "bond0"}],
        "interfaces": ["bond0.100"]});
    bridge(&mut g, &br);
    let vlan = g.link("bond0.100");
    assert!(
        vlan.contains("bond0.100@bond0")
            && vlan.contains("vlan protocol 802.1Q id 100")
            && vlan.contains("master br-vlan100"),
        "{vlan}"
    );
    assert_eq!(g.ok(&bond)["changed"], json!(false));
    // The bridge file refers to bond0: removing the bond first is refused
    // by netplan, and nothing changes.
    g.refused(
        &json!({"name": "bond0", "state": "absent"}),
        "interface 'bond0' is not defined",
    );
    bridge(&mut g, &json!({"name": "br-vlan100", "state": "absent"}));
    assert!(g.try_ssh("ip link show bond0.100").is_err());
    g.converge(&json!({"name": "bond0", "state": "absent"}));
    g.mgmt_alive();
}

/// A bond the kernel does not make as asked is reverted, as is one that
/// would cut the SSH connection; bad combinations are refused with nothing
/// written.
#[test]
#[ignore = "needs the guest VM: make test"]
fn reverts_and_refusals() {
    let g = guest();
    let before = g.snapshot();
    // networkd cannot give a bond a multicast MAC.
    let bad = json!({"name": "bond0", "interfaces": ["enp0s3"], "macaddress": "01:00:5e:00:00:43",
        "parameters": {"mode": "active-backup"}});
    let v = g.module_with_env(&bad, "KVMNET_VERIFY_TIMEOUT=20");
    assert_eq!(v["failed"], json!(true), "{v}");
    let msg = v["msg"].as_str().unwrap();
    assert!(msg.contains("MAC is") && msg.contains("reverted"), "{msg}");
    assert_same(&before, &g.snapshot(), "the revert restored the guest");

    let ok = json!({"name": "bond0", "interfaces": ["enp0s3", "enp0s4"], "parameters": {"mode": "802.3ad"}});
    let v = g.module_with_env(&ok, "SSH_CONNECTION='10.0.2.2 50000 192.0.2.77 22'");
    assert_eq!(v["failed"], json!(true), "{v}");
    assert!(v["msg"].as_str().unwrap().contains("reverted"), "{v}");
    assert_same(
        &before,
        &g.snapshot(),
        "the guard's revert restored the guest",
    );
    g.mgmt_alive();

    for (args, expect) in [
        (
            json!({"name": "bond0", "interfaces": ["enp0s3"], "parameters": {"mode": "active-backup", "lacp_rate": "fast"}}),
            "parameters.lacp_rate does not apply to mode active-backup: only to 802.3ad",
        ),
        (
            json!({"name": "bond0", "interfaces": ["enp0s3"], "parameters": {"mode": "active-backup", "primary": "enp0s4"}}),
            "enp0s4 is not one of the bond's interfaces",
        ),
        (
            json!({"name": "bond0", "interfaces": ["enp0s3"], "parameters": {"mode": "active-backup",
                   "mii_monitor_interval": 100, "arp_interval": 100, "arp_ip_targets": ["10.0.2.2"]}}),
            "not both",
        ),
        (
            json!({"name": "bond0", "interfaces": ["enp0s3"], "parameters": {"mode": "lacp"}}),
            "value of mode must be one of",
        ),
        (
            json!({"name": "bond0", "members": ["enp0s3"]}),
            "Unsupported parameters for (netplan_bond) module: members",
        ),
    ] {
        g.refused(&args, expect);
    }
}

/// The parameters the other scenarios leave out, each read back from the
/// kernel: 802.3ad's min_links and ad_select with the bond's own
/// addresses, route, MTU and MAC; ARP monitoring with a reselect policy;
/// balance-rr's packets per member; balance-alb's learning interval.
#[test]
#[ignore = "needs the guest VM: make test"]
fn every_other_parameter_reaches_the_kernel() {
    let g = guest();
    let members = json!(["enp0s3", "enp0s4"]);
    g.converge(&json!({"name": "bond1", "interfaces": members, "addresses": ["192.168.51.10/24"],
        "routes": [{"to": "192.168.61.0/24", "via": "192.168.51.1"}], "mtu": 1400,
        "macaddress": "52:54:00:b0:00:01",
        "parameters": {"mode": "802.3ad", "lacp_rate": "slow", "min_links": 1, "ad_select": "bandwidth",
                       "transmit_hash_policy": "encap3+4", "mii_monitor_interval": 100}}));
    assert_eq!(bonding(&g, "bond1", "min_links"), "1");
    assert_eq!(bonding(&g, "bond1", "ad_select"), "bandwidth 1");
    assert_eq!(bonding(&g, "bond1", "lacp_rate"), "slow 0");
    assert_eq!(bonding(&g, "bond1", "xmit_hash_policy"), "encap3+4 4");
    let link = g.link("bond1");
    assert!(
        link.contains("mtu 1400") && link.contains("link/ether 52:54:00:b0:00:01"),
        "{link}"
    );
    assert!(g.ssh("ip -br addr show bond1").contains("192.168.51.10/24"));
    assert!(
        g.ssh("ip route show 192.168.61.0/24")
            .contains("via 192.168.51.1 dev bond1")
    );

    g.converge(&json!({"name": "bond1", "interfaces": members, "addresses": ["192.168.52.10/24"],
        "parameters": {"mode": "active-backup", "primary": "enp0s3", "primary_reselect_policy": "failure",
                       "arp_interval": 200, "arp_ip_targets": ["192.168.52.1", "192.168.52.2"],
                       "arp_validate": "all", "arp_all_targets": "all"}}));
    assert_eq!(bonding(&g, "bond1", "arp_interval"), "200");
    assert_eq!(
        bonding(&g, "bond1", "arp_ip_target"),
        "192.168.52.1 192.168.52.2"
    );
    assert_eq!(bonding(&g, "bond1", "arp_validate"), "all 3");
    assert_eq!(bonding(&g, "bond1", "arp_all_targets"), "all 1");
    assert_eq!(bonding(&g, "bond1", "primary_reselect"), "failure 2");

    g.converge(&json!({"name": "bond1", "interfaces": members,
        "parameters": {"mode": "balance-rr", "packets_per_member": 3, "mii_monitor_interval": 100}}));
    assert_eq!(bonding(&g, "bond1", "packets_per_slave"), "3");

    g.converge(&json!({"name": "bond1", "interfaces": members,
        "parameters": {"mode": "balance-alb", "learn_packet_interval": 5, "mii_monitor_interval": 100}}));
    assert_eq!(bonding(&g, "bond1", "lp_interval"), "5");

    g.converge(&json!({"name": "bond1", "state": "absent"}));
    assert!(g.try_ssh("ip link show bond1").is_err());
    g.mgmt_alive();
}
