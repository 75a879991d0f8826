//! The pure parts, without libvirt: NIC XML rendered and parsed back,
//! the plan per side (in place, reattach, refused), and the checks of a
//! task, run through the module against libvirt's test driver
//! (`test:///default`, no daemon) so that the wording is Ansible's.

use serde_json::{Value, json};
use vm_interface::model::{self, Nic, Source};
use vm_interface::params::{Bandwidth, DirectMode, LinkState, NativeMode, Rate, Vlan};
use vm_interface::plan::{Side, Step, side_steps};

fn nic(source: Source) -> Nic {
    Nic {
        source,
        model: Some("virtio".into()),
        mac: Some("52:54:00:00:00:01".into()),
        link_state: None,
        mtu: None,
        vlan: None,
        bandwidth: None,
        target: None,
        address: Vec::new(),
    }
}

fn bridge(name: &str) -> Source {
    Source::Bridge {
        bridge: name.into(),
    }
}

fn parse_one(xml: &str) -> Nic {
    let dom = format!("<domain><devices>{xml}</devices></domain>");
    let nics = model::parse_domain(&dom).unwrap();
    assert_eq!(nics.len(), 1, "{xml}");
    nics.into_iter().next().unwrap()
}

#[test]
fn every_kind_renders_as_libvirt_writes_it_and_parses_back() {
    let mut full = nic(bridge("br0"));
    full.link_state = Some(LinkState::Down);
    full.mtu = Some(9000);
    full.vlan = Some(Vlan {
        tags: vec![10, 20],
        trunk: Some(true),
        native: Some(10),
        native_mode: Some(NativeMode::Untagged),
    });
    full.bandwidth = Some(Bandwidth {
        inbound: Some(Rate {
            average: 1000,
            peak: Some(2000),
            burst: Some(100),
        }),
        outbound: Some(Rate {
            average: 500,
            peak: None,
            burst: None,
        }),
    });
    let cases = [
        (
            full,
            "<interface type='bridge'>\n  <mac address='52:54:00:00:00:01'/>\n  <source bridge='br0'/>\n  <vlan trunk='yes'>\n    <tag id='10' nativeMode='untagged'/>\n    <tag id='20'/>\n  </vlan>\n  <bandwidth>\n    <inbound average='1000' peak='2000' burst='100'/>\n    <outbound average='500'/>\n  </bandwidth>\n  <model type='virtio'/>\n  <link state='down'/>\n  <mtu size='9000'/>\n</interface>\n",
        ),
        (
            nic(Source::Network {
                network: "default".into(),
                portgroup: Some("web".into()),
            }),
            "<interface type='network'>\n  <mac address='52:54:00:00:00:01'/>\n  <source network='default' portgroup='web'/>\n  <model type='virtio'/>\n</interface>\n",
        ),
        (
            nic(Source::Direct {
                dev: "eno1".into(),
                mode: DirectMode::Bridge,
            }),
            "<interface type='direct'>\n  <mac address='52:54:00:00:00:01'/>\n  <source dev='eno1' mode='bridge'/>\n  <model type='virtio'/>\n</interface>\n",
        ),
        (
            Nic {
                model: None,
                vlan: Some(Vlan {
                    tags: vec![42],
                    trunk: None,
                    native: None,
                    native_mode: None,
                }),
                ..nic(Source::Hostdev {
                    pci: "0000:01:10.2".into(),
                })
            },
            "<interface type='hostdev' managed='yes'>\n  <mac address='52:54:00:00:00:01'/>\n  <source>\n    <address type='pci' domain='0x0000' bus='0x01' slot='0x10' function='0x2'/>\n  </source>\n  <vlan>\n    <tag id='42'/>\n  </vlan>\n</interface>\n",
        ),
    ];
    for (n, xml) in cases {
        assert_eq!(model::render(&n, false), xml);
        assert_eq!(parse_one(xml), n, "round trip of {xml}");
    }
}

