//! Reading a task's arguments the way AnsibleModule does.
//!
//! Ansible hands a binary module a flat JSON file: the task's options as the
//! playbook wrote them, plus `_ansible_*` keys. Ansible itself checks
//! nothing for a binary module, so this is where a misspelled option, a
//! missing one, a quoted `"8080"` or a YAML-1.1 `yes` are dealt with:
//! coerced where AnsibleModule would coerce, rejected otherwise, in
//! Ansible's own wording so users recognise the messages.

use crate::error::{Error, Result};
use crate::spec::{Kind, OptionSpec, TypeSpec};
use serde_json::{Map, Number, Value};

/// The `_ansible_*` keys a module acts on. Others are ignored on purpose:
/// every ansible-core release adds some.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnsibleFlags {
    pub check_mode: bool,
    pub diff: bool,
    pub no_log: bool,
    pub verbosity: u8,
}

/// Split the raw args object into Ansible's flags and the user's options.
pub fn split_flags(raw: Map<String, Value>) -> (AnsibleFlags, Map<String, Value>) {
    let mut flags = AnsibleFlags::default();
    let mut options = Map::new();
    for (key, value) in raw {
        match key.strip_prefix("_ansible_") {
            Some("check_mode") => flags.check_mode = truthy(&value),
            Some("diff") => flags.diff = truthy(&value),
            Some("no_log") => flags.no_log = truthy(&value),
            Some("verbosity") => flags.verbosity = value.as_u64().unwrap_or(0).min(255) as u8,
            Some(_) => {}
            None => {
                options.insert(key, value);
            }
        }
    }
    (flags, options)
}

fn truthy(v: &Value) -> bool {
    to_bool(v).unwrap_or(false)
}

const BOOLEANS_TRUE: &[&str] = &["y", "yes", "on", "1", "true", "t"];
const BOOLEANS_FALSE: &[&str] = &["n", "no", "off", "0", "false", "f"];

/// AnsibleModule's boolean conversion (`boolean()` in module_utils).
fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => {
            let l = s.trim().to_ascii_lowercase();
            if BOOLEANS_TRUE.contains(&l.as_str()) {
                Some(true)
            } else if BOOLEANS_FALSE.contains(&l.as_str()) {
                Some(false)
            } else {
                None
            }
        }
        Value::Number(n) if n.as_f64() == Some(1.0) => Some(true),
        Value::Number(n) if n.as_f64() == Some(0.0) => Some(false),
        _ => None,
    }
}

/// Python's name for a JSON value's type, as Ansible's messages show it.
fn py_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<class 'NoneType'>",
        Value::Bool(_) => "<class 'bool'>",
        Value::Number(n) if n.is_f64() => "<class 'float'>",
        Value::Number(_) => "<class 'int'>",
        Value::String(_) => "<class 'str'>",
        Value::Array(_) => "<class 'list'>",
        Value::Object(_) => "<class 'dict'>",
    }
}

/// Check and coerce `options` against `spec`; returns every problem found,
/// joined, so one run tells the user all that is wrong.
pub fn check(module: &str, spec: &[OptionSpec], options: Map<String, Value>) -> Result<Value> {
    let mut errors = Vec::new();
    let checked = check_object(module, spec, options, &[], &mut errors);
    if errors.is_empty() {
        Ok(Value::Object(checked))
    } else {
        Err(Error::invalid(errors.join(". ")))
    }
}

/// `" found in ips -> dhcp"`, Ansible's suffix for suboption errors.
fn found_in(path: &[String]) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" found in {}", path.join(" -> "))
    }
}

fn check_object(
    module: &str,
    spec: &[OptionSpec],
    mut options: Map<String, Value>,
    path: &[String],
    errors: &mut Vec<String>,
) -> Map<String, Value> {
    // A null value is "not given", as in AnsibleModule.
    options.retain(|_, v| !v.is_null());

    let unknown: Vec<&String> = options
        .keys()
        .filter(|k| !spec.iter().any(|o| &o.name == *k))
        .collect();
    if !unknown.is_empty() {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{}.", path.join("."))
        };
        let unknown: Vec<String> = unknown.iter().map(|k| format!("{prefix}{k}")).collect();
        let mut supported: Vec<&str> = spec.iter().map(|o| o.name.as_str()).collect();
        supported.sort_unstable();
        errors.push(format!(
            "Unsupported parameters for ({module}) module: {}. Supported parameters include: {}",
            unknown.join(", "),
            supported.join(", ")
        ));
    }

    let missing: Vec<&str> = spec
        .iter()
        .filter(|o| o.required && !options.contains_key(&o.name))
        .map(|o| o.name.as_str())
        .collect();
    if !missing.is_empty() {
        errors.push(format!(
            "missing required arguments: {}{}",
            missing.join(", "),
            found_in(path)
        ));
    }

    let mut out = Map::new();
    for opt in spec {
        let Some(value) = options.remove(&opt.name) else {
            continue;
        };
        if let Some(v) = check_value(module, &opt.name, &opt.ty, value, path, errors) {
            out.insert(opt.name.clone(), v);
        }
    }
    out
}

