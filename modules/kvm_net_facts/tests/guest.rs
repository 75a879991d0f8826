//! kvm_net_facts in the guest VM (tests/rig/guest): what the host kernel
//! lacks, for real — a bond, a VLAN on it, a bridge on the VLAN, SR-IOV
//! VFs on an igb NIC — beside libvirt 11 with its nftables firewall, a
//! NAT network with a running domain, and a port forward of nat_forward's.
//! The facts must be what was built, the findings exactly the deliberate
//! ones, and a run (also in check mode) must change nothing.
//!
//! `#[ignore]`d for a plain `cargo test`; `make test` boots the guest.

use kvmnet_core::testing::guest::{self, Guest, assert_same};
use serde_json::{Value, json};

mod common;
use common::{by_name, expect_about};

const SETUP: &str = r#"
set -e
cp -n /etc/libvirt/network.conf /etc/libvirt/network.conf.kvmnet-orig
echo 'firewall_backend = "nftables"' > /etc/libvirt/network.conf
systemctl restart libvirtd
cat > /tmp/t-kfn.xml <<'XML'
<network><name>t-kfn</name><forward mode='nat'/><bridge name='virbr-t-kfn' stp='off'/><ip address='10.97.0.1' prefix='24'><dhcp><range start='10.97.0.10' end='10.97.0.99'/></dhcp></ip></network>
XML
virsh -q net-define /tmp/t-kfn.xml && virsh -q net-start t-kfn
cat > /tmp/t-kfd.xml <<'XML'
<domain type='qemu'><name>t-kfd</name><memory unit='MiB'>32</memory><os><type arch='x86_64' machine='pc'>hvm</type><bios rebootTimeout='-1'/></os><devices><controller type='usb' model='none'/><interface type='network'><mac address='52:54:00:4b:47:01'/><source network='t-kfn'/><model type='virtio'/><rom enabled='no'/></interface><video><model type='none'/></video><memballoon model='none'/></devices></domain>
XML
virsh -q define /tmp/t-kfd.xml && virsh -q start t-kfd
ip link add t-kfb0 type bond mode active-backup miimon 100
for m in enp0s3 enp0s4; do ip link set $m down; ip link set $m master t-kfb0; done
ip link add link t-kfb0 name t-kfb0.10 type vlan id 10
ip link add t-kfbr10 type bridge stp_state 1 forward_delay 1500
ip link set t-kfb0.10 master t-kfbr10
for l in t-kfb0 t-kfb0.10 t-kfbr10 enp1s0; do ip link set $l up; done
echo 2 > /sys/class/net/enp1s0/device/sriov_numvfs
udevadm settle
"#;

const CLEANUP: &str = r#"
/root/kvmnet/nat_forward /dev/stdin <<'JSON' >/dev/null 2>&1
{"name": "t-kf", "state": "absent"}
JSON
virsh -q destroy t-kfd 2>/dev/null; virsh -q undefine t-kfd 2>/dev/null
virsh -q net-destroy t-kfn 2>/dev/null; virsh -q net-undefine t-kfn 2>/dev/null
for l in t-kfbr10 t-kfb0.10 t-kfb0; do ip link del $l 2>/dev/null; done
echo 0 > /sys/class/net/enp1s0/device/sriov_numvfs
ip link set enp1s0 down
sysctl -qw net.ipv4.ip_forward=0
if [ -f /etc/libvirt/network.conf.kvmnet-orig ]; then mv /etc/libvirt/network.conf.kvmnet-orig /etc/libvirt/network.conf; systemctl restart libvirtd; fi
true
"#;

/// What a run must not change: links (settings, as the guest rig's
/// snapshot keeps them), the nft ruleset (without counters), ip_forward,
/// libvirt's definitions.
fn snapshot(g: &Guest) -> String {
    g.snapshot()
        + &g.ssh(
            "nft -s list ruleset; cat /proc/sys/net/ipv4/ip_forward; \
             virsh dumpxml t-kfd 2>&1; virsh net-dumpxml t-kfn 2>&1; true",
        )
}

fn gather(g: &Guest, args: Value) -> Value {
    let before = snapshot(g);
    let mut check = args.clone();
    check["_ansible_check_mode"] = json!(true);
    let dry = g.ok(&check);
    let real = g.ok(&args);
    assert_same(&before, &snapshot(g), "kvm_net_facts changed the guest");
    for r in [&dry, &real] {
        assert_eq!(r["changed"], json!(false), "{r}");
    }
    assert_eq!(dry["findings"], real["findings"]);
    assert_eq!(
        real["ansible_facts"]["kvmnet"]["findings"],
        real["findings"]
    );
    real
}

/// `chain rule` of each nftables rule in a firewall list.
fn nft_rules(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .filter(|x| x["firewall"] == "nftables")
        .map(|x| {
            format!(
                "{} {}",
                x["chain"].as_str().unwrap(),
                x["rule"].as_str().unwrap()
            )
        })
        .collect()
}

/// The findings about the test's own objects (and the host's
/// ip_forward) are exactly `want`: what an earlier run (a Molecule
/// scenario's bridges and guests) left in the guest is not this test's.
fn expect(r: &Value, want: &[(&str, &str)]) {
    expect_about(r, |s| s == "host" || s.contains("t-kf"), want);
}

