//! Golden cases, one directory each under tests/golden (see
//! `kvmnet_core::testing::netplan_golden` for the layout): each task runs
//! through the real `netplan generate`.

use kvmnet_core::netplan_device::config;
use std::path::Path;

#[test]
fn golden() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    kvmnet_core::testing::netplan_golden::run_cases::<netplan_bond::NetplanBond>(&base);
}

/// Every EXAMPLES task for this module is a valid task.
#[test]
fn examples_are_valid_tasks() {
    let tasks: Vec<serde_json::Value> =
        serde_yaml::from_str(include_str!("../examples.yml")).unwrap();
    let ours: Vec<_> = tasks
        .iter()
        .filter_map(|t| t.get("kvmnet.network.netplan_bond"))
        .collect();
    assert!(ours.len() >= 5);
    for args in ours {
        let (_, p) = kvmnet_core::run::parse_args::<netplan_bond::NetplanBond>(&args.to_string())
            .unwrap_or_else(|e| panic!("example {args}: {}", e.msg));
        config::check(&p).unwrap_or_else(|e| panic!("example {args}: {}", e.msg));
    }
}
