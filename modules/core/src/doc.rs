//! Ansible documentation generated from the module's types.
//!
//! `<module> --doc` prints the collection's `plugins/modules/<name>.py`, a
//! documentation-only Python file (as ansible-core's own action-backed
//! modules have): DOCUMENTATION from the schema of the module's `Params` (doc
//! comments, types, required, defaults, choices, elements, suboptions),
//! EXAMPLES from the module's examples file, and RETURN from the schema of its
//! `Returns`. The binaries themselves ship as `<name>_<arch>` beside it; the
//! collection's action plugin runs the one for the target's architecture.
//! (A YAML sidecar documents only a module file of the same name, which the
//! per-architecture binaries are not; ansible-doc, ansible-test and
//! antsibull-docs all read a `.py` doc file natively.)

use crate::spec::{Kind, OptionSpec, Spec, TypeSpec};
use crate::yaml::to_yaml_wrapped;
use serde_json::{Map, Value, json};

/// What a module says about itself beyond its types.
#[derive(Debug, Clone, Copy)]
pub struct ModuleDoc {
    pub short_description: &'static str,
    pub version_added: &'static str,
    pub requirements: &'static [&'static str],
    pub notes: &'static [&'static str],
    /// The EXAMPLES block: YAML tasks. The same file is run by the tests.
    pub examples: &'static str,
    /// A facts module: changes nothing, returns `ansible_facts`.
    pub read_only: bool,
}

/// Lines of the generated doc file stay within this many columns (sanity's
/// pep8 allows 160; 120 reads well in a terminal and a diff).
const DOC_WIDTH: usize = 120;

pub const AUTHOR: &str = "kvmnet developers (@kvmnet)";
pub const COLLECTION: &str = "kvmnet.network";

/// Paragraphs of a doc comment, each joined onto one line.
fn paragraphs(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .map(|p| p.lines().map(str::trim).collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .map(Value::String)
        .collect()
}

fn type_fields(ty: &TypeSpec, out: &mut Map<String, Value>, sub_key: &str, returns: bool) {
    out.insert("type".into(), json!(ty.kind.ansible_name()));
    let (inner, elements) = match &ty.kind {
        Kind::List(elem) => (elem.as_ref(), Some(elem.kind.ansible_name())),
        _ => (ty, None),
    };
    if let Some(e) = elements {
        out.insert("elements".into(), json!(e));
    }
    if !inner.choices.is_empty() {
        // Described choices are a dict; RETURN takes only a list of values.
        let described = !returns && inner.choices.iter().any(|c| c.description.is_some());
        let choices = if described {
            Value::Object(
                inner
                    .choices
                    .iter()
                    .map(|c| {
                        let d = c.description.as_deref().map(paragraphs).unwrap_or_default();
                        (c.value.clone(), Value::Array(d))
                    })
                    .collect(),
            )
        } else {
            Value::Array(inner.choices.iter().map(|c| json!(c.value)).collect())
        };
        out.insert("choices".into(), choices);
    }
    if let Kind::Dict(sub) = &inner.kind {
        out.insert(sub_key.into(), options_doc(sub, sub_key, returns));
    }
}

fn options_doc(options: &[OptionSpec], sub_key: &str, returns: bool) -> Value {
    let mut map = Map::new();
    for opt in options {
        let mut o = Map::new();
        let description = opt
            .description
            .as_deref()
            .map(paragraphs)
            .unwrap_or_default();
        o.insert("description".into(), Value::Array(description));
        if returns {
            let returned = opt
                .extra
                .get("returned")
                .cloned()
                .unwrap_or(json!("always"));
            o.insert("returned".into(), returned);
        }
        type_fields(&opt.ty, &mut o, sub_key, returns);
        if !returns {
            if opt.required {
                o.insert("required".into(), json!(true));
            }
            if let Some(d) = &opt.default {
                o.insert("default".into(), d.clone());
            }
        }
        if let Some(sample) = opt.extra.get("sample") {
            o.insert("sample".into(), sample.clone());
        }
        map.insert(opt.name.clone(), Value::Object(o));
    }
    Value::Object(map)
}

/// The documentation-only Python module for a module.
pub fn python_module(name: &str, meta: &ModuleDoc, params: &Spec, returns: &Spec) -> String {
    let description = params
        .description
        .as_deref()
        .map(paragraphs)
        .unwrap_or_default();
    let attribute = |desc: &str| json!({"description": desc, "support": "full"});
    let mut doc = Map::new();
    doc.insert("module".into(), json!(name));
    doc.insert("short_description".into(), json!(meta.short_description));
    doc.insert("version_added".into(), json!(meta.version_added));
    doc.insert("description".into(), Value::Array(description));
    doc.insert("author".into(), json!([AUTHOR]));
    if !meta.requirements.is_empty() {
        doc.insert("requirements".into(), json!(meta.requirements));
    }
    doc.insert(
        "options".into(),
        options_doc(&params.options, "suboptions", false),
    );
    doc.insert(
        "attributes".into(),
        if meta.read_only {
            json!({
                "check_mode": attribute("Can run in check_mode and return changed status prediction without modifying target. It never modifies the target."),
                "diff_mode": {"description": "Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.", "support": "none", "details": "It changes nothing, so there is no diff."},
                "facts": attribute("Action returns an C(ansible_facts) dictionary that will update existing host facts."),
                "platform": {"description": "Target OS/families that can be operated against.", "support": "N/A", "platforms": "posix"},
            })
        } else {
            json!({
                "check_mode": attribute("Can run in check_mode and return changed status prediction without modifying target."),
                "diff_mode": attribute("Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode."),
                "platform": {"description": "Target OS/families that can be operated against.", "support": "N/A", "platforms": "posix"},
            })
        },
    );
    if !meta.notes.is_empty() {
        doc.insert("notes".into(), json!(meta.notes));
    }
    let sections = [
        (
            "DOCUMENTATION",
            to_yaml_wrapped(&Value::Object(doc), DOC_WIDTH),
        ),
        ("EXAMPLES", meta.examples.to_string()),
        (
            "RETURN",
            to_yaml_wrapped(&options_doc(&returns.options, "contains", true), DOC_WIDTH),
        ),
    ];
    let mut out = format!(
        "#!/usr/bin/python\n\
         # -*- coding: utf-8 -*-\n\
         # Copyright: kvmnet developers\n\
         # GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)\n\
         # Generated by `{name} --doc` from the module's types; do not edit.\n\
         # Documentation only: the module is a Rust binary, shipped beside this\n\
         # file as {name}_<arch>; the collection's action plugin runs the one\n\
         # built for the target's architecture.\n\
         \n\
         from __future__ import annotations\n"
    );
    for (section, text) in sections {
        // A raw triple-quoted string holds any YAML but its own delimiter.
        assert!(
            !text.contains("\"\"\""),
            "{name}: {section} contains a triple quote"
        );
        let text = if text.ends_with('\n') {
            text
        } else {
            text + "\n"
        };
        out.push_str(&format!("\n{section} = r\"\"\"\n{text}\"\"\"\n"));
    }
    out
}
