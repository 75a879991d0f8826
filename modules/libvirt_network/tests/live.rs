//! libvirt_network against a real libvirtd: the sandbox host of
//! tests/rig/sandbox.sh (a private libvirtd in a network namespace).
//!
//! These tests are `#[ignore]`d for a plain `cargo test`; `make test` brings
//! the sandbox up and runs them with `-- --ignored`. Run without the
//! sandbox, they fail and say so: they never pass silently.
//!
//! Every scenario goes through [`converge`]: a check-mode run that must
//! report a change and leave the host byte-for-byte as it was, a real run,
//! then a second real run and a check-mode run that must both be unchanged.

use kvmnet_core::testing::sandbox::{self as rig, Sandbox, sh, virsh};
use kvmnet_core::testing::{assert_same, configuration_only};
use serde_json::{Value, json};

fn sandbox() -> Sandbox {
    rig::sandbox(env!("CARGO_BIN_EXE_libvirt_network"))
}

/// What the libvirt_network tests look at in the sandbox.
trait Networks {
    fn snapshot(&self) -> String;
    fn converge(&self, args: Value) -> Value;
    fn refused(&self, args: Value, expect: &str) -> Value;
    fn remove(&self, name: &str);
    fn live_xml(&self, name: &str) -> String;
    fn bridge_ifindex(&self, network: &str) -> String;
    fn dnsmasq_file(&self, file: &str) -> String;
    fn resolve(&self, name: &str, server: &str) -> String;
}

