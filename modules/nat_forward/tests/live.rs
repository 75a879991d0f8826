//! nat_forward on the sandbox host (tests/rig/sandbox.sh: libvirt 9 in a
//! network namespace, iptables backend), with real traffic: a "guest"
//! namespace on the NAT network's bridge serves HTTP, a client namespace
//! reaches it through the forwarded host port, a second guest namespace
//! tries the hairpin. Every scenario goes through `converge` (check mode
//! predicts and leaves iptables, nft, the hook files and ip_forward as
//! they were; apply; second run and check run unchanged).
//!
//! `#[ignore]`d for a plain `cargo test`; `make test` runs them.

use kvmnet_core::testing::assert_same;
use kvmnet_core::testing::sandbox::{self as rig, Sandbox, sh, virsh};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NET: &str = "t-nf";
const BRIDGE: &str = "virbr-t-nf";
const GUEST_IP: &str = "10.95.0.50";
/// The host's address as the client sees it.
const HOST_IP: &str = "10.96.0.1";

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The sandbox with network t-nf, the namespaces and a web server in the
/// guest namespace. Dropped: server stopped, namespaces, forwards, hook
/// files and the network removed.
struct Lan {
    sb: Sandbox,
    server: Child,
}

impl Lan {
    fn ns(&self, role: &str) -> String {
        format!("{}-nf{role}", self.sb.ns)
    }

    fn root(&self) -> &str {
        &self.sb.root
    }
}

fn netns(ns: &str, cmd: &str) -> Result<String, String> {
    sh(&["ip", "netns", "exec", ns, "sh", "-ec", cmd])
}

fn lan() -> Lan {
    let sb = rig::sandbox(env!("CARGO_BIN_EXE_nat_forward"));
    let name = |role: &str| format!("{}-nf{role}", sb.ns);
    for role in ["g", "p", "c"] {
        let _ = sh(&["ip", "netns", "del", &name(role)]);
    }
    cleanup(&sb);
    let xml = format!(
        "<network><name>{NET}</name><forward mode='nat'/><bridge name='{BRIDGE}'/><ip address='10.95.0.1' netmask='255.255.255.0'><dhcp><range start='10.95.0.100' end='10.95.0.200'/></dhcp></ip></network>"
    );
    let file = format!("{}/t-nf.xml", sb.root);
    std::fs::write(&file, xml).unwrap();
    virsh(&["net-define", &file]);
    virsh(&["net-start", NET]);
    // Guest (server) and peer guest on the bridge; the client on a link
    // of its own to the host.
    for (role, addr, gw) in [
        ("g", "10.95.0.50/24", "10.95.0.1"),
        ("p", "10.95.0.51/24", "10.95.0.1"),
        ("c", "10.96.0.2/24", HOST_IP),
    ] {
        let ns = name(role);
        sh(&["ip", "netns", "add", &ns]).unwrap();
        let host_end = format!("nf{role}0");
        sb.ns(&[
            "ip", "link", "add", &host_end, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ]);
        netns(
            &ns,
            &format!("ip addr add {addr} dev eth0; ip link set eth0 up; ip link set lo up; ip route add default via {gw}"),
        )
        .unwrap();
    }
    sb.ns(&["ip", "addr", "add", &format!("{HOST_IP}/24"), "dev", "nfc0"]);
    sb.ns(&["ip", "link", "set", "nfc0", "up"]);
    plug(&sb);
    let www = format!("{}/www", sb.root);
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(format!("{www}/index.html"), "hello from the guest\n").unwrap();
    let server = Command::new("ip")
        .args([
            "netns",
            "exec",
            &name("g"),
            "python3",
            "-m",
            "http.server",
            "80",
        ])
        .args(["--bind", GUEST_IP, "--directory", &www])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lan = Lan { sb, server };
    let start = Instant::now();
    while fetch_once(&lan.sb.ns, &format!("http://{GUEST_IP}/")).is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the guest's web server did not come up"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    lan
}