#[test]
#[ignore = "needs the guest VM: make test"]
fn bonds_vlans_vfs_and_libvirts_nftables() {
    let mut g = guest::guest(&guest::sibling_binary("nat_forward"), CLEANUP);
    g.install(&guest::sibling_binary("nat_forward"));
    g.ssh(SETUP);
    g.ok(&json!({"name": "t-kf", "network": "t-kfn", "dest": "10.97.0.50", "host_port": 8080, "dest_port": 80}));
    g.install(env!("CARGO_BIN_EXE_kvm_net_facts"));

    let nic = "domain t-kfd, NIC 52:54:00:4b:47:01";
    let r = gather(&g, json!({}));
    // Deliberate: STP with a 15 s delay on a bridge with one uplink; and
    // the domain sits in its firmware, so it has no address.
    expect(
        &r,
        &[
            ("stp_forward_delay", "bridge t-kfbr10"),
            ("guest_without_ip", nic),
        ],
    );

    let bond = by_name(&r, "bonds", "t-kfb0");
    assert_eq!(bond["mode"], "active-backup");
    assert_eq!(bond["members"], json!(["enp0s3", "enp0s4"]));
    assert!(
        ["enp0s3", "enp0s4"].contains(&bond["active"].as_str().unwrap_or_default()),
        "{bond}"
    );
    assert_eq!(by_name(&r, "interfaces", "enp0s3")["master"], "t-kfb0");
    assert_eq!(
        by_name(&r, "vlans", "t-kfb0.10"),
        &json!({"name": "t-kfb0.10", "id": 10, "parent": "t-kfb0"})
    );
    assert_eq!(by_name(&r, "interfaces", "t-kfb0.10")["parent"], "t-kfb0");
    let br = by_name(&r, "bridges", "t-kfbr10");
    assert_eq!(
        (&br["stp"], &br["forward_delay"]),
        (&json!(true), &json!(15.0))
    );
    assert_eq!(br["ports"][0]["name"], "t-kfb0.10");
    let pf = by_name(&r, "sriov", "enp1s0");
    assert_eq!((&pf["total_vfs"], &pf["num_vfs"]), (&json!(7), &json!(2)));
    let vfs = pf["vfs"].as_array().unwrap();
    assert_eq!(vfs.len(), 2, "{pf}");
    for (i, vf) in vfs.iter().enumerate() {
        assert_eq!(vf["index"], json!(i));
        let pci = vf["pci"].as_str().unwrap();
        let link = g.ssh(&format!(
            "readlink -f /sys/class/net/enp1s0/device/virtfn{i}"
        ));
        assert!(link.trim().ends_with(pci), "{link} vs {pci}");
        let netdev = g.ssh(&format!("ls /sys/class/net/enp1s0/device/virtfn{i}/net"));
        assert_eq!(vf["interface"], netdev.trim(), "{vf}");
    }

    let net = by_name(&r, "networks", "t-kfn");
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
            &json!("virbr-t-kfn"),
            &json!(true)
        )
    );
    let n = &by_name(&r, "domains", "t-kfd")["nics"][0];
    assert_eq!(
        (&n["type"], &n["source"], &n["bridge"]),
        (&json!("network"), &json!("t-kfn"), &json!("virbr-t-kfn"))
    );
    assert_eq!(r["ip_forward"], json!(true));
    let libvirt = nft_rules(&r["firewall"]["libvirt"]);
    assert!(
        libvirt.iter().any(
            |x| x.contains("ip saddr 10.97.0.0/24 ip daddr != 10.97.0.0/24")
                && x.contains("masquerade")
        ),
        "{libvirt:#?}"
    );
    let kvmnet = nft_rules(&r["firewall"]["kvmnet"]);
    assert!(
        kvmnet
            .iter()
            .any(|x| x.contains("dnat to 10.97.0.50:80") && x.contains("kvmnet:t-kf:")),
        "{kvmnet:#?}"
    );
    assert!(
        !libvirt.iter().any(|x| x.contains("kvmnet:")),
        "kvmnet's accept in libvirt's chain is listed as kvmnet's"
    );

    let mermaid = r["topology"]["mermaid"].as_str().unwrap();
    for text in [
        "bond active-backup",
        "|\"VLAN 10\"|",
        "|\"VF 0\"|",
        "t-kfbr10",
        "t-kfn",
        "t-kfd",
    ] {
        assert!(mermaid.contains(text), "{text} in\n{mermaid}");
    }

    // Repaired: STP off. Then ip_forward off under the NAT network.
    g.ssh("ip link set t-kfbr10 type bridge stp_state 0");
    expect(&gather(&g, json!({})), &[("guest_without_ip", nic)]);
    g.ssh("sysctl -qw net.ipv4.ip_forward=0");
    let quiet = json!({"ignore": ["guest_without_ip"]});
    expect(&gather(&g, quiet.clone()), &[("ip_forward_off", "host")]);
    g.ssh("sysctl -qw net.ipv4.ip_forward=1");
    // libvirt's nftables table gone (a flushed ruleset).
    g.ssh("nft delete table ip libvirt_network");
    expect(
        &gather(&g, quiet.clone()),
        &[("nat_rules_missing", "network t-kfn")],
    );
    g.ssh(CLEANUP);
    g.mgmt_alive();
}
