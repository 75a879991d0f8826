//! sriov_vfs in the guest VM (tests/rig/guest): its emulated igb NIC
//! enp1s0 has SR-IOV (sriov_totalvfs 7, VFs driven by igbvf), which this
//! machine lacks. The kernel's own view is the judge: `sriov_numvfs`, the
//! `virtfn` links and the `vf N` lines of `ip link show enp1s0`.
//!
//! `#[ignore]`d for a plain `cargo test`; `make test` boots the guest.

use kvmnet_core::testing::guest::{self, Guest};
use serde_json::json;

const DEV: &str = "/sys/class/net/enp1s0/device";
const NETPLAN: &str = "/etc/netplan/60-kvmnet-sriov-enp1s0.yaml";
const UDEV: &str = "/etc/udev/rules.d/70-kvmnet-sriov-enp1s0.rules";

/// The guest with no VFs and the PF up, as on a host whose NIC carries
/// traffic (libvirt uses VFs only of a PF that is up).
fn guest() -> Guest {
    guest::guest(
        env!("CARGO_BIN_EXE_sriov_vfs"),
        &format!(
            "virsh -q destroy t-sv 2>/dev/null; virsh -q undefine t-sv 2>/dev/null; rm -f {NETPLAN} {UDEV}; \
             echo 1 > {DEV}/sriov_drivers_autoprobe; echo 0 > {DEV}/sriov_numvfs; \
             ip link set enp1s0 up; true"
        ),
    )
}

/// What a run may change: the count, the VFs and their settings as the
/// kernel lists them, the netdevs, our two files.
fn snapshot(g: &Guest) -> String {
    g.ssh(&format!(
        "cat {DEV}/sriov_numvfs {DEV}/sriov_drivers_autoprobe; ls -l {DEV} | grep -o 'virtfn.*'; ip link show enp1s0; ls /sys/class/net; \
         for f in {NETPLAN} {UDEV}; do [ -f $f ] && stat -c '%n %a' $f && cat $f; done; true"
    ))
}

fn converge(g: &Guest, args: serde_json::Value) -> serde_json::Value {
    g.converge_with(&args, || snapshot(g))
}

fn num_vfs(g: &Guest) -> String {
    g.ssh(&format!("cat {DEV}/sriov_numvfs")).trim().to_string()
}

/// `ip link show`'s line for VF `id`.
fn vf_line(g: &Guest, id: u32) -> String {
    g.ssh("ip link show enp1s0")
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("vf {id} ")))
        .unwrap_or_default()
        .to_string()
}

fn vf_netdev(g: &Guest, id: u32) -> String {
    g.ssh(&format!("ls {DEV}/virtfn{id}/net"))
        .trim()
        .to_string()
}