/// The guest namespaces' ends on the bridge (again after a network
/// restart made a new bridge), waited for until they forward: libvirt's
/// bridges run STP, a new port listens and learns first.
fn plug(sb: &Sandbox) {
    for port in ["nfg0", "nfp0"] {
        sb.ns(&["ip", "link", "set", port, "master", BRIDGE, "up"]);
    }
    let start = Instant::now();
    loop {
        let states = sb.ns(&["bridge", "link", "show"]);
        let forwarding = ["nfg0", "nfp0"].iter().all(|p| {
            states
                .lines()
                .any(|l| l.contains(&format!(" {p}@")) && l.contains("state forwarding"))
        });
        if forwarding {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "ports not forwarding: {states}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Forwards, saved copies and hooks of earlier runs.
fn cleanup(sb: &Sandbox) {
    for name in ["t-web", "t-web2", "t-rtp", "t-dom"] {
        let _ = sb.module(json!({"name": name, "state": "absent", "root_dir": sb.root}));
    }
    let _ = sh(&["virsh", "net-destroy", NET]);
    let _ = sh(&["virsh", "net-undefine", NET]);
}

impl Drop for Lan {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        for role in ["g", "p", "c"] {
            let _ = sh(&["ip", "netns", "del", &self.ns(role)]);
        }
        let _ = sh(&[
            "ip",
            "netns",
            "exec",
            &self.sb.ns,
            "ip",
            "link",
            "del",
            "nfc0",
        ]);
        cleanup(&self.sb);
    }
}

/// One HTTP GET from a namespace, 2 s at most.
fn fetch_once(ns: &str, url: &str) -> Option<String> {
    let py = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode(), end='')";
    sh(&["ip", "netns", "exec", ns, "python3", "-c", py, url]).ok()
}

/// The page, or a panic saying from where it could not be had. Three
/// tries: a first SYN can meet a neighbour entry still resolving.
fn reaches(ns: &str, url: &str) {
    for _ in 0..3 {
        if let Some(page) = fetch_once(ns, url) {
            assert_eq!(page, "hello from the guest\n");
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("{ns} does not reach {url}");
}

fn blocked(ns: &str, url: &str) {
    assert!(
        fetch_once(ns, url).is_none(),
        "{ns} reaches {url}, it must not"
    );
}

/// The forwarded port, as the client addresses the host.
fn host_url(port: u16) -> String {
    format!("http://{HOST_IP}:{port}/")
}

/// A datagram from the client to the host's UDP `port`, answered (its
/// bytes reversed) by a one-off echo server in the guest namespace.
fn udp_echo(lan: &Lan, port: u16) -> Option<String> {
    let server = format!(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('{GUEST_IP}', {port}))\nwhile True:\n    d, a = s.recvfrom(100)\n    s.sendto(d[::-1], a)"
    );
    let mut echo = Command::new("ip")
        .args(["netns", "exec", &lan.ns("g"), "python3", "-c", &server])
        .spawn()
        .unwrap();
    let client = format!(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.settimeout(1)\nfor _ in range(5):\n    s.sendto(b'ping', ('{HOST_IP}', {port}))\n    try:\n        print(s.recvfrom(100)[0].decode(), end='')\n        break\n    except socket.timeout:\n        pass"
    );
    let answer = sh(&[
        "ip",
        "netns",
        "exec",
        &lan.ns("c"),
        "python3",
        "-c",
        &client,
    ])
    .ok();
    let _ = echo.kill();
    let _ = echo.wait();
    answer.filter(|a| !a.is_empty())
}

/// Everything a forward may change: iptables and nft (no counters), the
/// hook and saved files under the sandbox root, ip_forward.
fn snapshot(lan: &Lan) -> String {
    let r = lan.root();
    let fw = lan.sb.ns(&[
        "sh",
        "-c",
        "iptables -S -t nat; iptables -S -t filter; nft -s list ruleset; cat /proc/sys/net/ipv4/ip_forward",
    ]);
    let files = sh(&[
        "sh",
        "-c",
        &format!(
            "cd {r} && find etc/libvirt/hooks etc/sysctl.d -mindepth 1 2>/dev/null | sort | while read f; do \
               if [ -L \"$f\" ]; then echo \"$f -> $(readlink \"$f\")\"; elif [ -f \"$f\" ]; then echo \"$f $(sha256sum < \"$f\")\"; else echo \"$f/\"; fi; done"
        ),
    ])
    .unwrap();
    format!("{fw}\n{files}")
}

fn converge(lan: &Lan, args: Value) -> Value {
    lan.sb.converge_with(args, || snapshot(lan))
}

fn task(name: &str, port: u16, extra: Value) -> Value {
    let mut t =
        json!({"name": name, "network": NET, "dest": GUEST_IP, "host_port": port, "dest_port": 80});
    t.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    t
}

/// The iptables rules (libvirt's, ours, anyone's), one per line. (nft's
/// view of them is the same rules without the comments.)
fn iptables_rules(lan: &Lan) -> Vec<String> {
    lan.sb
        .ns(&["sh", "-c", "iptables -S -t nat; iptables -S -t filter"])
        .lines()
        .map(str::to_string)
        .collect()
}

fn tagged_lines(lan: &Lan, tag: &str) -> Vec<String> {
    iptables_rules(lan)
        .into_iter()
        .filter(|l| l.contains(tag))
        .collect()
}

/// The iptables rules without those tagged `tag`.
fn untagged(lan: &Lan, tag: &str) -> String {
    iptables_rules(lan)
        .into_iter()
        .filter(|l| !l.contains(tag))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
#[ignore = "needs the sandbox host (make test)"]
fn forward_carries_traffic_and_comes_back_after_restarts() {
    let lan = lan();
    let client = lan.ns("c");
    blocked(&client, &host_url(8080));

    let t = task(
        "t-web",
        8080,
        json!({"persist": true, "root_dir": lan.root()}),
    );
    let mut check = t.clone();
    check["_ansible_check_mode"] = json!(true);
    let predicted = lan.sb.ok(check);
    assert!(
        predicted["warnings"][0]
            .as_str()
            .unwrap_or_default()
            .contains("libvirt looks for hooks when its daemon starts"),
        "a first hook is announced: {predicted}"
    );
    let done = converge(&lan, t.clone());
    assert_eq!(done["forward"]["backend"], "iptables", "{done}");
    assert_eq!(done["forward"]["bridge"], BRIDGE);
    reaches(&client, &host_url(8080));
    let hooks = format!("{}/etc/libvirt/hooks", lan.root());
    for f in [
        "network.d/kvmnet-nat-forward",
        "qemu.d/kvmnet-nat-forward",
        "kvmnet/nat_forward",
        "kvmnet/forwards/t-web.json",
    ] {
        assert!(Path::new(&hooks).join(f).exists(), "{f} installed");
    }

    // libvirtd restarts (and now knows the hook): the forward still works
    // and the module finds nothing to do.
    sh(&[
        repo().join("tests/rig/sandbox.sh").to_str().unwrap(),
        "restart",
    ])
    .unwrap();
    reaches(&client, &host_url(8080));
    assert_eq!(lan.sb.ok(t.clone())["changed"], json!(false));

    // The rules lost (as after a reboot), then the network restarted: the
    // hook puts them back.
    for line in tagged_lines(&lan, "kvmnet:t-web:") {
        let table = if line.starts_with("-A FORWARD") {
            "filter"
        } else {
            "nat"
        };
        let del = format!("iptables -t {table} {}", line.replacen("-A ", "-D ", 1));
        lan.sb.ns(&["sh", "-c", &del]);
    }
    blocked(&client, &host_url(8080));
    virsh(&["net-destroy", NET]);
    virsh(&["net-start", NET]);
    plug(&lan.sb);
    assert_eq!(
        tagged_lines(&lan, "kvmnet:t-web:").len(),
        2,
        "the hook put both rules back"
    );
    reaches(&client, &host_url(8080));
    assert_eq!(lan.sb.ok(t.clone())["changed"], json!(false));

    // Absent: rules, saved copy and hook gone; libvirt's rules as they were.
    let before = untagged(&lan, "kvmnet");
    converge(
        &lan,
        json!({"name": "t-web", "state": "absent", "root_dir": lan.root()}),
    );
    blocked(&client, &host_url(8080));
    assert!(tagged_lines(&lan, "kvmnet").is_empty());
    assert!(
        !Path::new(&hooks).join("kvmnet").exists(),
        "hook dir removed"
    );
    assert!(
        !Path::new(&hooks)
            .join("network.d/kvmnet-nat-forward")
            .exists()
    );
    assert_same(
        &before,
        &untagged(&lan, "kvmnet"),
        "libvirt's rules changed",
    );
}

#[test]
#[ignore = "needs the sandbox host (make test)"]
fn hairpin_sources_and_ip_forward() {
    let lan = lan();
    let (client, peer, sandbox) = (lan.ns("c"), lan.ns("p"), lan.sb.ns.clone());
    let via_bridge = "http://10.95.0.1:8080/";

    converge(
        &lan,
        task(
            "t-web",
            8080,
            json!({"hairpin": true, "source": ["10.96.0.0/24"]}),
        ),
    );
    reaches(&client, &host_url(8080));
    reaches(&peer, via_bridge);
    reaches(&peer, &host_url(8080));
    reaches(&sandbox, &host_url(8080));

    // Other clients only, no hairpin: nobody here gets through.
    converge(
        &lan,
        task(
            "t-web",
            8080,
            json!({"source": ["192.0.2.0/24", "198.51.100.7"]}),
        ),
    );
    blocked(&client, &host_url(8080));
    blocked(&peer, via_bridge);
    blocked(&sandbox, &host_url(8080));

    // IPv4 forwarding off (libvirt turned it on): the task turns it on,
    // now and in sysctl.d.
    converge(&lan, task("t-web", 8080, json!({})));
    lan.sb.ns(&["sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    blocked(&client, &host_url(8080));
    let done = converge(
        &lan,
        task(
            "t-web",
            8080,
            json!({"ip_forward": true, "root_dir": lan.root()}),
        ),
    );
    assert!(
        done["actions"].to_string().contains("net.ipv4.ip_forward"),
        "{done}"
    );
    assert_eq!(
        std::fs::read_to_string(format!(
            "{}/etc/sysctl.d/60-kvmnet-ip-forward.conf",
            lan.root()
        ))
        .unwrap(),
        "net.ipv4.ip_forward = 1\n"
    );
    reaches(&client, &host_url(8080));
    let _ = std::fs::remove_file(format!(
        "{}/etc/sysctl.d/60-kvmnet-ip-forward.conf",
        lan.root()
    ));
}

/// Someone else's rule in iptables' PREROUTING (`-A` adds, `-D` deletes).
fn foreign_rule(lan: &Lan, op: &str) {
    lan.sb.ns(&[
        "iptables",
        "-t",
        "nat",
        op,
        "PREROUTING",
        "-p",
        "tcp",
        "--dport",
        "9999",
        "-m",
        "comment",
        "--comment",
        "someone else",
        "-j",
        "ACCEPT",
    ]);
}

#[test]
#[ignore = "needs the sandbox host (make test)"]
fn removing_one_forward_leaves_the_others_and_foreign_rules() {
    let lan = lan();
    let client = lan.ns("c");
    foreign_rule(&lan, "-A");
    converge(&lan, task("t-web", 8080, json!({})));
    converge(&lan, task("t-web2", 8081, json!({})));
    assert_eq!(udp_echo(&lan, 10005), None, "no UDP forward yet");
    converge(
        &lan,
        json!({"name": "t-rtp", "network": NET, "dest": GUEST_IP, "protocol": "udp", "host_port": "10000-10100"}),
    );
    reaches(&client, &host_url(8080));
    reaches(&client, &host_url(8081));
    assert_eq!(
        udp_echo(&lan, 10005).as_deref(),
        Some("gnip"),
        "UDP through the range"
    );

    // A changed task replaces exactly its own rules.
    let moved = converge(&lan, task("t-web", 8082, json!({})));
    assert!(
        moved["actions"]
            .to_string()
            .contains("remove from iptables -t nat PREROUTING"),
        "{moved}"
    );
    blocked(&client, &host_url(8080));
    reaches(&client, &host_url(8082));

    let before = untagged(&lan, "kvmnet:t-web:");
    converge(&lan, json!({"name": "t-web", "state": "absent"}));
    assert_same(
        &before,
        &untagged(&lan, "kvmnet:t-web:"),
        "removing t-web touched other rules",
    );
    blocked(&client, &host_url(8082));
    reaches(&client, &host_url(8081));
    assert!(snapshot(&lan).contains("someone else"));
    foreign_rule(&lan, "-D");
}

#[test]
#[ignore = "needs the sandbox host (make test)"]
fn a_guest_by_domain_name() {
    let lan = lan();
    let sandbox_sh = repo().join("tests/rig/sandbox.sh");
    sh(&[sandbox_sh.to_str().unwrap(), "guest", "t-nf-dom", NET]).unwrap();
    let t = json!({"name": "t-dom", "network": NET, "domain": "t-nf-dom", "host_port": 8090, "dest_port": 80});
    // The firmware-only guest asks for no lease: no address yet.
    lan.sb.refused_with(
        t.clone(),
        "domain t-nf-dom has no IPv4 address on network t-nf yet",
        || snapshot(&lan),
    );
    // A DHCP client with the guest's MAC (standing in for the guest's OS)
    // gets a lease from the network's dnsmasq; libvirt then reports it as
    // the domain's address.
    let mac = virsh(&["domiflist", "t-nf-dom"])
        .split_whitespace()
        .find(|w| w.matches(':').count() == 5)
        .expect("a MAC in domiflist")
        .to_string();
    let ns = lan.ns("d");
    let _ = sh(&["ip", "netns", "del", &ns]);
    sh(&["ip", "netns", "add", &ns]).unwrap();
    lan.sb.ns(&[
        "ip", "link", "add", "nfd0", "type", "veth", "peer", "name", "eth0", "netns", &ns,
    ]);
    netns(
        &ns,
        &format!("ip link set eth0 address {mac}; ip link set eth0 up"),
    )
    .unwrap();
    lan.sb
        .ns(&["ip", "link", "set", "nfd0", "master", BRIDGE, "up"]);
    let lease = (0..10)
        .find_map(|_| {
            let out = netns(
                &ns,
                "busybox udhcpc -i eth0 -n -q -f -t 3 -T 1 -s /bin/true 2>&1",
            )
            .ok()?;
            let ip = out
                .split("lease of ")
                .nth(1)?
                .split_whitespace()
                .next()?
                .to_string();
            Some(ip)
        })
        .expect("a DHCP lease from libvirt's dnsmasq");
    let done = converge(&lan, t);
    assert_eq!(done["forward"]["dest"], json!(lease), "{done}");
    let _ = sh(&["ip", "netns", "del", &ns]);
    let _ = sh(&[sandbox_sh.to_str().unwrap(), "guest-rm", "t-nf-dom"]);
}

#[test]
#[ignore = "needs the sandbox host (make test)"]
fn bad_input_changes_nothing() {
    let lan = lan();
    let off = format!("{}/t-nf-off.xml", lan.root());
    std::fs::write(&off, "<network><name>t-nf-off</name><forward mode='nat'/><bridge name='virbr-t-nf-off'/><ip address='10.97.0.1' prefix='24'/></network>").unwrap();
    virsh(&["net-define", &off]);
    let iso = format!("{}/t-nf-iso.xml", lan.root());
    std::fs::write(&iso, "<network><name>t-nf-iso</name><bridge name='virbr-t-nf-iso'/><ip address='10.98.0.1' prefix='24'/></network>").unwrap();
    virsh(&["net-define", &iso]);
    virsh(&["net-start", "t-nf-iso"]);
    let cases = [
        (
            json!({"network": "t-nf-nope"}),
            "network t-nf-nope does not exist",
        ),
        (
            json!({"network": "t-nf-off", "dest": "10.97.0.5"}),
            "network t-nf-off is not active",
        ),
        (
            json!({"network": "t-nf-iso", "dest": "10.98.0.5"}),
            "isolated",
        ),
        (
            json!({"dest": "10.0.0.5"}),
            "is not a guest address in network t-nf's subnet 10.95.0.0/24",
        ),
        (json!({"host_port": 0}), "host_port: '0' is not a port"),
        (
            json!({"host_port": 65536}),
            "host_port: '65536' is not a port",
        ),
        (
            json!({"source": ["10.96.0.0/33"]}),
            "is not an IPv4 address or CIDR",
        ),
        (
            json!({"backend": "nftables"}),
            "libvirt keeps network t-nf's rules in iptables",
        ),
        (
            json!({"dest": null, "domain": "t-nf-nobody"}),
            "domain t-nf-nobody does not exist",
        ),
        (json!({"hairpin": "sometimes"}), "hairpin"),
    ];
    for (extra, expect) in cases {
        let mut t = task(
            "t-web",
            8080,
            json!({"persist": true, "ip_forward": true, "root_dir": lan.root()}),
        );
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                t.as_object_mut().unwrap().remove(k);
            } else {
                t[k] = v.clone();
            }
        }
        lan.sb.refused_with(t, expect, || snapshot(&lan));
    }
    // A dry run of a play whose earlier task makes the network: a change
    // it cannot detail, with a warning, and still nothing touched.
    for net in ["t-nf-nope", "t-nf-off"] {
        let t = task(
            "t-web",
            8080,
            json!({"network": net, "dest": "10.97.0.5", "persist": true, "root_dir": lan.root()}),
        );
        lan.sb
            .assumed_with(t, &format!("network {net} "), || snapshot(&lan));
    }
    for n in ["t-nf-off", "t-nf-iso"] {
        let _ = sh(&["virsh", "net-destroy", n]);
        virsh(&["net-undefine", n]);
    }
}