#[test]
fn live_xml_details_are_read_and_not_compared() {
    // As a running domain shows a NIC: tap, alias, PCI address, and a NIC
    // on a host-bridge network shown with its actual type.
    let live = parse_one(
        "<interface type='bridge'><mac address='52:54:00:AA:00:01'/><source network='host-bridge' portgroup='p' bridge='br0'/>\
         <target dev='vnet3'/><model type='virtio'/><link state='up'/><alias name='net0'/>\
         <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></interface>",
    );
    assert_eq!(live.target.as_deref(), Some("vnet3"));
    assert_eq!(live.mac.as_deref(), Some("52:54:00:aa:00:01"));
    assert_eq!(
        live.source,
        Source::Network {
            network: "host-bridge".into(),
            portgroup: Some("p".into())
        }
    );
    let mut defined = live.clone();
    defined.target = None;
    defined.address.clear();
    defined.link_state = None;
    assert_eq!(live.comparable(), defined.comparable());
    // Kept for an update, so the NIC stays in its slot.
    assert!(model::render(&live, true).contains("slot='0x03'"));
    // Kinds kvmnet does not manage are skipped.
    let dom = "<domain><devices><interface type='user'><mac address='52:54:00:00:00:09'/></interface></devices></domain>";
    assert!(model::parse_domain(dom).unwrap().is_empty());
}

fn describe(steps: &[Step]) -> Vec<String> {
    steps.iter().map(Step::describe).collect()
}

