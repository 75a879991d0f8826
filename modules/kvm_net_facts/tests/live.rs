//! kvm_net_facts against the sandbox host (tests/rig/sandbox.sh: a real
//! libvirtd in a network namespace, with iptables, dnsmasq and a running
//! TCG guest). A sound setup first: no findings, and the facts as built.
//! Then one deliberate breakage at a time, each raising exactly its
//! finding, and gone again once repaired. Every run is also made in check
//! mode and must leave links, firewall, sysctl and libvirt as they were.
//!
//! `#[ignore]`d for a plain `cargo test`; `make test` runs it with the
//! sandbox up.

use kvmnet_core::testing::configuration_only;
use kvmnet_core::testing::sandbox::{self as rig, Sandbox, sh, virsh};
use serde_json::{Value, json};

mod common;
use common::{by_name, expect_about};

const GUEST: &str = "t-kf";
const NET: &str = "t-kf";
const NET_BRIDGE: &str = "virbr-t-kf";
/// A host bridge with one uplink (a veth standing in for a NIC).
const LAN: &str = "t-kfbr";
const UPLINK: &str = "t-kfu0";
const UPLINK_PEER: &str = "t-kfu1";
const MAC_NAT: &str = "52:54:00:4b:46:01";
const MAC_LAN: &str = "52:54:00:4b:46:02";

/// The sandbox's own links this test makes; removed before and after.
const LINKS: [&str; 5] = [LAN, UPLINK, "t-kfs", "t-kfl0", "t-kfc0"];

fn remove_links(sb: &Sandbox) {
    for l in LINKS {
        let _ = sh(&["ip", "-n", &sb.ns, "link", "del", l]);
    }
    let _ = sh(&["ip", "netns", "del", &client_ns(sb)]);
}

/// A namespace of the test's own, plugged into the NAT network's bridge,
/// where a DHCP client takes a lease for the guest's NIC.
fn client_ns(sb: &Sandbox) -> String {
    format!("{}-dhcp", sb.ns)
}

/// Take a real lease from the network's dnsmasq for `mac`
/// (tests/rig/dhcp-lease.py); the leased address.
fn take_lease(sb: &Sandbox, mac: &str) -> String {
    let client = client_ns(sb);
    sh(&["ip", "netns", "add", &client]).unwrap();
    sb.ns(&[
        "ip", "link", "add", "t-kfc0", "type", "veth", "peer", "name", "t-kfc1", "netns", &client,
    ]);
    sb.ns(&["ip", "link", "set", "t-kfc0", "master", NET_BRIDGE, "up"]);
    sh(&["ip", "-n", &client, "link", "set", "t-kfc1", "up"]).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/rig/dhcp-lease.py");
    let ip = sh(&[
        "ip", "netns", "exec", &client, "python3", script, "t-kfc1", mac,
    ])
    .unwrap_or_else(|e| panic!("taking a DHCP lease: {e}"));
    // libvirt's leases helper writes the lease file after the ACK.
    std::thread::sleep(std::time::Duration::from_millis(500));
    ip.trim().to_string()
}

/// What a run must not change: links (without counters), the firewall
/// (without counters), ip_forward, neighbours, libvirt's XML.
fn snapshot(sb: &Sandbox) -> String {
    let mut s = configuration_only(&sb.ns(&["ip", "-d", "link", "show"]));
    s += &sb.ns(&["ip", "neigh", "show", "nud", "permanent"]);
    s += &sb.ns(&["sysctl", "net.ipv4.ip_forward"]);
    for line in sb.ns(&["iptables-save"]).lines() {
        if !line.starts_with('#') {
            s += line.split(" [").next().unwrap_or(line);
            s += "\n";
        }
    }
    for dom in virsh(&["list", "--all", "--name"]).split_whitespace() {
        s += &virsh(&["dumpxml", dom]);
    }
    for net in virsh(&["net-list", "--all", "--name"]).split_whitespace() {
        s += &virsh(&["net-dumpxml", net]);
    }
    s
}

