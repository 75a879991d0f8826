//! nat_forward in the guest VM (tests/rig/guest): libvirt 11 with its
//! nftables firewall backend (`firewall_backend = "nftables"`), where an
//! accept in another table does not override libvirt's reject — the case
//! the sandbox's libvirt 9 cannot show. Real traffic as in tests/live.rs:
//! a guest namespace on the network's bridge serves HTTP, a client
//! namespace reaches it through the host port; then a libvirtd restart and
//! a network restart (which puts libvirt's reject above our accept) with
//! the hook installed by `persist`.
//!
//! `#[ignore]`d for a plain `cargo test`; `make test` boots the guest.

use kvmnet_core::testing::guest::{self, Guest, assert_same};
use serde_json::{Value, json};

const SETUP: &str = r#"
set -e
cp -n /etc/libvirt/network.conf /etc/libvirt/network.conf.kvmnet-orig
echo 'firewall_backend = "nftables"' > /etc/libvirt/network.conf
systemctl restart libvirtd
cat > /tmp/t-nf.xml <<'EOF'
<network><name>t-nf</name><forward mode='nat'/><bridge name='virbr-t-nf'/><ip address='10.95.0.1' prefix='24'/></network>
EOF
virsh -q net-define /tmp/t-nf.xml && virsh -q net-start t-nf
# A running domain on the network: when libvirtd restarts, it reconnects
# to it and creates its port again, which is when the hook runs.
cat > /tmp/t-nf-d.xml <<'EOF'
<domain type='qemu'><name>t-nf-d</name><memory unit='MiB'>32</memory><os><type arch='x86_64' machine='pc'>hvm</type><bios rebootTimeout='-1'/></os><devices><controller type='usb' model='none'/><interface type='network'><source network='t-nf'/><model type='virtio'/><rom enabled='no'/></interface><video><model type='none'/></video><memballoon model='none'/></devices></domain>
EOF
virsh -q define /tmp/t-nf-d.xml && virsh -q start t-nf-d
for r in g:10.95.0.50/24:10.95.0.1 p:10.95.0.51/24:10.95.0.1 c:10.96.0.2/24:10.96.0.1; do
  IFS=: read role addr gw <<<"$r"
  ip netns add t-nf$role
  ip link add nf${role}0 type veth peer name eth0 netns t-nf$role
  ip -n t-nf$role addr add $addr dev eth0
  ip -n t-nf$role link set eth0 up; ip -n t-nf$role link set lo up
  ip -n t-nf$role route add default via $gw
done
ip addr add 10.96.0.1/24 dev nfc0; ip link set nfc0 up
mkdir -p /tmp/t-nf-www && echo 'hello from the guest' > /tmp/t-nf-www/index.html
ip netns exec t-nfg setsid python3 -m http.server 80 --bind 10.95.0.50 --directory /tmp/t-nf-www >/dev/null 2>&1 < /dev/null &
echo $! > /run/t-nf-www.pid
"#;

const CLEANUP: &str = r#"
[ -f /run/t-nf-www.pid ] && kill "$(cat /run/t-nf-www.pid)" 2>/dev/null; rm -f /run/t-nf-www.pid
for r in g p c; do ip netns del t-nf$r 2>/dev/null; done; ip link del nfc0 2>/dev/null
virsh -q destroy t-nf-d 2>/dev/null; virsh -q undefine t-nf-d 2>/dev/null
virsh -q net-destroy t-nf 2>/dev/null; virsh -q net-undefine t-nf 2>/dev/null
for n in t-web t-web2; do /root/kvmnet/nat_forward /dev/stdin <<EOF >/dev/null
{"name": "$n", "state": "absent"}
EOF
done
if [ -f /etc/libvirt/network.conf.kvmnet-orig ]; then mv /etc/libvirt/network.conf.kvmnet-orig /etc/libvirt/network.conf; systemctl restart libvirtd; fi
true
"#;

/// The guest's ports on the bridge (again after a network restart), until
/// they forward (libvirt's bridges run STP).
const PLUG: &str = r#"
for p in nfg0 nfp0; do ip link set $p master virbr-t-nf up; done
for i in $(seq 150); do
  [ "$(bridge link show | grep -E ' nf[gp]0@' | grep -c 'state forwarding')" = 2 ] && exit 0; sleep 0.2
done
echo 'ports not forwarding'; bridge link show; exit 1
"#;

fn fetch(g: &Guest, ns: &str, url: &str) -> Option<String> {
    g.try_ssh(&format!(
        "ip netns exec {ns} python3 -c \"import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode(), end='')\" {url}"
    ))
    .ok()
}

