//! The golden-case runner of the netplan device modules (feature
//! `testing`), one directory per case: `params.json` (the task;
//! `root_dir` is filled in), an optional `root/` with other netplan files,
//! and `expected.txt`: the warnings and the file written — accepted by the
//! real `netplan generate` — or the error. The other files must come out
//! byte-identical. `KVMNET_BLESS=1 cargo test` rewrites the expected files.

use crate::Module;
use std::path::{Path, PathBuf};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dest = to.join(e.file_name());
        if e.path().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                out.extend(tree(&e.path()));
            } else if kind.is_file() {
                out.push((e.path(), std::fs::read(e.path()).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Run every case under `base` through module `M`; panics with the
/// differences.
pub fn run_cases<M: Module>(base: &Path) {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(base)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "golden cases missing in {}",
        base.display()
    );
    let mut failures = Vec::new();
    for case in cases {
        let root = std::env::temp_dir().join(format!(
            "kvmnet-golden-{}-{}-{}",
            M::NAME,
            std::process::id(),
            case.file_name().unwrap().to_string_lossy()
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("etc/netplan")).unwrap();
        if case.join("root").is_dir() {
            copy_tree(&case.join("root"), &root);
        }
        let others_before = tree(&root);
        let mut args: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(case.join("params.json")).unwrap())
                .unwrap();
        args["root_dir"] = serde_json::json!(root);
        let out = crate::run::run::<M>(&args.to_string());
        let root_text = root.display().to_string();
        let text = if out["failed"] == serde_json::json!(true) {
            format!("error: {}\n", out["msg"].as_str().unwrap())
        } else {
            let mut t = String::new();
            for w in out["warnings"].as_array().into_iter().flatten() {
                t += &format!("warning: {}\n", w.as_str().unwrap());
            }
            t += &format!("--- {}\n", out["file"].as_str().unwrap());
            t += out["content"].as_str().unwrap_or("(removed)\n");
            // The file went through the real `netplan generate` before it
            // was written; check it once more on what is now on disk.
            let generated = std::process::Command::new("netplan")
                .args(["generate", "--root-dir", &root_text])
                .output()
                .unwrap();
            assert!(
                generated.status.success(),
                "{}: netplan generate: {}",
                case.display(),
                String::from_utf8_lossy(&generated.stderr)
            );
            if out["content"].is_string() {
                use std::os::unix::fs::PermissionsExt;
                let meta = std::fs::metadata(out["file"].as_str().unwrap()).unwrap();
                assert_eq!(
                    meta.permissions().mode() & 0o777,
                    0o600,
                    "{}: file mode",
                    case.display()
                );
            } else {
                assert!(
                    !Path::new(out["file"].as_str().unwrap()).exists(),
                    "{}: file removed",
                    case.display()
                );
            }
            t
        };
        // Only the module's own file (and netplan generate's output) change.
        let own = out["file"].as_str().map(PathBuf::from);
        let after: Vec<_> = tree(&root)
            .into_iter()
            .filter(|(p, _)| Some(p) != own.as_ref() && !p.starts_with(root.join("run")))
            .collect();
        let before: Vec<_> = others_before
            .into_iter()
            .filter(|(p, _)| Some(p) != own.as_ref())
            .collect();
        assert_eq!(
            before,
            after,
            "{}: other netplan files changed",
            case.display()
        );
        let text = text.replace(&root_text, "<root>");
        let _ = std::fs::remove_dir_all(&root);

        let expected_path = case.join("expected.txt");
        if std::env::var_os("KVMNET_BLESS").is_some() {
            std::fs::write(&expected_path, &text).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != text {
            failures.push(
                similar::TextDiff::from_lines(&expected, &text)
                    .unified_diff()
                    .header(&expected_path.display().to_string(), "actual")
                    .to_string(),
            );
        }
    }
    assert!(
        failures.is_empty(),
        "golden cases differ:\n{}",
        failures.join("\n")
    );
}