/// Run the module in check mode and for real: both unchanged, equal
/// reports, the host as it was. Returns the report.
fn gather(sb: &Sandbox, mut args: Value) -> Value {
    let before = snapshot(sb);
    let mut check = args.clone();
    check["_ansible_check_mode"] = json!(true);
    check["_ansible_diff"] = json!(true);
    let dry = sb.ok(check);
    let real = sb.ok(args.take());
    kvmnet_core::testing::assert_same(&before, &snapshot(sb), "kvm_net_facts changed the host");
    for r in [&dry, &real] {
        assert_eq!(r["changed"], json!(false), "{r}");
        assert!(r.get("diff").is_none(), "nothing to diff: {r}");
        let mut top = r.clone();
        let top = top.as_object_mut().unwrap();
        let facts = top.remove("ansible_facts").unwrap();
        top.remove("changed");
        assert_eq!(
            &Value::Object(top.clone()),
            &facts["kvmnet"],
            "ansible_facts.kvmnet is the report"
        );
    }
    // Counters and leases move; the findings of both runs must agree.
    assert_eq!(dry["findings"], real["findings"]);
    real
}

/// The findings about the test's own objects (its network, bridges,
/// guests), the host's ip_forward and libvirt's connection are exactly
/// `want`. The other live suites share the sandbox; what they leave (a
/// bridge's drop count) is not this test's.
fn expect(r: &Value, want: &[(&str, &str)]) {
    expect_about(
        r,
        |s| s == "host" || s.starts_with("libvirt ") || s.contains("t-kf"),
        want,
    );
}

fn nic_xml(kind: &str, source: &str, mac: &str, model: &str) -> String {
    let attr = if kind == "network" {
        "network"
    } else {
        "bridge"
    };
    format!(
        "<interface type='{kind}'><mac address='{mac}'/><source {attr}='{source}'/><model type='{model}'/></interface>"
    )
}

/// The sound setup: a NAT network with DHCP, a host bridge with an
/// uplink, a running guest with a virtio NIC on each. The tiny guest asks
/// no DHCP: its NAT NIC's lease is taken for it, and its LAN NIC's address
/// is in the host's neighbour table. Returns the leased address.
fn setup(sb: &Sandbox) -> String {
    remove_links(sb);
    let net = format!(
        "<network><name>{NET}</name><forward mode='nat'/><bridge name='{NET_BRIDGE}'/>\
         <ip address='10.94.1.1' netmask='255.255.255.0'><dhcp><range start='10.94.1.10' end='10.94.1.99'/></dhcp></ip></network>"
    );
    let file = format!("{}/{NET}.xml", sb.root);
    std::fs::write(&file, net).unwrap();
    virsh(&["net-define", &file]);
    virsh(&["net-start", NET]);
    sb.ns(&["ip", "link", "add", LAN, "type", "bridge", "stp_state", "0"]);
    sb.ns(&[
        "ip",
        "link",
        "add",
        UPLINK,
        "type",
        "veth",
        "peer",
        "name",
        UPLINK_PEER,
    ]);
    sb.ns(&["ip", "link", "set", UPLINK, "master", LAN]);
    for l in [LAN, UPLINK, UPLINK_PEER] {
        sb.ns(&["ip", "link", "set", l, "up"]);
    }
    let nics =
        nic_xml("network", NET, MAC_NAT, "virtio") + &nic_xml("bridge", LAN, MAC_LAN, "virtio");
    sb.boot_os_guest_with(&rig::os_guest_dir(), GUEST, "", &nics);
    sb.ns(&[
        "ip",
        "neigh",
        "replace",
        "10.95.0.50",
        "lladdr",
        MAC_LAN,
        "dev",
        LAN,
        "nud",
        "permanent",
    ]);
    take_lease(sb, MAC_NAT)
}

