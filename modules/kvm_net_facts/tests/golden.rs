//! The topology of a rich host (tests/golden/host.json) as Mermaid and
//! DOT, against the expected files. `KVMNET_BLESS=1 cargo test` rewrites
//! them; review the diff (and the picture: docs/modules/kvm_net_facts.md
//! shows it rendered).

use kvm_net_facts::facts::Facts;
use std::path::Path;

fn golden() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"))
}

fn check(file: &str, actual: &str) {
    let path = golden().join(file);
    if std::env::var_os("KVMNET_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    if expected != actual {
        let diff = similar::TextDiff::from_lines(&expected, actual)
            .unified_diff()
            .header(&format!("{} (expected)", path.display()), "actual")
            .to_string();
        panic!("{file} differs:\n{diff}");
    }
}

fn host() -> Facts {
    let text = std::fs::read_to_string(golden().join("host.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn topology_of_a_bonded_vlan_host_with_every_kind_of_network() {
    let t = kvm_net_facts::topology::render(&host());
    check("topology.mmd", &t.mermaid);
    check("topology.dot", &t.dot);
}

/// A tap on the wrong bridge and a NIC naming a bridge that is not there
/// show as such in the picture.
#[test]
fn topology_shows_what_the_findings_are_about() {
    let mut f = host();
    let web = f.domains.iter_mut().find(|d| d.name == "web").unwrap();
    web.nics[0].bridge = Some("br0".into());
    let old = f.domains.iter_mut().find(|d| d.name == "old").unwrap();
    old.nics[0].kind = "bridge".into();
    old.nics[0].source = Some("br-gone".into());
    let t = kvm_net_facts::topology::render(&f);
    check("topology-broken.mmd", &t.mermaid);
}

/// The module's docs page shows the golden picture: its Mermaid block is
/// the golden file, so the docs cannot drift from what the module draws.
#[test]
fn the_docs_page_shows_the_golden_picture() {
    let page = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/modules/kvm_net_facts.md"
    ))
    .unwrap();
    let block = page
        .split("```mermaid\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a mermaid block in docs/modules/kvm_net_facts.md");
    let golden = std::fs::read_to_string(golden().join("topology.mmd")).unwrap();
    assert_eq!(
        block, golden,
        "docs/modules/kvm_net_facts.md's mermaid block differs from tests/golden/topology.mmd"
    );
}
