//! The pure part of sriov_vfs: from a PF's state and a task to the steps,
//! or the refusal — what every run decides before it touches sysfs or
//! netlink. The guest VM tests (tests/guest.rs) run the same on igb.

use kvmnet_core::Plan;
use serde_json::{Value, json};
use sriov_vfs::SriovVfs;
use sriov_vfs::holders::Holder;
use sriov_vfs::params::Params;
use sriov_vfs::plan::{self, State, Vf};

fn params(v: Value) -> Params {
    kvmnet_core::run::parse_args::<SriovVfs>(&v.to_string())
        .unwrap_or_else(|e| panic!("{}", e.msg))
        .1
}

fn vf(id: u32) -> Vf {
    Vf {
        id,
        pci: Some(format!("0000:01:10.{id}")),
        netdev: Some(format!("enp1s0v{id}")),
        mac: "00:00:00:00:00:00".into(),
        vlan_proto: "802.1Q".into(),
        trust: Some(false),
        spoofchk: Some(true),
        link_state: Some("auto".into()),
        ..Vf::default()
    }
}

fn pf(num: u32) -> State {
    State {
        pf: "enp1s0".into(),
        pci: "0000:01:00.0".into(),
        total_vfs: 7,
        num_vfs: num,
        drivers_autoprobe: true,
        vfs: (0..num).map(vf).collect(),
        pf_up: true,
        ..State::default()
    }
}

fn plan_for(current: &State, task: Value) -> Result<plan::Changes, String> {
    let p = params(task);
    let d = plan::desired(&p, current).map_err(|e| e.msg)?;
    plan::changes(&p, current, &d).map_err(|e| e.msg)
}

#[test]
fn a_count_goes_up_from_zero_and_through_zero_otherwise() {
    let c = plan_for(&pf(0), json!({"device": "enp1s0", "num_vfs": 2})).unwrap();
    assert_eq!(c.count, Some((0, 2)));
    assert_eq!(c.actions(), ["VFs of enp1s0: 0 → 2"]);
    let c = plan_for(&pf(2), json!({"device": "enp1s0", "num_vfs": 3})).unwrap();
    assert_eq!(c.count, Some((2, 3)));
    assert!(
        c.actions()[0].contains("2 → 3, through 0"),
        "{:?}",
        c.actions()
    );
    let c = plan_for(&pf(2), json!({"device": "enp1s0", "num_vfs": 2})).unwrap();
    assert!(c.is_empty(), "{:?}", c.actions());
    let c = plan_for(&pf(2), json!({"device": "enp1s0"})).unwrap();
    assert!(c.is_empty(), "no count: the one it has");
}

#[test]
fn only_the_settings_a_task_names_are_compared() {
    let task = json!({"device": "enp1s0", "vfs": [{"id": 1, "mac": "52:54:00:AA:00:02", "vlan": 42, "trust": true}]});
    let c = plan_for(&pf(2), task.clone()).unwrap();
    assert_eq!(
        c.actions(),
        [
            "VF 1: mac 00:00:00:00:00:00 → 52:54:00:aa:00:02, vlan 0 qos 0 802.1Q → 42 qos 0 802.1Q, trust off → on"
        ]
    );
    let ch = &c.vf_changes[0];
    assert_eq!(ch.mac, Some([0x52, 0x54, 0, 0xaa, 0, 2]));
    assert_eq!(ch.vlan, Some((42, 0, false)));
    assert_eq!((ch.trust, ch.spoofchk), (Some(true), None));
    // The PF now reports them: nothing to do.
    let mut now = pf(2);
    now.vfs[1].mac = "52:54:00:aa:00:02".into();
    now.vfs[1].vlan = 42;
    now.vfs[1].trust = Some(true);
    assert!(plan_for(&now, task).unwrap().is_empty());
}

#[test]
fn a_new_count_sets_every_named_setting_again() {
    let c = plan_for(
        &pf(2),
        json!({"device": "enp1s0", "num_vfs": 3, "vfs": [{"id": 0, "spoofchk": false}]}),
    )
    .unwrap();
    assert_eq!(c.vf_changes.len(), 1);
    assert_eq!(c.vf_changes[0].spoofchk, Some(false));
    assert_eq!(c.actions()[1], "VF 0: set spoofchk false");
}

#[test]
fn impossible_tasks_are_refused_with_every_reason() {
    let refused = |task: Value, expect: &str| {
        let e = plan_for(&pf(2), task.clone()).expect_err(&task.to_string());
        assert!(e.contains(expect), "{e:?} lacks {expect:?}");
    };
    refused(
        json!({"device": "enp1s0", "num_vfs": 8}),
        "enp1s0 can have at most 7 VFs (sriov_totalvfs), not 8",
    );
    refused(
        json!({"device": "enp1s0", "vfs": [{"id": 2, "trust": true}]}),
        "vfs[id=2]: enp1s0 will have 2 VFs (ids 0 to 1), so there is no VF 2",
    );
    refused(
        json!({"device": "enp1s0", "vfs": [{"id": 0}, {"id": 0}]}),
        "VF 0 is listed twice",
    );
    refused(
        json!({"device": "enp1s0", "vfs": [{"id": 0, "mac": "52:54:00:zz:00:01"}]}),
        "vfs[id=0].mac",
    );
    refused(
        json!({"device": "enp1s0", "vfs": [{"id": 0, "mac": "01:00:5e:00:00:01"}]}),
        "is a multicast address",
    );
    refused(
        json!({"device": "enp1s0", "vfs": [{"id": 0, "qos": 3}]}),
        "qos and vlan_proto need vlan",
    );
    refused(
        json!({"device": "enp1s0", "vfs": [{"id": 0, "min_tx_rate": 500, "max_tx_rate": 100}]}),
        "min_tx_rate 500 is above max_tx_rate 100",
    );
    let e = kvmnet_core::run::parse_args::<SriovVfs>(
        &json!({"device": "enp1s0", "vfs": [{"id": 0, "vlan": 4096}]}).to_string(),
    )
    .unwrap_err();
    assert!(e.msg.contains("vlan"), "{}", e.msg);
    let e = kvmnet_core::run::parse_args::<SriovVfs>(
        &json!({"device": "enp1s0", "numvfs": 2}).to_string(),
    )
    .unwrap_err();
    assert!(
        e.msg
            .contains("Unsupported parameters for (sriov_vfs) module: numvfs"),
        "{}",
        e.msg
    );
}

