//! Golden tests, one directory a case:
//!
//! - `golden/render/<case>/params.json` (+ `network.xml`, default: a NAT
//!   network on virbr0, 192.168.122.0/24) → `expected.txt`: the forward's
//!   rules for nftables and for iptables, as the module adds them.
//! - `golden/invalid/<case>/params.json` (+ `network.xml`) →
//!   `expected.txt`: the error, from the argument parser or the checks.
//!
//! Each rendered rule set is also loaded into a real nft (a scratch
//! network namespace) where nft is available: what we render, nft takes.
//!
//! `KVMNET_BLESS=1 cargo test` rewrites the expected files; review the diff.

use nat_forward::NatForward;
use nat_forward::resolve::{self, NetworkFacts};
use nat_forward::rules::{self, Firewall, Forward};
use std::path::{Path, PathBuf};

const DEFAULT_NETWORK: &str = "<network><name>default</name><forward mode='nat'/><bridge name='virbr0'/><ip address='192.168.122.1' netmask='255.255.255.0'/></network>";

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

fn facts(case: &Path) -> NetworkFacts {
    let xml = std::fs::read_to_string(case.join("network.xml"))
        .unwrap_or_else(|_| DEFAULT_NETWORK.to_string());
    resolve::network_facts(&xml).unwrap()
}

/// The task through the argument parser and the checks, with the case's
/// network, for one firewall.
fn forward(case: &Path, fw: Firewall) -> Result<Forward, String> {
    let text = std::fs::read_to_string(case.join("params.json")).unwrap();
    let (_, p) = kvmnet_core::run::parse_args::<NatForward>(&text).map_err(|e| e.msg)?;
    resolve::check_name(&p.name).map_err(|e| e.msg)?;
    let task = resolve::checked(&p).map_err(|e| e.msg)?;
    let dest = task.dest.ok_or("the golden cases give dest")?;
    resolve::assemble(&p, task, &facts(case), dest, fw).map_err(|e| e.msg)
}

fn check(case: &Path, actual: &str) -> Option<String> {
    let path = case.join("expected.txt");
    if std::env::var_os("KVMNET_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return None;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    (expected != actual).then(|| {
        format!(
            "{}:\n--- expected\n{expected}+++ actual\n{actual}",
            path.display()
        )
    })
}

fn report(failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{} golden case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn listing(rules: &[rules::Rule]) -> String {
    rules
        .iter()
        .map(|r| format!("{}: {}\n", nat_forward::plan::place(r), r.with_comment()))
        .collect()
}

#[test]
fn render() {
    let mut failures = Vec::new();
    for case in cases("render") {
        let mut out = String::new();
        for fw in [Firewall::Nftables, Firewall::Iptables] {
            let f = forward(&case, fw).unwrap_or_else(|e| panic!("{}: {e}", case.display()));
            let rules = rules::render(&f);
            // Tags are unique, and stable: a second render is identical.
            let mut tags: Vec<&str> = rules.iter().map(|r| r.tag.as_str()).collect();
            tags.sort();
            tags.dedup();
            assert_eq!(tags.len(), rules.len(), "{}: tags repeat", case.display());
            assert_eq!(rules, rules::render(&f));
            if fw == Firewall::Nftables {
                nft_takes(&case, &rules);
            }
            out += &listing(&rules);
        }
        failures.extend(check(&case, &out));
    }
    report(failures);
}

#[test]
fn invalid() {
    let mut failures = Vec::new();
    for case in cases("invalid") {
        let err = match forward(&case, Firewall::Nftables) {
            Ok(f) => panic!("{}: accepted: {f:?}", case.display()),
            Err(e) => e,
        };
        failures.extend(check(&case, &format!("{err}\n")));
    }
    report(failures);
}

/// Load the rendered rules into nft in a scratch network namespace, with
/// stand-ins for libvirt's table: nft must take every rule we make.
fn nft_takes(case: &Path, rules: &[rules::Rule]) {
    let root = is_root();
    if !root || !kvmnet_core::cmd::on_path("nft") {
        return;
    }
    let ns = format!("kvmnet-golden-{}", std::process::id());
    let run = |argv: &[&str], input: Option<&str>| {
        use std::io::Write;
        let mut child = std::process::Command::new(argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(i) = input {
            child.stdin.take().unwrap().write_all(i.as_bytes()).unwrap();
        }
        child.wait_with_output().unwrap()
    };
    assert!(run(&["ip", "netns", "add", &ns], None).status.success());
    let script = format!(
        "add table ip libvirt_network\nadd chain ip libvirt_network guest_input\nadd chain ip libvirt_network forward {{ type filter hook forward priority filter; }}\nadd rule ip libvirt_network forward jump guest_input\n{}",
        nat_forward::firewall::nft_script(&[], rules, false)
    );
    let out = run(
        &["ip", "netns", "exec", &ns, "nft", "-f", "-"],
        Some(&script),
    );
    let listed = run(
        &["ip", "netns", "exec", &ns, "nft", "-a", "list", "ruleset"],
        None,
    );
    run(&["ip", "netns", "del", &ns], None);
    assert!(
        out.status.success(),
        "{}: nft refused our rules: {}\n{script}",
        case.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    // What nft lists back carries the same tags, in the same chains.
    let back = rules::parse_nft(&String::from_utf8_lossy(&listed.stdout));
    let mut want: Vec<_> = rules.iter().map(|r| (r.chain, r.tag.clone())).collect();
    let mut got: Vec<_> = back.iter().map(|r| (r.chain, r.tag.clone())).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "{}: nft lists other rules back", case.display());
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn examples_are_valid_tasks() {
    let text = include_str!("../examples.yml");
    let tasks: Vec<serde_yaml::Value> = serde_yaml::from_str(text).unwrap();
    assert!(!tasks.is_empty());
    for t in tasks {
        let args = &t["kvmnet.network.nat_forward"];
        let json = serde_json::to_string(args).unwrap();
        if let Err(e) = kvmnet_core::run::parse_args::<NatForward>(&json) {
            panic!("example {:?} does not parse: {}", t["name"], e.msg);
        }
    }
}