impl Networks for Sandbox {
    /// Everything a run could change: every network's persistent and live
    /// XML and autostart, the namespace's links and addresses, its firewall
    /// ruleset, dnsmasq's files.
    fn snapshot(&self) -> String {
        let mut s = String::new();
        for net in virsh(&["net-list", "--all", "--name"]).split_whitespace() {
            s += &virsh(&["net-dumpxml", "--inactive", net]);
            s += &virsh(&["net-dumpxml", net]);
            s += &virsh(&["net-info", net]);
        }
        let ns = |cmd: &[&str]| self.ns(cmd);
        s += &configuration_only(&ns(&["ip", "-d", "link", "show"]));
        s += &configuration_only(&ns(&["ip", "addr", "show"]));
        // -s: without counters, which guests' traffic moves.
        s += &ns(&["nft", "-s", "list", "ruleset"]);
        let dir = format!("{}/var/lib/libvirt/dnsmasq", self.root);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
            files.sort();
            for f in files {
                s += &format!(
                    "== {}\n{}",
                    f.display(),
                    std::fs::read_to_string(&f).unwrap_or_default()
                );
            }
        }
        s
    }

    /// Check mode, apply, second run, check mode again. Returns the applied
    /// run's result.
    fn converge(&self, args: Value) -> Value {
        self.converge_with(args, || self.snapshot())
    }

    /// A run that must fail with `expect` in its message and change nothing.
    fn refused(&self, args: Value, expect: &str) -> Value {
        let v = self.refused_with(args, expect, || self.snapshot());
        assert_eq!(v["changed"], json!(false), "{v}");
        v
    }

    fn remove(&self, name: &str) {
        self.ok(json!({"name": name, "state": "absent"}));
    }

    fn live_xml(&self, name: &str) -> String {
        virsh(&["net-dumpxml", name])
    }

    /// The kernel's index of a running network's bridge: it changes when
    /// the bridge is deleted and made again.
    fn bridge_ifindex(&self, network: &str) -> String {
        let xml = self.live_xml(network);
        let bridge = xml
            .split("<bridge name='")
            .nth(1)
            .unwrap()
            .split('\'')
            .next()
            .unwrap();
        let out = sh(&["ip", "-n", &self.ns, "-o", "link", "show", bridge]).unwrap();
        out.split(':').next().unwrap().to_string()
    }

    fn dnsmasq_file(&self, file: &str) -> String {
        let path = format!("{}/var/lib/libvirt/dnsmasq/{file}", self.root);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Ask the network's dnsmasq for `name`'s A record, over real DNS from
    /// inside the namespace: the address, or "no answer".
    fn resolve(&self, name: &str, server: &str) -> String {
        const QUERY: &str = r#"
import socket, struct, sys
name, server = sys.argv[1], sys.argv[2]
q = struct.pack(">HHHHHH", 0x4b56, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
q += struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(q, (server, 53))
r = s.recv(512)
answers = struct.unpack(">H", r[6:8])[0]
print(socket.inet_ntoa(r[-4:]) if answers else "no answer")
"#;
        sh(&[
            "ip", "netns", "exec", &self.ns, "python3", "-c", QUERY, name, server,
        ])
        .unwrap_or_else(|e| panic!("{e}"))
        .trim()
        .to_string()
    }
}

fn nat(name: &str, third_octet: u8) -> Value {
    json!({
        "name": name,
        "forward": {"mode": "nat"},
        "ips": [{"address": format!("10.77.{third_octet}.1"), "prefix": 24,
                 "dhcp": {"ranges": [{"start": format!("10.77.{third_octet}.100"), "end": format!("10.77.{third_octet}.199")}]}}],
    })
}

#[test]
#[ignore = "needs the sandbox host: make test"]
fn every_forward_mode_converges() {
    let sb = sandbox();
    let cases = [
        nat("t-nat", 1),
        json!({"name": "t-route", "forward": {"mode": "route", "dev": "eth-up0"}, "ips": [{"address": "10.77.2.1", "prefix": 24}],
               "routes": [{"address": "10.78.0.0", "prefix": 16, "gateway": "10.77.2.2"}]}),
        json!({"name": "t-open", "forward": {"mode": "open"}, "ips": [{"address": "10.77.3.1", "prefix": 24}],
               "dns": {"enable": false}}),
        json!({"name": "t-isolated", "bridge": {"name": "virbr-t-iso"}, "ips": [{"address": "10.77.4.1", "prefix": 24}], "mtu": 9000,
               "domain": {"name": "lab.test", "local_only": true}, "dns": {"forward_plain_names": false}}),
        json!({"name": "t-hostbr", "forward": {"mode": "bridge"}, "bridge": {"name": "br-host"}}),
        json!({"name": "t-mv-bridge", "forward": {"mode": "bridge", "interfaces": ["eth-up0", "veth-lan1"]}}),
        json!({"name": "t-mv-private", "forward": {"mode": "private", "dev": "eth-up0"}}),
        json!({"name": "t-mv-vepa", "forward": {"mode": "vepa", "interfaces": ["eth-up0"]}}),
        json!({"name": "t-mv-pt", "forward": {"mode": "passthrough", "interfaces": ["eth-up0"]},
               "portgroups": [{"name": "tagged", "vlan": {"tags": [{"id": 42}]}}]}),
        // Every NAT and bridge option at once.
        json!({"name": "t-nat-full", "forward": {"mode": "nat", "dev": "eth-up0",
                   "nat": {"addresses": {"start": "203.0.113.10", "end": "203.0.113.20"}, "ports": {"start": 20000, "end": 30000}}},
               "bridge": {"name": "virbr-t-full", "stp": false, "delay": 2}, "mac": "52:54:00:77:70:01",
               "ips": [{"address": "10.77.70.1", "prefix": 24, "dhcp": {"ranges": [{"start": "10.77.70.100", "end": "10.77.70.150"}],
                        "bootp": {"file": "pxelinux.0"}}}]}),
    ];
    // What libvirt must hold for the options above, beyond the mode.
    let holds: &[(&str, &[&str])] = &[
        ("t-mv-pt", &["<portgroup name='tagged'>", "<tag id='42'/>"]),
        ("t-open", &["<dns enable='no'"]),
        (
            "t-nat-full",
            &[
                "<address start='203.0.113.10' end='203.0.113.20'/>",
                "<port start='20000' end='30000'/>",
                "<bridge name='virbr-t-full' stp='off' delay='2'/>",
                "<mac address='52:54:00:77:70:01'/>",
                "<bootp file='pxelinux.0'/>",
                "dev='eth-up0'",
            ],
        ),
        (
            "t-isolated",
            &[
                "<mtu size='9000'/>",
                "<domain name='lab.test' localOnly='yes'/>",
                "forwardPlainNames='no'",
            ],
        ),
        (
            "t-route",
            &["<route address='10.78.0.0' prefix='16' gateway='10.77.2.2'/>"],
        ),
    ];
    for args in cases {
        let name = args["name"].as_str().unwrap().to_string();
        let r = sb.converge(args.clone());
        let defined = virsh(&["net-dumpxml", "--inactive", &name]);
        for (_, wants) in holds.iter().filter(|(n, _)| *n == name) {
            for want in *wants {
                assert!(defined.contains(want), "{name} lacks {want}: {defined}");
            }
        }
        let want_active = args.get("active") != Some(&json!(false));
        assert_eq!(r["active"], json!(want_active), "{name}: {r}");
        let inactive = virsh(&["net-dumpxml", "--inactive", &name]);
        let mode = args["forward"]["mode"].as_str();
        match mode {
            Some(m) => assert!(
                inactive.contains(&format!("mode='{m}'")),
                "{name}: {inactive}"
            ),
            None => assert!(
                !inactive.contains("<forward"),
                "{name} is isolated: {inactive}"
            ),
        }
        let list = virsh(&["net-list", "--all"]);
        let line = list
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name.as_str()))
            .unwrap();
        assert!(
            line.contains(if want_active { "active" } else { "inactive" }),
            "{line}"
        );
        sb.remove(&name);
        assert!(
            !virsh(&["net-list", "--all", "--name"])
                .split_whitespace()
                .any(|n| n == name)
        );
    }
    // A hostdev pool needs SR-IOV virtual functions, which this host has
    // not (the guest rig does): libvirt refuses at define, and the module
    // reports libvirt's words and leaves nothing behind.
    let hostdev = json!({"name": "t-hostdev", "forward": {"mode": "hostdev", "managed": true,
        "addresses": ["0000:02:10.0", "0000:02:10.1"]}});
    let v = sb.refused(hostdev, "is not an SR-IOV Virtual Function");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("nothing had been changed"),
        "{v}"
    );
}