#[test]
#[ignore = "needs the guest VM: make test"]
fn count_and_settings_read_back_from_the_kernel() {
    let g = guest();
    let r = converge(&g, json!({"device": "enp1s0", "num_vfs": 2}));
    assert_eq!(num_vfs(&g), "2");
    let vf0 = g.ssh(&format!("basename $(readlink {DEV}/virtfn0)"));
    assert_eq!(r["vfs"][0]["pci"], json!(vf0.trim()), "{r}");
    assert_eq!(
        r["vfs"][1]["netdev"],
        json!(vf_netdev(&g, 1)),
        "the VFs have netdevs"
    );

    // 2 → 3 goes through 0; the settings come with it.
    let r = converge(
        &g,
        json!({"device": "enp1s0", "num_vfs": 3, "vfs": [
            {"id": 0, "mac": "52:54:00:5f:00:01", "vlan": 42, "trust": true, "spoofchk": false},
            {"id": 2, "mac": "52:54:00:5f:00:03", "spoofchk": false}]}),
    );
    assert!(
        r["actions"][0]
            .as_str()
            .unwrap()
            .contains("2 → 3, through 0"),
        "{r}"
    );
    assert_eq!(num_vfs(&g), "3");
    let l0 = vf_line(&g, 0);
    for want in [
        "link/ether 52:54:00:5f:00:01",
        "vlan 42",
        "spoof checking off",
        "trust on",
    ] {
        assert!(l0.contains(want), "vf 0 lacks {want:?}: {l0}");
    }
    let l2 = vf_line(&g, 2);
    assert!(
        l2.contains("52:54:00:5f:00:03") && l2.contains("spoof checking off"),
        "{l2}"
    );
    assert!(
        vf_line(&g, 1).contains("spoof checking on"),
        "VF 1 is left alone"
    );

    // Settings changed in place: no new count.
    let r = converge(
        &g,
        json!({"device": "enp1s0", "vfs": [{"id": 0, "vlan": 0, "trust": false}]}),
    );
    assert_eq!(r["actions"].as_array().unwrap().len(), 1, "{r}");
    let l0 = vf_line(&g, 0);
    assert!(
        l0.contains("trust off") && !l0.contains("vlan 42") && l0.contains("52:54:00:5f:00:01"),
        "{l0}"
    );

    // Refused, nothing changed.
    let vf_dev = vf_netdev(&g, 0);
    for (args, expect) in [
        (
            json!({"device": "enp1s0", "num_vfs": 8}),
            "enp1s0 can have at most 7 VFs (sriov_totalvfs), not 8".to_string(),
        ),
        (
            json!({"device": "enp1s0", "vfs": [{"id": 5, "trust": true}]}),
            "so there is no VF 5".into(),
        ),
        (
            json!({"device": "lo", "num_vfs": 1}),
            "lo is not a PCI network device".into(),
        ),
        (
            json!({"device": "nope0", "num_vfs": 1}),
            "there is no network interface nope0".into(),
        ),
        (
            json!({"device": vf_dev, "num_vfs": 1}),
            "is itself a virtual function".into(),
        ),
        (
            json!({"device": "0000:00:00.0", "num_vfs": 1}),
            "has no network interface".into(),
        ),
        (
            json!({"device": "0000:00:42.0", "num_vfs": 1}),
            "there is no PCI device 0000:00:42.0".into(),
        ),
        (
            json!({"device": "enp1s0", "vfs": [{"id": 0, "mac": "ff:ff:ff:ff:ff:ff"}]}),
            "multicast".into(),
        ),
        // igb takes a VF's MAC and spoof check but has no per-VF link
        // state: the first two are put back when the third is refused.
        (
            json!({"device": "enp1s0", "vfs": [{"id": 0, "mac": "52:54:00:5f:00:09", "spoofchk": true, "link_state": "disable"}]}),
            "Operation not supported (os error 95); the VF settings this run had changed were put back".into(),
        ),
    ] {
        g.refused(&args, &expect);
    }
    // VFs left unbound (for vfio-pci): no netdevs.
    let r = converge(
        &g,
        json!({"device": "0000:01:00.0", "num_vfs": 1, "drivers_autoprobe": false}),
    );
    assert_eq!(
        g.ssh(&format!("cat {DEV}/sriov_drivers_autoprobe")).trim(),
        "0"
    );
    assert!(
        g.try_ssh(&format!("ls {DEV}/virtfn0/net")).is_err(),
        "VF 0 has no driver"
    );
    assert!(r["vfs"][0]["netdev"].is_null(), "{r}");
    converge(
        &g,
        json!({"device": "0000:01:00.0", "num_vfs": 0, "drivers_autoprobe": true}),
    );
    assert_eq!(num_vfs(&g), "0");
}

