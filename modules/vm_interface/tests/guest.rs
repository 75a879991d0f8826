//! vm_interface in the guest VM (tests/rig/guest), where this machine's
//! kernel falls short: SR-IOV virtual functions of the emulated igb NIC,
//! and the traffic-control qdiscs libvirt shapes bandwidth with. The
//! guest runs libvirt 11 with its own TCG domains inside.
//!
//! `#[ignore]`d for a plain `cargo test`; `make test` boots the guest and
//! runs them with `-- --ignored`.

use kvmnet_core::testing::guest::{self, Guest};
use serde_json::json;

fn guest() -> Guest {
    guest::guest(
        env!("CARGO_BIN_EXE_vm_interface"),
        "for d in t-vf t-bw; do virsh -q destroy $d 2>/dev/null; virsh -q undefine $d 2>/dev/null; done; ip link del br-t 2>/dev/null; echo 0 > /sys/class/net/enp1s0/device/sriov_numvfs; true",
    )
}

/// The domains' XML and the links: what a vm_interface run may change.
fn snapshot(g: &Guest) -> String {
    g.ssh(
        "for d in $(virsh -q list --all --name); do virsh dumpxml --inactive $d; [ \"$(virsh domstate $d)\" = running ] && virsh dumpxml $d; done; \
         ip -d link show | sed -E 's/ [a-z_]+_timer +[0-9.]+//g; s/state [A-Za-z]+ //g; s/ (topology_change|topology_change_detected|ageing_time) [0-9]+//g'; \
         for l in $(ls /sys/class/net); do tc class show dev $l; done",
    )
}

fn define(g: &Guest, name: &str, extra: &str, start: bool) {
    g.ssh(&format!(
        "cat > /tmp/{name}.xml <<'EOF'\n<domain type='qemu'><name>{name}</name><memory unit='MiB'>32</memory><os><type arch='x86_64' machine='pc'>hvm</type><bios rebootTimeout='-1'/></os><features><acpi/></features><devices><controller type='usb' model='none'/><video><model type='none'/></video><memballoon model='none'/>{extra}</devices></domain>\nEOF\nvirsh -q define /tmp/{name}.xml{}",
        if start { format!(" && virsh -q start {name}") } else { String::new() }
    ));
}

/// The guide's "Attach VF to VM": virtual function 0 of the igb NIC,
/// given by PF and index, with a VLAN tag, to a defined domain.
#[test]
#[ignore = "needs the guest VM: make test"]
fn a_virtual_function_is_given_to_a_defined_domain() {
    let g = guest();
    g.ssh("echo 2 > /sys/class/net/enp1s0/device/sriov_numvfs");
    let vf0 = g.ssh("basename $(readlink /sys/class/net/enp1s0/device/virtfn0)");
    define(&g, "t-vf", "", false);
    let args = json!({"domain": "t-vf", "type": "hostdev", "source": {"pf": "enp1s0", "vf": 0},
        "vlan": {"tags": [42]}, "mac": "52:54:00:f0:00:01"});
    let r = g.converge_with(&args, || snapshot(&g));
    assert_eq!(r["interface"]["source"]["pci"], json!(vf0.trim()), "{r}");
    let xml = g.ssh("virsh dumpxml --inactive t-vf");
    // 0000:01:10.0: bus 01, slot 10.
    let slot = vf0
        .trim()
        .split(':')
        .nth(2)
        .unwrap()
        .split('.')
        .next()
        .unwrap();
    assert!(
        xml.contains("<interface type='hostdev' managed='yes'>")
            && xml.contains(&format!("slot='0x{slot}'"))
            && xml.contains("<tag id='42'/>"),
        "{xml}"
    );
    // The same VF by its PCI address is the same NIC: nothing to do.
    let by_pci = json!({"domain": "t-vf", "type": "hostdev", "source": {"pci": vf0.trim()},
        "vlan": {"tags": [42]}, "mac": "52:54:00:f0:00:01"});
    assert_eq!(g.ok(&by_pci)["changed"], json!(false));
    // The PF itself is no virtual function.
    let pf = g.ssh("basename $(readlink /sys/class/net/enp1s0/device)");
    let v = g.module(&json!({"domain": "t-vf", "type": "hostdev", "source": {"pci": pf.trim()}}));
    assert!(
        v["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("is not an SR-IOV virtual function"),
        "{v}"
    );
    // A VF that is not enabled.
    let v = g
        .module(&json!({"domain": "t-vf", "type": "hostdev", "source": {"pf": "enp1s0", "vf": 5}}));
    assert!(
        v["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("enp1s0 has no virtual function 5 (2 enabled"),
        "{v}"
    );
    g.converge_with(
        &json!({"domain": "t-vf", "mac": "52:54:00:f0:00:01", "state": "absent"}),
        || snapshot(&g),
    );
    assert!(!g.ssh("virsh dumpxml --inactive t-vf").contains("hostdev"));
}

/// Bandwidth of a running guest's NIC changed in place: libvirt reshapes
/// the tap (htb class, ingress policer) without a detach.
#[test]
#[ignore = "needs the guest VM: make test"]
fn bandwidth_is_changed_live() {
    let g = guest();
    g.ssh("ip link add br-t type bridge && ip link set br-t up");
    define(&g, "t-bw", "", true);
    let nic = |inbound: u64| {
        json!({"domain": "t-bw", "type": "bridge", "source": {"bridge": "br-t"}, "mac": "52:54:00:f0:00:02",
               "bandwidth": {"inbound": {"average": inbound, "peak": inbound * 2, "burst": 100},
                             "outbound": {"average": 500}}})
    };
    let r = g.converge_with(&nic(1000), || snapshot(&g));
    let tap = r["target"].as_str().unwrap().to_string();
    // libvirt's KiB/s as tc's rates: 1000 KiB/s = 8 Mbit.
    let class = g.ssh(&format!("tc class show dev {tap}"));
    assert!(class.contains("rate 8Mbit ceil 16Mbit"), "{class}");
    let police = g.ssh(&format!("tc filter show dev {tap} parent ffff:"));
    assert!(
        police.contains("police") && police.contains("rate 4Mbit"),
        "{police}"
    );

    let r = g.converge_with(&nic(3000), || snapshot(&g));
    assert_eq!(
        r["actions"],
        json!([
            "update interface 52:54:00:f0:00:02: bandwidth (persistent)",
            "update interface 52:54:00:f0:00:02: bandwidth (live)"
        ])
    );
    assert_eq!(
        r["target"].as_str().unwrap(),
        tap,
        "the same tap: no reattach"
    );
    let class = g.ssh(&format!("tc class show dev {tap}"));
    assert!(class.contains("rate 24Mbit ceil 48Mbit"), "{class}");
}