#[test]
#[ignore = "needs the sandbox host: make test"]
fn dhcp_and_dns_edits_are_applied_live_without_restart() {
    let sb = sandbox();
    let mut args = nat("t-live", 10);
    args["autostart"] = json!(true);
    sb.converge(args.clone());
    let bridge_index = sb.bridge_ifindex("t-live");
    assert_eq!(sb.resolve("db1", "10.77.10.1"), "no answer");

    args["ips"][0]["dhcp"]["hosts"] =
        json!([{"mac": "52:54:00:77:10:01", "name": "web1", "ip": "10.77.10.50"}]);
    args["ips"][0]["dhcp"]["ranges"] = json!([
        {"start": "10.77.10.100", "end": "10.77.10.199"},
        {"start": "10.77.10.210", "end": "10.77.10.220"}
    ]);
    args["dns"] = json!({
        "hosts": [{"ip": "10.77.10.60", "hostnames": ["db1"]}],
        "txt": [{"name": "lab", "value": "kvmnet"}],
        "srv": [{"service": "ldap", "protocol": "tcp", "target": "db1", "port": 389}]
    });
    args["portgroups"] =
        json!([{"name": "web", "default": true, "bandwidth": {"inbound": {"average": 1000}}}]);
    let r = sb.converge(args.clone());
    for a in r["actions"].as_array().unwrap() {
        let a = a.as_str().unwrap();
        assert!(
            a.contains("(live and config)"),
            "every step live and config: {a}"
        );
    }
    // dnsmasq serves the new records; the bridge was not recreated.
    assert_eq!(
        sb.resolve("db1", "10.77.10.1"),
        "10.77.10.60",
        "dnsmasq answers for the new DNS host"
    );
    let hostsfile = sb.dnsmasq_file("t-live.hostsfile");
    assert!(
        hostsfile.contains("52:54:00:77:10:01,10.77.10.50,web1"),
        "{hostsfile}"
    );
    assert_eq!(
        sb.bridge_ifindex("t-live"),
        bridge_index,
        "the bridge was recreated"
    );
    let live = sb.live_xml("t-live");
    assert!(
        live.contains("10.77.10.210") && live.contains("portgroup name='web'"),
        "{live}"
    );
    let inactive = virsh(&["net-dumpxml", "--inactive", "t-live"]);
    for want in ["web1", "db1", "10.77.10.210", "portgroup name='web'"] {
        assert!(
            inactive.contains(want),
            "definition lacks {want}: {inactive}"
        );
    }

    // Replacing a DHCP host is live too, and dnsmasq is only told, not
    // restarted (a range edit does restart it: libvirt's own choice).
    let pid_file = format!("{}/run/libvirt/network/t-live.pid", sb.root);
    let dnsmasq_pid = std::fs::read_to_string(&pid_file).unwrap();
    args["ips"][0]["dhcp"]["hosts"] =
        json!([{"mac": "52:54:00:77:10:02", "name": "web2", "ip": "10.77.10.51"}]);
    args["dns"]["hosts"] = json!([{"ip": "10.77.10.61", "hostnames": ["db1"]}]);
    sb.converge(args.clone());
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        dnsmasq_pid,
        "dnsmasq was restarted"
    );
    let hostsfile = sb.dnsmasq_file("t-live.hostsfile");
    assert!(
        hostsfile.contains("web2") && !hostsfile.contains("web1"),
        "{hostsfile}"
    );
    assert_eq!(sb.resolve("db1", "10.77.10.1"), "10.77.10.61");
    assert_eq!(
        sb.bridge_ifindex("t-live"),
        bridge_index,
        "the bridge was recreated"
    );
    sb.remove("t-live");
}