fn check_value(
    module: &str,
    name: &str,
    ty: &TypeSpec,
    value: Value,
    path: &[String],
    errors: &mut Vec<String>,
) -> Option<Value> {
    let type_error = |errors: &mut Vec<String>, target: &str, why: String| {
        let at = if path.is_empty() {
            String::new()
        } else {
            format!(" found in '{}'.", path.join(" -> "))
        };
        errors.push(format!(
            "argument '{name}' is of type {}{at} and we were unable to convert to {target}: {why}",
            py_type(&value)
        ));
    };
    let coerced = match &ty.kind {
        Kind::Raw => Some(value.clone()),
        Kind::Str => match &value {
            Value::String(_) => Some(value.clone()),
            // AnsibleModule turns numbers and booleans into strings.
            Value::Number(n) => Some(Value::String(n.to_string())),
            Value::Bool(b) => Some(Value::String(if *b { "True" } else { "False" }.into())),
            _ => {
                type_error(
                    errors,
                    "str",
                    format!("{} cannot be converted to a str", py_type(&value)),
                );
                None
            }
        },
        Kind::Bool => match to_bool(&value) {
            Some(b) => Some(Value::Bool(b)),
            None => {
                errors.push(format!(
                    "argument '{name}'{}: the value {} is not a valid boolean. Valid booleans include: {}",
                    found_in(path),
                    short(&value),
                    "'yes', 'no', 'true', 'false', 'on', 'off', '1', '0', 'y', 'n', 't', 'f'"
                ));
                None
            }
        },
        Kind::Int => match to_int(&value) {
            Ok(i) => Some(Value::Number(i.into())),
            Err(why) => {
                type_error(errors, "int", why);
                None
            }
        },
        Kind::Float => match to_float(&value) {
            Some(f) => Number::from_f64(f).map(Value::Number),
            None => {
                type_error(
                    errors,
                    "float",
                    format!("{} cannot be converted to a float", py_type(&value)),
                );
                None
            }
        },
        Kind::List(elem) => {
            let items = match &value {
                Value::Array(a) => Some(a.clone()),
                // AnsibleModule splits a string on commas.
                Value::String(s) => {
                    Some(s.split(',').map(|p| Value::String(p.to_string())).collect())
                }
                Value::Number(n) => Some(vec![Value::String(n.to_string())]),
                _ => {
                    type_error(
                        errors,
                        "list",
                        format!("{} cannot be converted to a list", py_type(&value)),
                    );
                    None
                }
            };
            // Elements report errors under the list's own name, as
            // Ansible does ("found in ips").
            items.map(|items| {
                Value::Array(
                    items
                        .into_iter()
                        .filter_map(|item| check_value(module, name, elem, item, path, errors))
                        .collect(),
                )
            })
        }
        Kind::Map => to_dict(&value)
            .map_err(|why| type_error(errors, "dict", why))
            .ok()
            .map(Value::Object),
        Kind::Dict(sub_spec) => to_dict(&value)
            .map_err(|why| type_error(errors, "dict", why))
            .ok()
            .map(|m| {
                let mut sub = path.to_vec();
                sub.push(name.to_string());
                Value::Object(check_object(module, sub_spec, m, &sub, errors))
            }),
    }?;

    if !ty.choices.is_empty() {
        let as_text = match &coerced {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if !ty.choices.iter().any(|c| c.value == as_text) {
            let allowed: Vec<&str> = ty.choices.iter().map(|c| c.value.as_str()).collect();
            errors.push(format!(
                "value of {name} must be one of: {}, got: {as_text}{}",
                allowed.join(", "),
                found_in(path)
            ));
            return None;
        }
    }
    if let Some(n) = coerced.as_f64() {
        let below = ty.minimum.is_some_and(|min| n < min);
        let above = ty.maximum.is_some_and(|max| n > max);
        if below || above {
            let range = match (ty.minimum, ty.maximum) {
                (Some(lo), Some(hi)) => format!("between {lo} and {hi}"),
                (Some(lo), None) => format!("at least {lo}"),
                (None, Some(hi)) => format!("at most {hi}"),
                (None, None) => unreachable!(),
            };
            errors.push(format!(
                "value of {name} must be {range}, got: {coerced}{}",
                found_in(path)
            ));
            return None;
        }
    }
    Some(coerced)
}

fn short(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

/// AnsibleModule's `check_type_int`: ints, integral floats, and strings
/// Python's `int()` reads.
fn to_int(v: &Value) -> std::result::Result<i64, String> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i)
            } else if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
                Ok(f as i64)
            } else {
                Err(format!("{} cannot be converted to an int", py_type(v)))
            }
        }
        Value::String(s) => {
            let t = s.trim().replace('_', "");
            t.parse::<i64>()
                .map_err(|_| format!("invalid literal for int() with base 10: '{s}'"))
        }
        // AnsibleModule would take true as 1 (bool is an int in Python);
        // that is never what a playbook meant, so it is refused.
        _ => Err(format!("{} cannot be converted to an int", py_type(v))),
    }
}

fn to_float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// AnsibleModule's `check_type_dict`: a dict, or a string holding JSON or
/// `k=v` pairs.
fn to_dict(v: &Value) -> std::result::Result<Map<String, Value>, String> {
    match v {
        Value::Object(m) => Ok(m.clone()),
        Value::String(s) => parse_dict_string(s)
            .ok_or_else(|| "dictionary requested, could not parse JSON or key=value".to_string()),
        other => Err(format!("{} cannot be converted to a dict", py_type(other))),
    }
}

/// `{"a": 1}` or `a=1, b=2` / `a=1 b=2`.
fn parse_dict_string(s: &str) -> Option<Map<String, Value>> {
    let t = s.trim();
    if t.starts_with('{') {
        return serde_json::from_str(t).ok();
    }
    let mut out = Map::new();
    for field in t.split([',', ' ']).filter(|f| !f.is_empty()) {
        let (k, v) = field.split_once('=')?;
        out.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
    }
    Some(out)
}
