//! The guest VM (tests/rig/guest) from a test: SSH into it as Ansible
//! does, run a module binary there with an args file, snapshot what a
//! netplan module may change, and the converge pattern every scenario
//! goes through: check mode (must predict a change and leave the guest as
//! it was), apply, a second run and a check-mode run that must both be
//! unchanged.

pub use super::assert_same;
use serde_json::{Value, json};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

static SERIAL: Mutex<()> = Mutex::new(());

/// A module binary cargo built for another package of the workspace
/// (`cargo test --workspace` builds them all), beside this test's.
pub fn sibling_binary(name: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let path = exe.parent().and_then(|d| d.parent()).unwrap().join(name);
    assert!(
        path.is_file(),
        "{} is not built: run `cargo build -p {name}` (or the workspace's tests) first",
        path.display()
    );
    path.display().to_string()
}

/// The longest one command in the guest may take, in seconds
/// (`KVMNET_GUEST_COMMAND_TIMEOUT`, default 300): far above the slowest
/// step seen under TCG (a bond made anew with `netplan apply`, ~40 s).
pub fn command_timeout() -> u64 {
    std::env::var("KVMNET_GUEST_COMMAND_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

/// The binaries already copied into the guest by this test process.
static COPIED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The guest VM, held by one test at a time.
#[derive(Debug)]
pub struct Guest {
    bin: String,
    port: String,
    key: String,
    _guard: MutexGuard<'static, ()>,
}

/// Take the guest: copy `binary` (a module built by cargo) into it and
/// run `cleanup` there (leftovers of an interrupted run). Panics, naming
/// the rig, when the guest is not up.
pub fn guest(binary: &str, cleanup: &str) -> Guest {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!("{k} is not set: these tests need the guest VM. Run `make test`, or `tests/rig/guest/guest.sh up` and `eval \"$(tests/rig/guest/guest.sh env)\"` first")
        })
    };
    let mut g = Guest {
        bin: String::new(),
        port: env("KVMNET_GUEST_SSH_PORT"),
        key: env("KVMNET_GUEST_KEY"),
        _guard: guard,
    };
    g.install(binary);
    g.ssh(cleanup);
    g
}

impl Guest {
    /// Make `binary` (a module built by cargo) the module that
    /// [`Guest::module`] runs, copying it into the guest once per test
    /// process.
    pub fn install(&mut self, binary: &str) {
        let name = std::path::Path::new(binary)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        self.bin = format!("/root/kvmnet/{name}");
        let g = &*self;
        let mut copied = COPIED.lock().unwrap_or_else(|e| e.into_inner());
        if !copied.contains(&g.bin) {
            g.ssh("mkdir -p /root/kvmnet");
            let out = Command::new("scp")
                .args(g.ssh_opts("-P"))
                .arg(binary)
                .arg(format!("root@127.0.0.1:{}", g.bin))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "scp: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            copied.push(g.bin.clone());
        }
        drop(copied);
    }

