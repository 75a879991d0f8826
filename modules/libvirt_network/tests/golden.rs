//! Golden tests, one directory a case (nmstate's pattern):
//!
//! - `golden/render/<case>/params.json` → `expected.xml`: the XML a task
//!   defines; it must also parse back to the same model.
//! - `golden/invalid/<case>/params.json` → `expected.txt`: the error.
//! - `golden/plan/<case>/{current.xml, live.xml?, params.json}` →
//!   `expected.txt`: the classified actions, or the refusal.
//!
//! `KVMNET_BLESS=1 cargo test` rewrites the expected files; review the diff.

use kvmnet_core::Plan;
use libvirt_network::model::{self, NetState};
use libvirt_network::{plan, xmlio};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn cases(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(kind);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no golden cases in {}", dir.display());
    v
}

fn params(case: &Path) -> libvirt_network::params::Params {
    let text = std::fs::read_to_string(case.join("params.json")).unwrap();
    let (_, p) = kvmnet_core::run::parse_args::<libvirt_network::LibvirtNetwork>(&text)
        .unwrap_or_else(|e| panic!("{}: {}", case.display(), e.msg));
    p
}

/// Compare with the expected file, or write it when blessing. Returns a
/// failure description.
fn check(case: &Path, file: &str, actual: &str) -> Option<String> {
    let path = case.join(file);
    if std::env::var_os("KVMNET_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return None;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected == actual {
        return None;
    }
    let diff = similar::TextDiff::from_lines(&expected, actual)
        .unified_diff()
        .header(&format!("{} (expected)", path.display()), "actual")
        .to_string();
    Some(diff)
}

fn report(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} golden case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn render() {
    let mut failures = Vec::new();
    for case in cases("render") {
        let def = model::desired(&params(&case))
            .unwrap_or_else(|e| panic!("{}: {}", case.display(), e.msg));
        let xml = xmlio::render(&def, None);
        // What we render, libvirt's parser (ours, here) reads back as is.
        let (_, back) = xmlio::parse(&xml).unwrap();
        assert_eq!(back, def, "{}: render/parse round trip", case.display());
        failures.extend(check(&case, "expected.xml", &xml));
    }
    report(failures);
}

#[test]
fn invalid() {
    let mut failures = Vec::new();
    for case in cases("invalid") {
        let text = std::fs::read_to_string(case.join("params.json")).unwrap();
        let err = match kvmnet_core::run::parse_args::<libvirt_network::LibvirtNetwork>(&text) {
            Err(e) => e,
            Ok((_, p)) => match model::desired(&p) {
                Err(e) => e,
                Ok(_) => panic!("{}: accepted, but should be refused", case.display()),
            },
        };
        failures.extend(check(&case, "expected.txt", &format!("{}\n", err.msg)));
    }
    report(failures);
}

#[test]
fn plans() {
    let mut failures = Vec::new();
    for case in cases("plan") {
        let p = params(&case);
        let current_xml = std::fs::read_to_string(case.join("current.xml")).unwrap();
        let (uuid, def) = xmlio::parse(&current_xml).unwrap();
        let live = std::fs::read_to_string(case.join("live.xml"))
            .ok()
            .map(|x| xmlio::parse(&x).unwrap().1);
        let current = NetState {
            active: live.is_some(),
            live,
            def: Some(def.clone()),
            uuid,
            autostart: false,
            unmodelled: xmlio::unmodelled(&current_xml),
            inactive_xml: Some(current_xml.clone()),
        };
        let mut want =
            model::desired(&p).unwrap_or_else(|e| panic!("{}: {}", case.display(), e.msg));
        model::adopt_libvirt_choices(&mut want, &def);
        let desired = NetState {
            live: p.active.then(|| want.clone()),
            def: Some(want),
            uuid: current.uuid.clone(),
            active: p.active,
            autostart: p.autostart.unwrap_or(false),
            unmodelled: Vec::new(),
            inactive_xml: None,
        };
        let text = match plan::plan(&p, &current, &desired) {
            Ok(plan) if plan.is_empty() => "no change\n".to_string(),
            Ok(plan) => plan.actions().iter().map(|a| format!("{a}\n")).collect(),
            Err(e) => format!("error: {}\n", e.msg),
        };
        failures.extend(check(&case, "expected.txt", &text));
    }
    report(failures);
}

/// Every EXAMPLES task is a valid task: the docs cannot rot.
#[test]
fn examples_are_valid_tasks() {
    let tasks: Vec<Value> = serde_yaml::from_str(include_str!("../examples.yml")).unwrap();
    assert!(tasks.len() >= 8, "only {} examples", tasks.len());
    for task in tasks {
        let args = &task["kvmnet.network.libvirt_network"];
        let (_, p) =
            kvmnet_core::run::parse_args::<libvirt_network::LibvirtNetwork>(&args.to_string())
                .unwrap_or_else(|e| panic!("example {}: {}", task["name"], e.msg));
        model::desired(&p).unwrap_or_else(|e| panic!("example {}: {}", task["name"], e.msg));
    }
}
