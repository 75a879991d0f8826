//! Golden cases, one directory each under tests/golden (see
//! `kvmnet_core::testing::netplan_golden` for the layout): each task runs
//! through the real `netplan generate`.

use kvmnet_core::netplan_device::config;
use std::path::Path;

#[test]
fn golden() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    kvmnet_core::testing::netplan_golden::run_cases::<netplan_bridge::NetplanBridge>(&base);
}

/// Every EXAMPLES task is a valid task (the offline ones run for real).
#[test]
fn examples_are_valid_tasks() {
    let tasks: Vec<serde_json::Value> =
        serde_yaml::from_str(include_str!("../examples.yml")).unwrap();
    assert!(tasks.len() >= 6);
    for task in tasks {
        let args = &task["kvmnet.network.netplan_bridge"];
        let (_, p) =
            kvmnet_core::run::parse_args::<netplan_bridge::NetplanBridge>(&args.to_string())
                .unwrap_or_else(|e| panic!("example {}: {}", task["name"], e.msg));
        config::check(&p).unwrap_or_else(|e| panic!("example {}: {}", task["name"], e.msg));
    }
}

/// `backup: true` keeps the previous file, named as Ansible names backups,
/// and returns its path; a run without changes makes none.
#[test]
fn backup_keeps_the_previous_file() {
    let root = std::env::temp_dir().join(format!("kvmnet-backup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("etc/netplan")).unwrap();
    let run = |args: serde_json::Value| {
        kvmnet_core::run::run::<netplan_bridge::NetplanBridge>(&args.to_string())
    };
    let first = run(
        serde_json::json!({"name": "br0", "interfaces": ["eth0"], "root_dir": root, "backup": true}),
    );
    assert_eq!(first["changed"], serde_json::json!(true), "{first}");
    assert!(
        first.get("backup_file").is_none(),
        "nothing to back up yet: {first}"
    );
    let old = std::fs::read_to_string(root.join("etc/netplan/60-kvmnet-br0.yaml")).unwrap();
    let second = run(
        serde_json::json!({"name": "br0", "interfaces": ["eth0"], "dhcp4": true, "root_dir": root, "backup": true}),
    );
    let backup = second["backup_file"]
        .as_str()
        .unwrap_or_else(|| panic!("{second}"));
    assert!(
        backup.starts_with(
            &root
                .join("etc/netplan/60-kvmnet-br0.yaml.")
                .display()
                .to_string()
        ) && backup.ends_with('~')
    );
    assert_eq!(std::fs::read_to_string(backup).unwrap(), old);
    let third = run(
        serde_json::json!({"name": "br0", "interfaces": ["eth0"], "dhcp4": true, "root_dir": root, "backup": true}),
    );
    assert_eq!(third["changed"], serde_json::json!(false));
    assert!(third.get("backup_file").is_none());
    std::fs::remove_dir_all(&root).unwrap();
}
