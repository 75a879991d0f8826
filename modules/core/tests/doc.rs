//! The documentation-only Python module `--doc` prints: the shape
//! ansible-doc, validate-modules and antsibull-docs read (the sanity run in
//! CI checks the real modules' files; this pins the layout).

use kvmnet_core::doc::{ModuleDoc, python_module};
use kvmnet_core::spec::Spec;
use schemars::JsonSchema;

/// A test module.
///
/// Its second paragraph.
#[derive(Debug, JsonSchema)]
#[allow(dead_code)]
struct Params {
    /// The thing's name.
    name: String,
}

#[derive(Debug, JsonSchema)]
#[allow(dead_code)]
struct Returns {
    /// What was done.
    actions: Vec<String>,
}

const DOC: ModuleDoc = ModuleDoc {
    short_description: "A test module",
    version_added: "0.1.0",
    requirements: &[],
    notes: &[],
    examples: "- name: Example\n  kvmnet.network.demo:\n    name: x\n",
    read_only: false,
};

fn text() -> String {
    python_module("demo", &DOC, &Spec::of::<Params>(), &Spec::of::<Returns>())
}

#[test]
fn has_the_header_validate_modules_wants_and_no_code() {
    let text = text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "#!/usr/bin/python");
    assert!(
        lines[..20]
            .iter()
            .any(|l| l.starts_with("# GNU General Public License v3.0+")),
        "{text}"
    );
    // validate-modules treats a file as docs-only when its body is nothing
    // but assignments, docstrings and __future__ imports.
    let statements: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(' '))
        .filter(|l| l.contains(" = r\"\"\"") || l.starts_with("from __future__"))
        .collect();
    assert_eq!(
        statements,
        [
            "from __future__ import annotations",
            "DOCUMENTATION = r\"\"\"",
            "EXAMPLES = r\"\"\"",
            "RETURN = r\"\"\"",
        ]
    );
}

#[test]
fn sections_hold_the_yaml_of_docs_examples_and_returns() {
    let text = text();
    let section = |name: &str| {
        let start = text.find(&format!("{name} = r\"\"\"\n")).unwrap() + name.len() + 8;
        let len = text[start..].find("\"\"\"").unwrap();
        text[start..start + len].to_string()
    };
    let doc = section("DOCUMENTATION");
    assert!(doc.starts_with("module: demo\n"), "{doc}");
    assert!(
        doc.contains("  - A test module.\n  - Its second paragraph.\n"),
        "{doc}"
    );
    assert!(
        doc.contains("  name:\n    description:\n      - The thing's name.\n"),
        "{doc}"
    );
    assert_eq!(section("EXAMPLES"), DOC.examples);
    assert!(section("RETURN").starts_with("actions:\n  description:\n    - What was done.\n"));
}