#[test]
#[ignore = "needs the sandbox host: make test"]
fn restart_is_refused_unless_allowed_and_guests_are_plugged_back() {
    let sb = sandbox();
    let args = nat("t-restart", 20);
    sb.converge(args.clone());
    let guest = "t-guest";
    let rig = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/rig/sandbox.sh");
    sh(&[rig, "guest", guest, "t-restart"]).unwrap_or_else(|e| panic!("{e}"));
    let domxml = virsh(&["dumpxml", guest]);
    let tap = domxml
        .split("<target dev='")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_string();
    let master = |tap: &str| {
        let out = sh(&["ip", "-n", &sb.ns, "-o", "link", "show", tap]).unwrap();
        out.split(" master ")
            .nth(1)
            .map(|s| s.split_whitespace().next().unwrap().to_string())
    };
    let bridge = master(&tap).expect("the guest's tap is on the network's bridge");

    let mut moved = args.clone();
    moved["ips"] = json!([{"address": "10.77.21.1", "prefix": 24}]);
    sb.refused(moved.clone(), "needs it redefined and restarted");

    moved["allow_restart"] = json!(true);
    let r = sb.converge(moved.clone());
    assert!(
        r["actions"]
            .to_string()
            .contains("restart network t-restart"),
        "{r}"
    );
    assert_eq!(
        master(&tap),
        Some(bridge.clone()),
        "the guest's NIC is back on {bridge}"
    );
    let state = virsh(&["domstate", guest]);
    assert!(state.contains("running"), "{state}");
    assert!(sb.live_xml("t-restart").contains("10.77.21.1"));

    // A restart libvirt fails halfway (the new subnet clashes with another
    // running network): the old definition is put back, the network runs
    // again and the guest is plugged back in.
    sb.converge(nat("t-clash", 22));
    let before = sb.snapshot();
    let mut clash = moved.clone();
    clash["ips"] = json!([{"address": "10.77.22.1", "prefix": 24}]);
    let v = sb.module(clash);
    assert_eq!(v["failed"], json!(true), "{v}");
    let msg = v["msg"].as_str().unwrap();
    assert!(
        msg.contains("starting network t-restart") && msg.contains("rolled back"),
        "{msg}"
    );
    assert_eq!(
        master(&tap),
        Some(bridge.clone()),
        "the guest's NIC is back on {bridge} after the rollback"
    );
    let after = sb.snapshot();
    // Only the guest's tap may differ: it was re-plugged, which resets its
    // bridge-port state; the networks are as they were.
    let nets = |s: &str| s.split("1: lo:").next().unwrap_or_default().to_string();
    assert_same(
        &nets(&before),
        &nets(&after),
        "the rollback restored the networks",
    );
    sb.remove("t-clash");

    sh(&[rig, "guest-rm", guest]).unwrap();
    sb.remove("t-restart");
}