#[test]
#[ignore = "needs the guest VM: make test"]
fn persisted_by_netplan_or_udev() {
    let g = guest();
    converge(
        &g,
        json!({"device": "enp1s0", "num_vfs": 2, "persist": "netplan"}),
    );
    assert_eq!(g.ssh(&format!("stat -c %a {NETPLAN}")).trim(), "600");
    // The VFs gone by hand: netplan apply makes them again.
    g.ssh(&format!(
        "echo 0 > {DEV}/sriov_numvfs; netplan apply; for i in $(seq 100); do [ $(cat {DEV}/sriov_numvfs) = 2 ] && break; sleep 0.2; done"
    ));
    assert_eq!(num_vfs(&g), "2", "netplan apply made the VFs again");
    assert_eq!(
        g.ok(&json!({"device": "enp1s0", "num_vfs": 2, "persist": "netplan"}))["changed"],
        json!(false)
    );

    // udev instead: one mechanism only. The rule is valid to udev and
    // makes the VFs, with their settings, when the PF appears.
    let task = json!({"device": "enp1s0", "num_vfs": 2, "persist": "udev",
        "vfs": [{"id": 1, "mac": "52:54:00:5f:01:02", "trust": true}]});
    converge(&g, task.clone());
    assert!(
        g.try_ssh(&format!("test -e {NETPLAN}")).is_err(),
        "netplan file removed"
    );
    g.ssh(&format!("udevadm verify {UDEV}"));
    // VF 1 is trusted: igb lets a trusted VF replace the MAC set on the
    // PF, and udev gives a new VF netdev a MAC of its own; the rule sets
    // the VF again after that (this assertion failed in 2 of 10 runs when
    // it did not).
    g.ssh(&format!(
        "ip link set enp1s0 up; echo 0 > {DEV}/sriov_numvfs; udevadm trigger --action=add --subsystem-match=net --sysname-match=enp1s0; udevadm settle; \
         for i in $(seq 100); do [ $(cat {DEV}/sriov_numvfs) = 2 ] && ip link show enp1s0 | grep -q 52:54:00:5f:01:02 && break; sleep 0.2; done"
    ));
    assert_eq!(num_vfs(&g), "2", "the udev rule made the VFs again");
    assert!(
        vf_line(&g, 1).contains("52:54:00:5f:01:02") && vf_line(&g, 1).contains("trust on"),
        "{}",
        vf_line(&g, 1)
    );
    assert_eq!(g.ok(&task)["changed"], json!(false));

    converge(
        &g,
        json!({"device": "enp1s0", "num_vfs": 0, "persist": "none"}),
    );
    assert!(
        g.try_ssh(&format!("test -e {UDEV}")).is_err(),
        "udev rule removed"
    );
}

#[test]
#[ignore = "needs the guest VM: make test"]
fn a_vf_a_running_guest_uses_is_protected() {
    let g = guest();
    converge(&g, json!({"device": "enp1s0", "num_vfs": 2}));
    let vf0 = vf_netdev(&g, 0);
    // The closest the rig gets to a guest holding a VF: a running TCG
    // domain with a macvtap NIC in passthrough mode on VF 0's netdev (a
    // VFIO hostdev needs an IOMMU, which the guest VM does not have).
    g.ssh(&format!(
        "cat > /tmp/t-sv.xml <<'EOF'\n<domain type='qemu'><name>t-sv</name><memory unit='MiB'>32</memory><os><type arch='x86_64' machine='pc'>hvm</type><bios rebootTimeout='-1'/></os><devices><controller type='usb' model='none'/><interface type='direct'><source dev='{vf0}' mode='passthrough'/><model type='virtio'/><rom enabled='no'/></interface><video><model type='none'/></video><memballoon model='none'/></devices></domain>\nEOF\nvirsh -q define /tmp/t-sv.xml && virsh -q start t-sv"
    ));
    let held = format!("is held by running guest t-sv (macvtap on {vf0})");
    g.refused(&json!({"device": "enp1s0", "num_vfs": 3}), &held);
    g.refused(
        &json!({"device": "enp1s0", "vfs": [{"id": 0, "trust": true}]}),
        &held,
    );
    // Another VF is free to change.
    converge(
        &g,
        json!({"device": "enp1s0", "vfs": [{"id": 1, "trust": true}]}),
    );
    let r = g.ok(&json!({"device": "enp1s0", "num_vfs": 0, "force": true}));
    assert!(
        r["warnings"][0]
            .as_str()
            .unwrap_or_default()
            .contains(&held),
        "{r}"
    );
    assert_eq!(num_vfs(&g), "0");
    g.ssh("virsh -q destroy t-sv; virsh -q undefine t-sv");
}