fn tap_of(r: &Value, mac: &str) -> String {
    let nics = r["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == GUEST)
        .unwrap()["nics"]
        .as_array()
        .unwrap();
    let nic = nics.iter().find(|n| n["mac"] == mac).unwrap();
    nic["tap"].as_str().unwrap().to_string()
}

#[test]
#[ignore = "needs the sandbox host: make test"]
fn facts_and_findings_follow_deliberate_breakage() {
    let sb = rig::sandbox(env!("CARGO_BIN_EXE_kvm_net_facts"));
    let leased = setup(&sb);
    let mut base = json!({});

    // Sound: nothing found, and the facts are what was built.
    let r = gather(&sb, base.clone());
    expect(&r, &[]);
    assert_eq!(r["ip_forward"], json!(true));
    let net = by_name(&r, "networks", NET);
    assert_eq!(
        (
            &net["active"],
            &net["forward_mode"],
            &net["bridge"],
            &net["dhcp_running"]
        ),
        (
            &json!(true),
            &json!("nat"),
            &json!(NET_BRIDGE),
            &json!(true)
        )
    );
    assert_eq!(
        net["addresses"],
        json!([{"cidr": "10.94.1.1/24", "dhcp": true}])
    );
    let leases = net["leases"].as_array().unwrap();
    assert_eq!(leases.len(), 1, "{net:#}");
    assert_eq!(
        (&leases[0]["mac"], &leases[0]["ip"]),
        (&json!(MAC_NAT), &json!(leased))
    );
    let dom = by_name(&r, "domains", GUEST);
    assert_eq!(dom["running"], json!(true));
    let nics = dom["nics"].as_array().unwrap();
    assert_eq!(nics.len(), 2, "{dom:#}");
    let (nat_tap, lan_tap) = (tap_of(&r, MAC_NAT), tap_of(&r, MAC_LAN));
    for (nic, kind, source, bridge, ip, ip_source, tap) in [
        (
            &nics[0],
            "network",
            NET,
            NET_BRIDGE,
            leased.as_str(),
            "lease",
            &nat_tap,
        ),
        (&nics[1], "bridge", LAN, LAN, "10.95.0.50", "arp", &lan_tap),
    ] {
        assert_eq!(nic["type"], kind, "{nic}");
        assert_eq!(nic["source"], source, "{nic}");
        assert_eq!(nic["bridge"], bridge, "{nic}");
        assert_eq!(nic["model"], "virtio", "{nic}");
        assert_eq!(nic["link_state"], "up", "{nic}");
        assert_eq!(nic["ips"], json!([ip]), "{nic}");
        assert_eq!(nic["ip_source"], ip_source, "{nic}");
        let iface = by_name(&r, "interfaces", tap);
        assert_eq!(iface["master"], bridge, "{iface}");
    }
    let lan = by_name(&r, "bridges", LAN);
    assert_eq!(lan["stp"], json!(false));
    assert_eq!(
        lan["ports"],
        json!([{"name": lan_tap, "state": "forwarding", "domain": GUEST}, {"name": UPLINK, "state": "forwarding"}])
            .as_array()
            .map(|p| {
                let mut p = p.clone();
                p.sort_by_key(|x| x["name"].as_str().unwrap().to_string());
                json!(p)
            })
            .unwrap()
    );
    assert_eq!(by_name(&r, "interfaces", UPLINK)["promisc"], json!(true));
    let masq = r["firewall"]["libvirt"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| {
            x["chain"] == "LIBVIRT_PRT"
                && x["rule"] == "-s 10.94.1.0/24 ! -d 10.94.1.0/24 -j MASQUERADE"
        });
    assert!(masq, "{:#}", r["firewall"]);
    let mermaid = r["topology"]["mermaid"].as_str().unwrap();
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    let dot = r["topology"]["dot"].as_str().unwrap();
    for label in [NET_BRIDGE, LAN, UPLINK, GUEST] {
        assert!(
            mermaid.contains(label) && dot.contains(label),
            "{label} in {mermaid}\n{dot}"
        );
    }
    assert!(dot.contains(&format!("label=\"{nat_tap}\"")), "{dot}");

    // A guest's tap taken off its bridge.
    let lan_nic = format!("domain {GUEST}, NIC {MAC_LAN}");
    sb.ns(&["ip", "link", "set", &lan_tap, "nomaster"]);
    expect(
        &gather(&sb, base.clone()),
        &[("nic_not_on_bridge", &lan_nic)],
    );
    sb.ns(&["ip", "link", "set", &lan_tap, "master", LAN]);
    expect(&gather(&sb, base.clone()), &[]);

    // A guest whose address the host cannot find.
    let lan_nic_ip = |sb: &Sandbox, verb: &str| {
        let mut argv = vec!["ip", "neigh", verb, "10.95.0.50"];
        if verb == "replace" {
            argv.extend(["lladdr", MAC_LAN]);
        }
        argv.extend(["dev", LAN]);
        if verb == "replace" {
            argv.extend(["nud", "permanent"]);
        }
        sb.ns(&argv);
    };
    lan_nic_ip(&sb, "del");
    expect(
        &gather(&sb, base.clone()),
        &[("guest_without_ip", &lan_nic)],
    );
    lan_nic_ip(&sb, "replace");

    // ip_forward off under an active NAT network.
    sb.ns(&["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    expect(&gather(&sb, base.clone()), &[("ip_forward_off", "host")]);
    sb.ns(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]);

    // STP with a 15 s forward delay on the one-uplink bridge.
    let lan_subject = format!("bridge {LAN}");
    sb.ns(&[
        "ip",
        "link",
        "set",
        LAN,
        "type",
        "bridge",
        "stp_state",
        "1",
        "forward_delay",
        "1500",
    ]);
    expect(
        &gather(&sb, base.clone()),
        &[("stp_forward_delay", &lan_subject)],
    );
    sb.ns(&["ip", "link", "set", LAN, "type", "bridge", "stp_state", "0"]);

    // A loop: a veth pair with both ends on one STP bridge. STP blocks one
    // end (after a hello or two).
    sb.ns(&[
        "ip",
        "link",
        "add",
        "t-kfs",
        "type",
        "bridge",
        "stp_state",
        "1",
        "forward_delay",
        "200",
    ]);
    sb.ns(&[
        "ip", "link", "add", "t-kfl0", "type", "veth", "peer", "name", "t-kfl1",
    ]);
    for l in ["t-kfl0", "t-kfl1"] {
        sb.ns(&["ip", "link", "set", l, "master", "t-kfs"]);
        sb.ns(&["ip", "link", "set", l, "up"]);
    }
    sb.ns(&["ip", "link", "set", "t-kfs", "up"]);
    let start = std::time::Instant::now();
    while !["t-kfl0", "t-kfl1"].iter().any(|l| {
        sh(&[
            "ip",
            "netns",
            "exec",
            &sb.ns,
            "cat",
            &format!("/sys/class/net/{l}/brport/state"),
        ])
        .is_ok_and(|s| s.trim() == "4")
    }) {
        assert!(
            start.elapsed().as_secs() < 30,
            "STP did not block the loop in 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    expect(
        &gather(&sb, base.clone()),
        &[("stp_blocking", "bridge t-kfs")],
    );
    sb.ns(&["ip", "link", "del", "t-kfs"]);
    sb.ns(&["ip", "link", "del", "t-kfl0"]);

    // Drops: frames of a protocol the host does not speak, broadcast into
    // the bridge from its uplink's far end, are dropped by the bridge.
    let drops = |r: &Value| {
        by_name(r, "interfaces", LAN)["rx_dropped"]
            .as_u64()
            .unwrap()
    };
    let before = drops(&gather(&sb, json!({"max_drops": 1_000_000})));
    let send = format!(
        "import socket\ns = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\ns.bind(('{UPLINK_PEER}', 0))\n\
         frame = b'\\xff' * 6 + bytes.fromhex('02004b460009') + b'\\x88\\xb5' + bytes(46)\n\
         for _ in range(150):\n    s.send(frame)\n"
    );
    sb.ns(&["python3", "-c", &send]);
    let r = gather(&sb, json!({"max_drops": 1_000_000}));
    expect(&r, &[]);
    assert!(
        drops(&r) >= before + 150,
        "{} dropped after {before}",
        drops(&r)
    );
    let r = gather(&sb, json!({"max_drops": drops(&r) - 1}));
    expect(&r, &[("bridge_drops", &lan_subject)]);
    expect(
        &gather(
            &sb,
            json!({"max_drops": drops(&r) - 1, "ignore": ["bridge_drops"]}),
        ),
        &[],
    );
    // The bridge keeps its count: the steps below look past it.
    base = json!({"max_drops": 1_000_000});

    // A shut-off guest with an emulated NIC on a bridge that is not there.
    let off_nic = "domain t-kf-off, NIC 52:54:00:4b:46:03";
    let xml = format!(
        "<domain type='qemu'><name>t-kf-off</name><memory unit='MiB'>64</memory><os><type arch='x86_64' machine='pc'>hvm</type></os>\
         <devices>{}</devices></domain>",
        nic_xml("bridge", "t-kf-gone", "52:54:00:4b:46:03", "e1000")
    );
    sb.define_and_start("t-kf-off", &xml, false);
    expect(
        &gather(&sb, base.clone()),
        &[("bridge_missing", off_nic), ("nic_model", off_nic)],
    );
    virsh(&["undefine", "t-kf-off"]);

    // libvirt's NAT rules flushed, then its dnsmasq gone: what a firewall
    // restart or a crash leaves. (Last: only restarting the network
    // repairs them.)
    let net_subject = format!("network {NET}");
    sb.ns(&["iptables", "-t", "nat", "-F", "LIBVIRT_PRT"]);
    expect(
        &gather(&sb, base.clone()),
        &[("nat_rules_missing", &net_subject)],
    );
    let pid =
        std::fs::read_to_string(format!("{}/run/libvirt/network/{NET}.pid", sb.root)).unwrap();
    sh(&["kill", pid.trim()]).unwrap();
    let start = std::time::Instant::now();
    while std::path::Path::new(&format!("/proc/{}", pid.trim())).exists() {
        assert!(start.elapsed().as_secs() < 10, "dnsmasq {pid} did not exit");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let r = gather(&sb, base.clone());
    expect(
        &r,
        &[
            ("nat_rules_missing", &net_subject),
            ("dhcp_not_running", &net_subject),
        ],
    );
    assert_eq!(by_name(&r, "networks", NET)["dhcp_running"], json!(false));

    // libvirt not there: the host's side still comes, with the finding.
    let r = gather(
        &sb,
        json!({"uri": format!("qemu:///system?socket={}/no-such-socket", sb.root), "max_drops": 1_000_000}),
    );
    let subject = format!("libvirt qemu:///system?socket={}/no-such-socket", sb.root);
    // ip_forward is on, the bridges are there; no guest or network checks.
    expect(&r, &[("libvirt_unreachable", &subject)]);
    assert_eq!(r["libvirt"]["reachable"], json!(false));
    assert!(
        r["bridges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["name"] == LAN)
    );
    assert_eq!(r["domains"], json!([]));

    let _ = sh(&["virsh", "destroy", GUEST]);
    let _ = sh(&["virsh", "undefine", GUEST]);
    let _ = sh(&["virsh", "net-destroy", NET]);
    let _ = sh(&["virsh", "net-undefine", NET]);
    remove_links(&sb);
}

#[test]
#[ignore = "needs the sandbox host: make test"]
fn bad_input_is_refused_and_changes_nothing() {
    let sb = rig::sandbox(env!("CARGO_BIN_EXE_kvm_net_facts"));
    for (args, expect) in [
        (json!({"state": "present"}), "Unsupported parameters"),
        (json!({"ignore": ["no_such_check"]}), "ignore"),
        (json!({"max_drops": "lots"}), "max_drops"),
    ] {
        sb.refused_with(args, expect, || snapshot(&sb));
    }
}