#[test]
#[ignore = "needs the sandbox host: make test"]
fn bad_input_is_refused_and_changes_nothing() {
    let sb = sandbox();
    sb.converge(nat("t-bad", 30));
    let mut cases = vec![
        (
            json!({"name": "t-bad", "forwrd": {"mode": "nat"}}),
            "Unsupported parameters for (libvirt_network) module: forwrd",
        ),
        (
            json!({"name": "t-bad", "forward": {"mode": "nat"}, "ips": [{"address": "10.77.300.1", "prefix": 24}]}),
            "is not an IP address",
        ),
        (
            json!({"name": "t-bad", "forward": {"mode": "nat"}, "ips": [{"address": "10.77.30.1", "prefix": 24,
            "dhcp": {"ranges": [{"start": "10.77.30.10", "end": "10.77.31.10"}]}}]}),
            "is outside the network",
        ),
        (
            json!({"name": "t-bad", "forward": {"mode": "nat", "dev": "nosuchnic0"}, "ips": [{"address": "10.77.30.1", "prefix": 24}]}),
            "the host interface nosuchnic0 does not exist",
        ),
        (
            json!({"name": "t-bad2", "bridge": {"name": "virbr-far-too-long"}}),
            "1 to 15 bytes",
        ),
        (
            json!({"name": "t-bad2", "forward": {"mode": "bridge"}, "bridge": {"name": "nosuchbr"}}),
            "not an existing bridge",
        ),
        (
            json!({"name": "t-bad2", "bridge": {"name": "eth-up0"}, "ips": [{"address": "10.77.31.1", "prefix": 24}]}),
            "already exists",
        ),
        (
            json!({"name": "t-bad", "state": "running"}),
            "value of state must be one of: present, absent, got: running",
        ),
    ];
    // The same refusals in check mode, but for a missing host device an
    // earlier task of the play would make (a VLAN, a bridge): a dry run
    // assumes it, predicts a change with a warning, and changes nothing.
    let later = ["does not exist", "not an existing bridge"];
    for (args, expect) in cases
        .iter()
        .filter(|(_, m)| later.iter().any(|l| m.contains(l)))
    {
        sb.assumed_with(args.clone(), expect, || sb.snapshot());
    }
    let checked: Vec<_> = cases
        .iter()
        .filter(|(_, m)| !later.iter().any(|l| m.contains(l)))
        .map(|(a, m)| {
            let mut a = a.clone();
            a["_ansible_check_mode"] = json!(true);
            (a, *m)
        })
        .collect();
    cases.extend(checked);
    for (args, expect) in cases {
        sb.refused(args, expect);
    }
    // libvirt's own refusal, after kvmnet's checks passed: reported with
    // libvirt's words, nothing left half-done.
    let clash = json!({"name": "t-bad3", "forward": {"mode": "nat"}, "ips": [{"address": "10.77.30.1", "prefix": 24}]});
    let v = sb.refused(clash, "starting network t-bad3");
    let msg = v["msg"].as_str().unwrap();
    assert!(
        msg.contains("rolled back: undefine network t-bad3"),
        "{msg}"
    );
    assert!(!virsh(&["net-list", "--all", "--name"]).contains("t-bad3"));
    sb.remove("t-bad");
}

#[test]
#[ignore = "needs the sandbox host: make test"]
fn other_networks_and_unmanaged_settings_are_left_alone() {
    let sb = sandbox();
    // A bystander defined by hand, with metadata kvmnet does not model.
    let xml = "<network><name>t-bystander</name>\
        <metadata><app:note xmlns:app='http://example.org/app'>keep me</app:note></metadata>\
        <forward mode='nat'/><ip address='10.77.40.1' prefix='24'/></network>";
    let f = std::env::temp_dir().join("kvmnet-bystander.xml");
    std::fs::write(&f, xml).unwrap();
    virsh(&["net-define", f.to_str().unwrap()]);
    virsh(&["net-start", "t-bystander"]);
    let bystander = virsh(&["net-dumpxml", "--inactive", "t-bystander"]);

    sb.converge(nat("t-mine", 41));
    sb.remove("t-mine");
    assert_eq!(
        virsh(&["net-dumpxml", "--inactive", "t-bystander"]),
        bystander
    );

    // Managing it: a live-updatable change keeps the metadata...
    let mut args = json!({"name": "t-bystander", "forward": {"mode": "nat"}, "ips": [{"address": "10.77.40.1", "prefix": 24,
        "dhcp": {"hosts": [{"mac": "52:54:00:77:40:01", "ip": "10.77.40.5"}]}}]});
    sb.converge(args.clone());
    assert!(virsh(&["net-dumpxml", "--inactive", "t-bystander"]).contains("keep me"));
    // ...and one that needs a redefine is refused rather than dropping it.
    args["ips"][0]["prefix"] = json!(25);
    args["allow_restart"] = json!(true);
    sb.refused(args, "settings kvmnet does not manage (network/metadata)");
    virsh(&["net-destroy", "t-bystander"]);
    virsh(&["net-undefine", "t-bystander"]);
}