#[test]
fn vfs_a_guest_holds_are_protected_unless_forced() {
    let mut held = pf(2);
    held.holders = vec![Holder {
        domain: "web01".into(),
        pci: Some("0000:01:10.1".into()),
        how: "macvtap on enp1s0v1".into(),
    }];
    // A new count removes every VF.
    let e = plan_for(&held, json!({"device": "enp1s0", "num_vfs": 3})).unwrap_err();
    assert!(
        e.contains("VF 0000:01:10.1 is held by running guest web01 (macvtap on enp1s0v1)")
            && e.contains("force: true"),
        "{e}"
    );
    // Settings of that VF too; another VF's are free.
    assert!(
        plan_for(
            &held,
            json!({"device": "enp1s0", "vfs": [{"id": 1, "trust": true}]})
        )
        .is_err()
    );
    assert!(
        plan_for(
            &held,
            json!({"device": "enp1s0", "vfs": [{"id": 0, "trust": true}]})
        )
        .is_ok()
    );
    let c = plan_for(
        &held,
        json!({"device": "enp1s0", "num_vfs": 0, "force": true}),
    )
    .unwrap();
    assert!(c.warnings()[0].starts_with("force: VF 0000:01:10.1 is held by running guest web01"));
    // A guest on a VF pool of this PF holds some VF: any change is refused.
    held.holders[0].pci = None;
    assert!(
        plan_for(
            &held,
            json!({"device": "enp1s0", "vfs": [{"id": 0, "trust": true}]})
        )
        .is_err()
    );
}

#[test]
fn persistence_is_one_file_or_none() {
    let c = plan_for(&pf(2), json!({"device": "enp1s0", "persist": "netplan"})).unwrap();
    let netplan = c.netplan.clone().flatten().unwrap();
    assert!(
        netplan.contains("    enp1s0:\n      virtual-function-count: 2\n"),
        "{netplan}"
    );
    assert_eq!(c.udev, None);
    let mut persisted = pf(2);
    persisted.netplan = Some(netplan);
    let c = plan_for(&persisted, json!({"device": "enp1s0", "persist": "udev"})).unwrap();
    assert_eq!(c.netplan, Some(None), "the netplan file goes");
    assert!(
        c.udev
            .clone()
            .flatten()
            .unwrap()
            .contains("ATTR{device/sriov_numvfs}=\"2\"")
    );
    let c = plan_for(&persisted, json!({"device": "enp1s0", "persist": "none"})).unwrap();
    assert_eq!(c.netplan, Some(None));
    assert!(
        plan_for(
            &persisted,
            json!({"device": "enp1s0", "persist": "netplan"})
        )
        .unwrap()
        .is_empty()
    );
}

#[test]
fn examples_are_valid_tasks() {
    let tasks: Vec<serde_yaml::Value> =
        serde_yaml::from_str(include_str!("../examples.yml")).unwrap();
    assert!(!tasks.is_empty());
    for t in tasks {
        let json = serde_json::to_string(&t["kvmnet.network.sriov_vfs"]).unwrap();
        if let Err(e) = kvmnet_core::run::parse_args::<SriovVfs>(&json) {
            panic!("example {:?} does not parse: {}", t["name"], e.msg);
        }
    }
}

#[test]
fn a_vf_change_is_sent_one_setting_at_a_time_with_its_way_back() {
    let c = plan_for(
        &pf(2),
        json!({"device": "enp1s0", "vfs": [{"id": 1, "mac": "52:54:00:aa:00:02", "spoofchk": false, "link_state": "disable"}]}),
    )
    .unwrap();
    let change = &c.vf_changes[0];
    let parts = plan::split(change);
    assert_eq!(parts.len(), 3, "mac, spoofchk, link state: {parts:?}");
    assert!(
        parts[0].mac.is_some() && parts[1].spoofchk == Some(false) && parts[2].link_state.is_some()
    );
    let back = plan::split_like(change, c.vf_undo[0].as_ref());
    assert_eq!(
        back[0].as_ref().unwrap().mac,
        Some([0; 6]),
        "the MAC it had"
    );
    assert_eq!(back[1].as_ref().unwrap().spoofchk, Some(true));
    // A VF made anew has nothing to go back to.
    let c = plan_for(
        &pf(2),
        json!({"device": "enp1s0", "num_vfs": 3, "vfs": [{"id": 0, "trust": true}]}),
    )
    .unwrap();
    assert_eq!(
        plan::split_like(&c.vf_changes[0], c.vf_undo[0].as_ref()),
        [None]
    );
}

#[test]
fn a_pf_that_is_down_is_warned_about() {
    let mut down = pf(0);
    down.pf_up = false;
    let c = plan_for(&down, json!({"device": "enp1s0", "num_vfs": 2})).unwrap();
    assert!(
        c.warnings()[0].starts_with("enp1s0 is down"),
        "{:?}",
        c.warnings()
    );
    assert!(
        plan_for(&pf(0), json!({"device": "enp1s0", "num_vfs": 2}))
            .unwrap()
            .warnings()
            .is_empty()
    );
}