fn reaches(g: &Guest, ns: &str, url: &str) {
    for _ in 0..3 {
        if let Some(page) = fetch(g, ns, url) {
            assert_eq!(page, "hello from the guest\n");
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("{ns} does not reach {url}");
}

fn blocked(g: &Guest, ns: &str, url: &str) {
    assert!(
        fetch(g, ns, url).is_none(),
        "{ns} reaches {url}, it must not"
    );
}

/// What a run may change: the whole nft ruleset (no counters), the hook
/// files, ip_forward.
fn snapshot(g: &Guest) -> String {
    g.ssh(
        "nft -s list ruleset; cat /proc/sys/net/ipv4/ip_forward; \
         find /etc/libvirt/hooks -mindepth 1 2>/dev/null | sort | while read f; do \
           if [ -L \"$f\" ]; then echo \"$f -> $(readlink \"$f\")\"; elif [ -f \"$f\" ]; then echo \"$f $(sha256sum < \"$f\")\"; else echo \"$f/\"; fi; done",
    )
}

fn converge(g: &Guest, args: Value) -> Value {
    g.converge_with(&args, || snapshot(g))
}

fn task(name: &str, port: u16, extra: Value) -> Value {
    let mut t = json!({"name": name, "network": "t-nf", "dest": "10.95.0.50", "host_port": port, "dest_port": 80});
    t.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    t
}

/// The first rule of libvirt's forward chain (its jumps, or our accept).
fn first_forward_rule(g: &Guest) -> String {
    g.ssh("nft list chain ip libvirt_network forward")
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("type ") && !l.starts_with("chain ") && !l.starts_with("table "))
        .find(|l| l.contains("accept") || l.contains("jump"))
        .unwrap_or_default()
        .to_string()
}

#[test]
#[ignore = "needs the guest VM: make test"]
fn forward_through_libvirts_nftables_firewall() {
    let g = guest::guest(env!("CARGO_BIN_EXE_nat_forward"), CLEANUP);
    g.ssh(SETUP);
    g.ssh(PLUG);
    let client = "t-nfc";
    let url = |port: u16| format!("http://10.96.0.1:{port}/");
    blocked(&g, client, &url(8080));

    // The other backend would accept into a table libvirt's reject ignores.
    g.refused(
        &task("t-web", 8080, json!({"backend": "iptables"})),
        "libvirt keeps network t-nf's rules in nftables",
    );
    let t = task("t-web", 8080, json!({"persist": true}));
    let done = converge(&g, t.clone());
    assert_eq!(done["forward"]["backend"], "nftables", "{done}");
    reaches(&g, client, &url(8080));
    assert!(
        first_forward_rule(&g).contains("kvmnet:t-web:"),
        "our accept heads libvirt's chain"
    );

    // libvirtd restarts with a guest on the network: libvirt 11 re-adds
    // its guest_input rules; our accept, in the forward chain above the
    // jump there, is untouched.
    g.ssh("systemctl restart libvirtd && virsh -q net-list >/dev/null");
    reaches(&g, client, &url(8080));
    assert_eq!(g.ok(&t)["changed"], json!(false));

    // A network restart: libvirt re-adds its guest_input rules and the
    // bridge is new; our accept (matching the bridge by name) still heads
    // the forward chain.
    g.ssh("virsh -q net-destroy t-nf && virsh -q net-start t-nf");
    g.ssh(PLUG);
    assert!(
        first_forward_rule(&g).contains("kvmnet:t-web:"),
        "our accept still heads the forward chain: {}",
        g.ssh("nft -a list table ip libvirt_network")
    );
    reaches(&g, client, &url(8080));
    assert_eq!(g.ok(&t)["changed"], json!(false));

    // The rules lost, as after a reboot: when libvirt starts the network,
    // the hook (this libvirtd knows it since its restart) puts them back.
    g.ssh("nft delete table ip kvmnet; \
           h=$(nft -a list chain ip libvirt_network forward | sed -n 's/.*kvmnet:t-web:.*# handle //p'); \
           nft delete rule ip libvirt_network forward handle $h");
    blocked(&g, client, &url(8080));
    g.ssh("virsh -q net-destroy t-nf && virsh -q net-start t-nf");
    g.ssh(PLUG);
    reaches(&g, client, &url(8080));
    assert_eq!(g.ok(&t)["changed"], json!(false));

    // Our accept below the jump to libvirt's reject: the module sees it
    // and moves it back.
    g.ssh("h=$(nft -a list chain ip libvirt_network forward | sed -n 's/.*kvmnet:t-web:.*# handle //p'); \
           rule=$(nft list chain ip libvirt_network forward | grep kvmnet:t-web: | sed 's/^[[:space:]]*//'); \
           nft delete rule ip libvirt_network forward handle $h; nft add rule ip libvirt_network forward $rule");
    blocked(&g, client, &url(8080));
    let moved = converge(&g, t.clone());
    assert!(
        moved["actions"].to_string().contains("put back at the top"),
        "{moved}"
    );
    reaches(&g, client, &url(8080));

    // A second forward with hairpin; removing the first leaves it whole.
    converge(
        &g,
        task("t-web2", 8081, json!({"hairpin": true, "persist": true})),
    );
    reaches(&g, client, &url(8081));
    reaches(&g, "t-nfp", "http://10.95.0.1:8081/");
    reaches(&g, "t-nfp", &url(8081));
    let web2 = |s: String| {
        s.lines()
            .filter(|l| {
                !l.contains("kvmnet:t-web:")
                    && !l.contains("/etc/libvirt/hooks/kvmnet/forwards/t-web.json")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let before = web2(snapshot(&g));
    converge(&g, json!({"name": "t-web", "state": "absent"}));
    assert_same(
        &before,
        &web2(snapshot(&g)),
        "removing t-web touched t-web2 or libvirt",
    );
    blocked(&g, client, &url(8080));
    reaches(&g, client, &url(8081));

    // The last forward: our table and the hook go, libvirt's table stays.
    converge(&g, json!({"name": "t-web2", "state": "absent"}));
    let rules = g.ssh("nft -s list ruleset");
    assert!(!rules.contains("table ip kvmnet"), "{rules}");
    assert!(!rules.contains("kvmnet:"), "{rules}");
    assert!(rules.contains("table ip libvirt_network"));
    assert_eq!(
        g.ssh("find /etc/libvirt/hooks -type f -o -type l").trim(),
        "",
        "the hook is gone with the last saved forward"
    );
    g.ssh(CLEANUP);
}