#[test]
fn changes_are_made_in_place_where_libvirt_can() {
    let cur = nic(bridge("br0"));
    let mut down = cur.clone();
    down.link_state = Some(LinkState::Down);
    down.bandwidth = Some(Bandwidth {
        inbound: Some(Rate {
            average: 10,
            peak: None,
            burst: None,
        }),
        outbound: None,
    });
    down.source = bridge("br1");
    for side in [Side::Live, Side::Persistent] {
        let steps = side_steps(side, Some(&cur), Some(&down), false, "vm").unwrap();
        assert_eq!(
            describe(&steps),
            [format!(
                "update interface 52:54:00:00:00:01: source bridge br0 → bridge br1, link up → down, bandwidth ({})",
                side.name()
            )]
        );
    }
    // Nothing differs: no step, whatever libvirt added live.
    let mut live = cur.clone();
    live.target = Some("vnet0".into());
    live.link_state = Some(LinkState::Up);
    assert!(
        side_steps(Side::Live, Some(&live), Some(&cur), false, "vm")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_running_nic_is_reattached_only_when_allowed() {
    let cur = nic(bridge("br0"));
    let mut e1000 = cur.clone();
    e1000.model = Some("e1000".into());
    let refused = side_steps(Side::Live, Some(&cur), Some(&e1000), false, "vm").unwrap_err();
    assert!(
        refused
            .msg
            .contains("model virtio → e1000 cannot change in place")
            && refused.msg.contains("allow_reattach"),
        "{}",
        refused.msg
    );
    let steps = side_steps(Side::Live, Some(&cur), Some(&e1000), true, "vm").unwrap();
    assert_eq!(
        describe(&steps),
        [
            "detach interface 52:54:00:00:00:01 (live)",
            "attach interface 52:54:00:00:00:01 on bridge br0 (live)"
        ]
    );
    // The definition takes it in place, nothing runs there.
    let steps = side_steps(Side::Persistent, Some(&cur), Some(&e1000), false, "vm").unwrap();
    assert_eq!(
        describe(&steps),
        ["update interface 52:54:00:00:00:01: model virtio → e1000 (persistent)"]
    );
    // A macvtap or a PCI device does not move in place; nor does a type.
    let direct = |dev: &str| {
        nic(Source::Direct {
            dev: dev.into(),
            mode: DirectMode::Bridge,
        })
    };
    assert!(
        side_steps(
            Side::Live,
            Some(&direct("eno1")),
            Some(&direct("eno2")),
            false,
            "vm"
        )
        .is_err()
    );
    assert!(side_steps(Side::Live, Some(&cur), Some(&direct("eno1")), false, "vm").is_err());
    // Missing and unwanted.
    assert_eq!(
        describe(&side_steps(Side::Live, None, Some(&cur), false, "vm").unwrap()),
        ["attach interface 52:54:00:00:00:01 on bridge br0 (live)"]
    );
    assert_eq!(
        describe(&side_steps(Side::Persistent, Some(&cur), None, false, "vm").unwrap()),
        ["detach interface 52:54:00:00:00:01 (persistent)"]
    );
}

fn run(args: Value) -> Value {
    let mut args = args;
    args["uri"] = json!("test:///default");
    kvmnet_core::run::run::<vm_interface::VmInterface>(&args.to_string())
}

#[test]
fn bad_tasks_are_refused_with_a_clear_message() {
    let cases = [
        (
            json!({"domain": "test", "type": "bridge"}),
            "type bridge needs source.bridge",
        ),
        (
            json!({"domain": "test", "type": "bridge", "source": {"bridge": "br0", "dev": "eno1"}}),
            "source.dev does not go with type bridge: it takes source.bridge",
        ),
        (
            json!({"domain": "test", "type": "hostdev", "source": {"pci": "01:10.0"}}),
            "source.pci: '01:10.0' is not a PCI address",
        ),
        (
            json!({"domain": "test", "type": "hostdev", "source": {"pf": "enp1s0"}}),
            "type hostdev needs source.pci, or source.pf with source.vf",
        ),
        (
            json!({"domain": "test", "type": "hostdev", "source": {"pci": "0000:01:10.0"}, "model": "virtio"}),
            "model does not apply to type hostdev",
        ),
        (
            json!({"domain": "test", "type": "hostdev", "source": {"pci": "0000:01:10.0"}, "vlan": {"tags": [1, 2]}}),
            "an SR-IOV virtual function takes one tag",
        ),
        (
            json!({"domain": "test", "type": "network", "source": {"network": "default"}, "vlan": {"tags": [5]}}),
            "vlan does not apply to type network",
        ),
        (
            json!({"domain": "test", "type": "bridge", "source": {"bridge": "br0"}, "vlan": {"tags": [5000]}}),
            "vlan.tags[0]: 5000 is not a VLAN ID",
        ),
        (
            json!({"domain": "test", "type": "bridge", "source": {"bridge": "br0"}, "vlan": {"tags": [5], "native": 6, "native_mode": "tagged"}}),
            "vlan.native: 6 is not one of vlan.tags",
        ),
        (
            json!({"domain": "test", "type": "direct", "source": {"dev": "eno1"}, "mtu": 9000}),
            "mtu does not apply to type direct",
        ),
        (
            json!({"domain": "test", "type": "bridge", "source": {"bridge": "br0"}, "mac": "52:54:00:00:00"}),
            "mac: '52:54:00:00:00' is not a MAC address",
        ),
        (
            json!({"domain": "test", "type": "bridge", "source": {"bridge": "br0"}, "bandwidth": {"inbound": {"average": 10, "peak": 5}}}),
            "bandwidth.inbound.peak: below the average rate",
        ),
        (
            json!({"domain": "test", "type": "bridge", "source": {"bridge": "br0"}, "live": false, "persistent": false}),
            "live and persistent are both false",
        ),
        (
            json!({"domain": "test", "state": "absent"}),
            "state absent needs mac, or type and source",
        ),
        (
            json!({"domain": "test"}),
            "missing required arguments: type",
        ),
        (
            json!({"domain": "test", "type": "wifi"}),
            "value of type must be one of: bridge, network, direct, hostdev, got: wifi",
        ),
        (
            json!({"domain": "nosuch", "type": "bridge", "source": {"bridge": "br0"}}),
            "domain nosuch does not exist",
        ),
        (
            json!({"domain": "test", "type": "network", "source": {"network": "nosuch"}}),
            "source.network: libvirt has no network nosuch",
        ),
    ];
    for (args, expect) in cases {
        let out = run(args.clone());
        assert_eq!(out["failed"], json!(true), "{args}: {out}");
        let msg = out["msg"].as_str().unwrap();
        assert!(msg.contains(expect), "{args}: {msg:?} lacks {expect:?}");
    }
}

/// Every EXAMPLES task parses and passes the checks that need no host.
#[test]
fn examples_are_valid_tasks() {
    let tasks: Vec<Value> = serde_yaml::from_str(include_str!("../examples.yml")).unwrap();
    assert!(tasks.len() >= 6);
    for task in tasks {
        let args = &task["kvmnet.network.vm_interface"];
        let (_, p) = kvmnet_core::run::parse_args::<vm_interface::VmInterface>(&args.to_string())
            .unwrap_or_else(|e| panic!("example {}: {}", task["name"], e.msg));
        vm_interface::checks::check(&p)
            .unwrap_or_else(|e| panic!("example {}: {}", task["name"], e.msg));
    }
}
