//! The argument checker against a Params type shaped like a real module's:
//! Ansible's coercions are accepted, everything else is refused in
//! Ansible's wording.

use kvmnet_core::args::{check, split_flags};
use kvmnet_core::spec::Spec;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

#[allow(dead_code)]
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Params {
    name: String,
    #[serde(default)]
    state: State,
    #[serde(default = "yes")]
    active: bool,
    #[schemars(range(min = 68, max = 65535))]
    mtu: Option<u32>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    ips: Vec<Ip>,
    forward: Option<Forward>,
    labels: Option<serde_json::Map<String, Value>>,
}
fn yes() -> bool {
    true
}
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum State {
    #[default]
    Present,
    Absent,
}
#[allow(dead_code)]
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Ip {
    address: String,
    prefix: Option<u8>,
}
#[allow(dead_code)]
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Forward {
    mode: Mode,
    port: Option<u16>,
}
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum Mode {
    /// Doc on a variant turns the enum into a oneOf.
    Nat,
    Route,
    Gre,
}

fn run(args: Value) -> Result<Value, String> {
    let Value::Object(map) = args else {
        panic!("test args must be an object")
    };
    let (_, options) = split_flags(map);
    let checked = check("demo", &Spec::of::<Params>().options, options).map_err(|e| e.msg)?;
    // What passes the checker must deserialise.
    serde_json::from_value::<Params>(checked.clone()).map_err(|e| format!("serde: {e}"))?;
    Ok(checked)
}

#[test]
fn ansible_coercions_are_accepted() {
    let out = run(json!({
        "name": 42,
        "active": "yes",
        "mtu": "9000",
        "tags": "a,b",
        "ips": [{"address": "10.0.0.1", "prefix": "24"}],
        "forward": "{\"mode\": \"nat\", \"port\": 8080.0}",
    }))
    .unwrap();
    assert_eq!(out["name"], json!("42"));
    assert_eq!(out["active"], json!(true));
    assert_eq!(out["mtu"], json!(9000));
    assert_eq!(out["tags"], json!(["a", "b"]));
    assert_eq!(out["ips"][0]["prefix"], json!(24));
    assert_eq!(out["forward"]["port"], json!(8080));
}

#[test]
fn yaml_booleans_in_every_spelling() {
    for (v, want) in [
        ("on", true),
        ("No", false),
        ("1", true),
        ("f", false),
        ("TRUE", true),
    ] {
        assert_eq!(
            run(json!({"name": "x", "active": v})).unwrap()["active"],
            json!(want),
            "{v}"
        );
    }
    let err = run(json!({"name": "x", "active": "maybe"})).unwrap_err();
    assert!(
        err.contains("argument 'active': the value 'maybe' is not a valid boolean"),
        "{err}"
    );
}

#[test]
fn null_means_not_given() {
    let out = run(json!({"name": "x", "mtu": null})).unwrap();
    assert!(out.get("mtu").is_none());
}

#[test]
fn ansible_keys_are_split_off_and_unknown_ones_ignored() {
    let Value::Object(m) = json!({"name": "x", "_ansible_check_mode": true, "_ansible_diff": "yes",
        "_ansible_verbosity": 3, "_ansible_brand_new_key": {"x": 1}})
    else {
        unreachable!()
    };
    let (flags, options) = split_flags(m);
    assert!(flags.check_mode && flags.diff && !flags.no_log);
    assert_eq!(flags.verbosity, 3);
    assert_eq!(options.keys().collect::<Vec<_>>(), ["name"]);
}

#[test]
fn unknown_options_are_named_with_the_supported_ones() {
    let err = run(json!({"name": "x", "bogus": 1})).unwrap_err();
    assert_eq!(
        err,
        "Unsupported parameters for (demo) module: bogus. Supported parameters include: active, forward, ips, labels, mtu, name, state, tags"
    );
    let err = run(json!({"name": "x", "forward": {"mode": "nat", "prot": 1}})).unwrap_err();
    assert!(err.starts_with("Unsupported parameters for (demo) module: forward.prot. Supported parameters include: mode, port"), "{err}");
}

#[test]
fn missing_required_at_every_level() {
    assert_eq!(
        run(json!({})).unwrap_err(),
        "missing required arguments: name"
    );
    let err = run(json!({"name": "x", "ips": [{"prefix": 24}]})).unwrap_err();
    assert_eq!(err, "missing required arguments: address found in ips");
}

#[test]
fn wrong_types_and_choices() {
    let err = run(json!({"name": "x", "mtu": "jumbo"})).unwrap_err();
    assert_eq!(
        err,
        "argument 'mtu' is of type <class 'str'> and we were unable to convert to int: invalid literal for int() with base 10: 'jumbo'"
    );
    let err = run(json!({"name": "x", "mtu": true})).unwrap_err();
    assert!(
        err.contains("<class 'bool'> cannot be converted to an int"),
        "{err}"
    );
    let err = run(json!({"name": "x", "mtu": 9000.5})).unwrap_err();
    assert!(
        err.contains("<class 'float'> cannot be converted to an int"),
        "{err}"
    );
    let err = run(json!({"name": "x", "state": "gone"})).unwrap_err();
    assert_eq!(
        err,
        "value of state must be one of: present, absent, got: gone"
    );
    let err = run(json!({"name": "x", "forward": {"mode": "bridge"}})).unwrap_err();
    assert_eq!(
        err,
        "value of mode must be one of: route, gre, nat, got: bridge found in forward"
    );
    let err = run(json!({"name": "x", "ips": "10.0.0.1"})).unwrap_err();
    assert!(
        err.contains(
            "argument 'ips' is of type <class 'str'> and we were unable to convert to dict"
        ),
        "{err}"
    );
    let err = run(json!({"name": ["a"]})).unwrap_err();
    assert!(
        err.contains("<class 'list'> cannot be converted to a str"),
        "{err}"
    );
}

#[test]
fn ranges_from_the_schema() {
    let err = run(json!({"name": "x", "mtu": 10})).unwrap_err();
    assert_eq!(err, "value of mtu must be between 68 and 65535, got: 10");
    let err = run(json!({"name": "x", "forward": {"mode": "nat", "port": 70000}})).unwrap_err();
    assert_eq!(
        err,
        "value of port must be between 0 and 65535, got: 70000 found in forward"
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let err = run(json!({"bogus": 1, "mtu": "x"})).unwrap_err();
    assert!(
        err.contains("Unsupported parameters")
            && err.contains("missing required")
            && err.contains("'mtu'"),
        "{err}"
    );
}

#[test]
fn free_form_dicts_take_any_keys() {
    let out = run(json!({"name": "x", "labels": {"any": 1, "thing": "goes"}})).unwrap();
    assert_eq!(out["labels"], json!({"any": 1, "thing": "goes"}));
    let out = run(json!({"name": "x", "labels": "a=1 b=2"})).unwrap();
    assert_eq!(out["labels"], json!({"a": "1", "b": "2"}));
    let err = run(json!({"name": "x", "labels": [1]})).unwrap_err();
    assert!(
        err.contains("<class 'list'> cannot be converted to a dict"),
        "{err}"
    );
}