    fn ssh_opts(&self, port_flag: &str) -> Vec<String> {
        [
            port_flag,
            &self.port,
            "-i",
            &self.key,
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=30",
            // A guest that froze (or a kernel stuck in a driver) must fail
            // the test, not hold CI until its deadline: the connection is
            // given up after a minute without an answer.
            "-o",
            "ServerAliveInterval=10",
            "-o",
            "ServerAliveCountMax=6",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// Run a shell command in the guest; its stdout. Panics on failure.
    pub fn ssh(&self, cmd: &str) -> String {
        self.try_ssh(cmd)
            .unwrap_or_else(|e| panic!("guest: {cmd}: {e}"))
    }

    /// Run `cmd` in the guest, bounded by [`command_timeout`]: a command
    /// that hangs there (a driver, a daemon that stopped answering) panics
    /// with the guest's console and processes instead of hanging the test.
    pub fn ssh_output(&self, cmd: &str) -> std::process::Output {
        let limit = command_timeout();
        let out = Command::new("timeout")
            .args(["-k", "10", &limit.to_string(), "ssh"])
            .args(self.ssh_opts("-p"))
            .arg("root@127.0.0.1")
            .arg(cmd)
            .output()
            .unwrap();
        // timeout(1) answers 124 when it had to stop the command, 137
        // when the command then had to be killed.
        if matches!(out.status.code(), Some(124 | 137)) {
            panic!(
                "guest: no answer within {limit} s to: {cmd}\n{}",
                self.post_mortem()
            );
        }
        out
    }

    /// What the guest was doing, for a command that did not come back:
    /// the end of its serial console and, when SSH still answers, the
    /// processes in uninterruptible sleep or older than a few seconds.
    fn post_mortem(&self) -> String {
        let console = std::env::var("KVMNET_GUEST_RUN")
            .ok()
            .and_then(|run| std::fs::read_to_string(format!("{run}/console.log")).ok())
            .map(|log| {
                let lines: Vec<&str> = log.lines().collect();
                lines[lines.len().saturating_sub(30)..].join("\n")
            })
            .unwrap_or_else(|| "(no console log: KVMNET_GUEST_RUN unset)".into());
        let ps = Command::new("timeout")
            .args(["-k", "5", "20", "ssh"])
            .args(self.ssh_opts("-p"))
            .arg("root@127.0.0.1")
            .arg("ps -eo pid,stat,etimes,wchan:24,args --sort=-etimes | awk 'NR==1 || $2 ~ /D/ || ($3 < 600 && $3 > 5)' | head -40")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        format!("--- guest console (last lines):\n{console}\n--- guest processes:\n{ps}")
    }

    pub fn try_ssh(&self, cmd: &str) -> Result<String, String> {
        let out = self.ssh_output(cmd);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// The module in the guest with an args file, over SSH: SSH_CONNECTION
    /// is set there as it is under Ansible. `env` is prefixed to the command.
    pub fn module_with_env(&self, args: &Value, env: &str) -> Value {
        let quoted = args.to_string().replace('\'', "'\\''");
        let cmd = format!(
            "printf '%s' '{quoted}' > /root/kvmnet/args.json && {env} {} /root/kvmnet/args.json",
            self.bin
        );
        let out = self.ssh_output(&cmd);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout.lines().count(),
            1,
            "one JSON line, got: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout).unwrap()
    }

    pub fn module(&self, args: &Value) -> Value {
        self.module_with_env(args, "")
    }

    pub fn ok(&self, args: &Value) -> Value {
        let v = self.module(args);
        assert!(v.get("failed").is_none(), "module failed for {args}: {v}");
        v
    }

    /// The guest's netplan files (name, mode, content) and links without
    /// what moves by itself (timers, operational and STP port states,
    /// topology changes, IPv6 link-local addresses the kernel adds when a
    /// link comes up), or what networkd leaves on a NIC it once managed
    /// (its qdisc, IPv6 address generation mode), or a bond member's
    /// monitoring and LACP negotiation state (and whether it is up or a
    /// backup, which an ARP monitor without answers keeps flipping).
    pub fn snapshot(&self) -> String {
        self.ssh(
            "for f in /etc/netplan/* /run/netplan/*; do [ -f \"$f\" ] && stat -c '== %n %a' \"$f\" && cat \"$f\"; done; \
             { ip -d link show; ip addr show | grep -v -e valid_lft -e tentative -e dynamic -e 'scope link'; } | sed -E \
               's/ [a-z_]+_timer +[0-9.]+//g; s/state [A-Za-z]+ //g; s/NO-CARRIER,//; s/,LOWER_UP//; s/ qdisc [a-z_]+//; \
                s/ addrgenmode [a-z_0-9]+//; s/ (topology_change|topology_change_detected|ageing_time) [0-9]+//g; \
                s/ (designated_[a-z]+|root_port|root_path_cost|port_id|port_no) [0-9a-fx.:]+//g; \
                s/ (mii_status [A-Z]+|link_failure_count [0-9]+|ad_actor_oper_port_state [0-9]+|ad_partner_oper_port_state [0-9]+|ad_aggregator_id [0-9]+)//g; s/bond_slave_[A-Z]+ /bond_slave /'",
        )
    }

    pub fn converge(&self, args: &Value) -> Value {
        self.converge_with(args, || self.snapshot())
    }

    /// [`Guest::converge`] with the test's own snapshot of what the module
    /// may change.
    pub fn converge_with(&self, args: &Value, snapshot: impl Fn() -> String) -> Value {
        let mut check = args.clone();
        check["_ansible_check_mode"] = json!(true);
        check["_ansible_diff"] = json!(true);
        let before = snapshot();
        let predicted = self.ok(&check);
        assert_eq!(
            predicted["changed"],
            json!(true),
            "check mode must predict a change: {predicted}"
        );
        assert_same(&before, &snapshot(), "check mode changed the guest");
        let applied = self.ok(args);
        assert_eq!(applied["changed"], json!(true), "{applied}");
        assert_eq!(
            applied["actions"], predicted["actions"],
            "check mode predicted other actions"
        );
        let again = self.ok(args);
        assert_eq!(
            again["changed"],
            json!(false),
            "second run must be unchanged: {again}"
        );
        let rechecked = self.ok(&check);
        assert_eq!(rechecked["changed"], json!(false), "{rechecked}");
        applied
    }

    pub fn refused(&self, args: &Value, expect: &str) -> Value {
        let before = self.snapshot();
        let v = self.module(args);
        assert_eq!(v["failed"], json!(true), "{v}");
        let msg = v["msg"].as_str().unwrap();
        assert!(msg.contains(expect), "message {msg:?} lacks {expect:?}");
        assert_same(&before, &self.snapshot(), "a refused run changed the guest");
        v
    }

    pub fn link(&self, name: &str) -> String {
        self.ssh(&format!("ip -d link show {name}"))
    }

    pub fn mgmt_alive(&self) {
        assert_eq!(
            self.ssh("echo alive").trim(),
            "alive",
            "the management connection"
        );
    }
}
