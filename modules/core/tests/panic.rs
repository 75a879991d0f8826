//! A panic in a module still gives Ansible one JSON failure object.
//! The test runs itself as a child process, so the child's panic hook and
//! stdout are real.

use kvmnet_core::doc::ModuleDoc;
use kvmnet_core::{Module, Mutation, Plan, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::process::Command;

#[derive(Debug)]
struct Panicky;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    name: String,
}
#[derive(Debug, Serialize, JsonSchema)]
struct Returns {}
#[derive(Debug)]
struct Nothing;
impl Plan for Nothing {
    fn is_empty(&self) -> bool {
        true
    }
    fn actions(&self) -> Vec<String> {
        Vec::new()
    }
}

impl Module for Panicky {
    const NAME: &'static str = "panicky";
    const DOC: ModuleDoc = ModuleDoc {
        short_description: "test",
        version_added: "0.1.0",
        requirements: &[],
        notes: &[],
        examples: "",
        read_only: false,
    };
    type Params = Params;
    type Returns = Returns;
    type Host = ();
    type State = ();
    type Plan = Nothing;
    fn connect(_: &Params) -> Result<()> {
        Ok(())
    }
    fn observe(_: &(), p: &Params) -> Result<()> {
        panic!("observing {} went wrong", p.name)
    }
    fn desired(_: &(), _: &Params, _: &()) -> Result<()> {
        Ok(())
    }
    fn plan(_: &Params, _: &(), _: &()) -> Result<Nothing> {
        Ok(Nothing)
    }
    fn render(_: &()) -> String {
        String::new()
    }
    fn subject(_: &Params) -> String {
        String::new()
    }
    fn apply(_: &(), _: &Params, _: &Nothing, _: &Mutation) -> Result<()> {
        Ok(())
    }
    fn returns(_: &Params, _: &(), _: &Nothing) -> Returns {
        Returns {}
    }
}

#[test]
fn child() {
    // Only does something when started by `a_panic_is_a_failure_object`.
    let Ok(args) = std::env::var("KVMNET_PANIC_CHILD_ARGS") else {
        return;
    };
    kvmnet_core::run::main_with::<Panicky>(&["panicky".to_string(), args]);
}

#[test]
fn a_panic_is_a_failure_object() {
    let args = std::env::temp_dir().join(format!("kvmnet-panic-{}.json", std::process::id()));
    std::fs::write(&args, r#"{"name": "net0", "_ansible_check_mode": false}"#).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("KVMNET_PANIC_CHILD_ARGS", &args)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The test harness prints "test child ... " before the child's output.
    let results: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| l.find('{').map(|i| &l[i..]))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), 1, "exactly one JSON object: {stdout}");
    assert_eq!(results[0]["failed"], serde_json::json!(true));
    let msg = results[0]["msg"].as_str().unwrap();
    assert!(
        msg.contains("kvmnet bug: panic") && msg.contains("observing net0 went wrong"),
        "{msg}"
    );
}