#[test]
#[ignore = "needs the sandbox host: make test"]
fn active_autostart_and_absent() {
    let sb = sandbox();
    let mut args = nat("t-state", 50);
    args["active"] = json!(false);
    args["autostart"] = json!(true);
    let r = sb.converge(args.clone());
    assert_eq!(
        r["actions"],
        json!([
            "define network t-state",
            "enable autostart of network t-state"
        ])
    );
    args["active"] = json!(true);
    sb.converge(args.clone());
    // A change to a stopped network is a plain redefine, no restart needed.
    args["active"] = json!(false);
    sb.converge(args.clone());
    args["ips"][0]["prefix"] = json!(25);
    args["ips"][0]["dhcp"] = json!(null);
    let r = sb.converge(args.clone());
    assert!(
        r["actions"][0]
            .as_str()
            .unwrap()
            .starts_with("redefine network t-state"),
        "{r}"
    );
    let r = sb.converge(json!({"name": "t-state", "state": "absent"}));
    assert_eq!(r["actions"], json!(["undefine network t-state"]));
    let r = sb.ok(json!({"name": "t-state", "state": "absent"}));
    assert_eq!(r["changed"], json!(false));
}

#[test]
#[ignore = "needs the sandbox host: make test"]
fn uri_option_and_its_default() {
    let sb = sandbox();
    let uri = std::env::var("LIBVIRT_DEFAULT_URI").unwrap();
    let mut args = nat("t-uri", 60);
    args["uri"] = json!(uri);
    let r = sb.module_without_default_uri(args.clone());
    assert_eq!(r["changed"], json!(true), "{r}");
    let r = sb.module_without_default_uri(args);
    assert_eq!(r["changed"], json!(false), "{r}");
    // Neither the option nor the variable: the system instance, which this
    // host does not run; the failure says where it tried.
    let r = sb.module_without_default_uri(json!({"name": "t-uri", "state": "absent"}));
    assert_eq!(r["failed"], json!(true), "{r}");
    assert!(
        r["msg"]
            .as_str()
            .unwrap()
            .starts_with("connecting to libvirt at qemu:///system"),
        "{r}"
    );
    sb.remove("t-uri");
}

#[test]
#[ignore = "needs the sandbox host: make test"]
fn macvtap_pool_interfaces_change_live() {
    let sb = sandbox();
    let pool = |ifaces: Value| json!({"name": "t-pool", "forward": {"mode": "bridge", "interfaces": ifaces}});
    sb.converge(pool(json!(["eth-up0"])));
    let r = sb.converge(pool(json!(["eth-up0", "veth-lan1"])));
    assert_eq!(
        r["actions"],
        json!([
            "update network t-pool: add forward-interface <interface dev='veth-lan1'/> (live and config)"
        ])
    );
    assert!(
        sb.live_xml("t-pool")
            .contains("<interface dev='veth-lan1'/>")
    );
    let r = sb.converge(pool(json!(["eth-up0"])));
    assert_eq!(
        r["actions"],
        json!([
            "update network t-pool: delete forward-interface <interface dev='veth-lan1'/> (live and config)"
        ])
    );
    sb.refused(
        pool(json!(["eth-up0", "nosuchnic1"])),
        "the host interface nosuchnic1 does not exist",
    );
    sb.remove("t-pool");
}
