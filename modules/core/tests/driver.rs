//! The run driver, on a tiny module whose host is one file: check mode
//! leaves the file alone, diff only in diff mode, apply is verified, and
//! every outcome is one JSON object.

use kvmnet_core::doc::ModuleDoc;
use kvmnet_core::{Error, Module, Mutation, Plan, Result};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::path::PathBuf;

#[derive(Debug)]
struct FileLine;

/// Keeps one line in a file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    path: String,
    line: String,
    /// Make apply write something else, to prove verify catches it.
    #[serde(default)]
    sabotage: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
struct Returns {
    content: String,
}

#[derive(Debug)]
struct Steps(Vec<String>);
impl Plan for Steps {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn actions(&self) -> Vec<String> {
        self.0.clone()
    }
}

impl Module for FileLine {
    const NAME: &'static str = "file_line";
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
    type Host = PathBuf;
    type State = String;
    type Plan = Steps;

    fn connect(p: &Params) -> Result<PathBuf> {
        Ok(PathBuf::from(&p.path))
    }
    fn observe(host: &PathBuf, _: &Params) -> Result<String> {
        Ok(std::fs::read_to_string(host).unwrap_or_default())
    }
    fn desired(host: &PathBuf, p: &Params, _: &String) -> Result<String> {
        // A directory an earlier task of a play would make.
        if !host.parent().is_some_and(|d| d.is_dir()) {
            return Err(Error::not_yet(format!(
                "{} has no directory",
                host.display()
            )));
        }
        if p.line.contains('\n') {
            return Err(Error::invalid("line: one line only"));
        }
        Ok(format!("{}\n", p.line))
    }
    fn plan(_: &Params, current: &String, desired: &String) -> Result<Steps> {
        Ok(Steps(if current == desired {
            vec![]
        } else {
            vec!["write the file".into()]
        }))
    }
    fn render(state: &String) -> String {
        state.clone()
    }
    fn subject(p: &Params) -> String {
        p.path.clone()
    }
    fn apply(host: &PathBuf, p: &Params, _: &Steps, _: &Mutation) -> Result<()> {
        let text = if p.sabotage {
            "something else\n".to_string()
        } else {
            format!("{}\n", p.line)
        };
        std::fs::write(host, text).map_err(|e| Error::backend(e.to_string()))
    }
    fn returns(_: &Params, state: &String, _: &Steps) -> Returns {
        Returns {
            content: state.clone(),
        }
    }
}

/// A scratch file's path, removed (if a test made it) when the test ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl AsRef<std::path::Path> for Scratch {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl std::ops::Deref for Scratch {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

fn tmpfile(tag: &str) -> Scratch {
    let p = std::env::temp_dir().join(format!("kvmnet-driver-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    Scratch(p)
}

fn run(args: Value) -> Value {
    kvmnet_core::run::run::<FileLine>(&args.to_string())
}

#[test]
fn check_mode_reports_but_changes_nothing() {
    let path = tmpfile("check");
    std::fs::write(&path, "old\n").unwrap();
    let out = run(
        json!({"path": *path, "line": "new", "_ansible_check_mode": true, "_ansible_diff": true}),
    );
    assert_eq!(out["changed"], json!(true));
    assert_eq!(
        out["diff"],
        json!({"before": "old\n", "after": "new\n",
        "before_header": format!("{} (before)", path.display()), "after_header": format!("{} (after)", path.display())})
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
}

#[test]
fn apply_then_second_run_is_unchanged() {
    let path = tmpfile("apply");
    let out = run(json!({"path": *path, "line": "hello"}));
    assert_eq!(out["changed"], json!(true));
    assert!(out.get("diff").is_none(), "diff only in diff mode: {out}");
    assert_eq!(out["content"], json!("hello\n"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello\n");
    let again = run(json!({"path": *path, "line": "hello", "_ansible_diff": true}));
    assert_eq!(again["changed"], json!(false));
    assert!(
        again.get("diff").is_none(),
        "no diff when nothing changed: {again}"
    );
}

#[test]
fn a_failed_verify_is_a_failure() {
    let path = tmpfile("verify");
    let out = run(json!({"path": *path, "line": "hello", "sabotage": true}));
    assert_eq!(out["failed"], json!(true));
    assert_eq!(out["error_kind"], json!("Verification"));
    let msg = out["msg"].as_str().unwrap();
    assert!(
        msg.contains("still differs") && msg.contains("write the file"),
        "{msg}"
    );
}

#[test]
fn bad_input_is_a_failure_object_and_touches_nothing() {
    let path = tmpfile("bad");
    for args in [
        json!({"path": *path, "line": "a\nb"}),
        json!({"path": *path, "lien": "x"}),
    ] {
        let out = run(args);
        assert_eq!(out["failed"], json!(true), "{out}");
        assert_eq!(out["changed"], json!(false));
    }
    assert!(!path.exists());
    let out = kvmnet_core::run::run::<FileLine>("not json");
    assert!(out["msg"].as_str().unwrap().contains("not valid JSON"));
}

#[test]
fn what_an_earlier_task_makes_is_assumed_in_check_mode_only() {
    let path = std::env::temp_dir()
        .join(format!("kvmnet-driver-later-{}", std::process::id()))
        .join("file");
    let out = run(
        json!({"path": path, "line": "new", "_ansible_check_mode": true, "_ansible_diff": true}),
    );
    assert_eq!(out["changed"], json!(true), "{out}");
    assert!(out.get("failed").is_none(), "{out}");
    let warning = out["warnings"][0].as_str().unwrap();
    assert!(
        warning.contains("has no directory: check mode assumes an earlier task makes it"),
        "{warning}"
    );
    let out = run(json!({"path": path, "line": "new"}));
    assert_eq!(out["failed"], json!(true), "{out}");
    assert_eq!(out["error_kind"], json!("NotYet"));
    assert!(!path.exists());
}
