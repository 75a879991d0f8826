//! The sandbox host (tests/rig/sandbox.sh: a private libvirtd in a network
//! namespace) from a test: one scenario at a time, leftovers of an
//! interrupted run (objects named `t-*`) removed, a module binary run
//! inside the namespace as Ansible would run it on the host, and the
//! converge pattern with the test's own snapshot of what a run may change.

use super::assert_same;
use serde_json::{Value, json};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

/// One scenario at a time: snapshots cover the whole sandbox.
static SERIAL: Mutex<()> = Mutex::new(());

#[derive(Debug)]
pub struct Sandbox {
    pub ns: String,
    pub root: String,
    bin: String,
    _guard: MutexGuard<'static, ()>,
}

/// A command's stdout, or its stderr as the error.
pub fn sh(argv: &[&str]) -> Result<String, String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|e| format!("{argv:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{argv:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// virsh against the sandbox (LIBVIRT_DEFAULT_URI); panics on failure.
pub fn virsh(args: &[&str]) -> String {
    let mut argv = vec!["virsh", "-q"];
    argv.extend(args);
    sh(&argv).unwrap_or_else(|e| panic!("{e}"))
}

/// The repository's root (the core crate is at modules/core).
fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The hot-plug guest's kernel and initramfs (tests/rig/os-guest, built
/// once): the directory they are in.
pub fn os_guest_dir() -> String {
    sh(&[repo().join("tests/rig/os-guest/build.sh").to_str().unwrap()])
        .unwrap_or_else(|e| panic!("building the hot-plug guest: {e}"))
        .trim()
        .to_string()
}

/// Take the sandbox for a test of module `binary`. Panics, naming the
/// rig, when it is not up.
pub fn sandbox(binary: &str) -> Sandbox {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!("{k} is not set: these tests need the sandbox host. Run `make test`, or `eval \"$(tests/rig/sandbox.sh up && tests/rig/sandbox.sh env)\"` first")
        })
    };
    env("LIBVIRT_DEFAULT_URI");
    let sb = Sandbox {
        ns: env("KVMNET_NS"),
        root: env("KVMNET_SANDBOX"),
        bin: binary.to_string(),
        _guard: guard,
    };
    assert!(
        sh(&["virsh", "version"]).is_ok(),
        "the sandbox libvirtd does not answer"
    );
    for dom in virsh(&["list", "--all", "--name"])
        .split_whitespace()
        .filter(|n| n.starts_with("t-"))
    {
        let _ = sh(&["virsh", "destroy", dom]);
        let _ = sh(&["virsh", "undefine", dom]);
    }
    for net in virsh(&["net-list", "--all", "--name"])
        .split_whitespace()
        .filter(|n| n.starts_with("t-"))
    {
        let _ = sh(&["virsh", "net-destroy", net]);
        let _ = sh(&["virsh", "net-undefine", net]);
    }
    sb
}

impl Sandbox {
    /// Define a domain from `xml` and start it if asked.
    pub fn define_and_start(&self, name: &str, xml: &str, start: bool) {
        let file = format!("{}/{name}.xml", self.root);
        std::fs::write(&file, xml).unwrap();
        virsh(&["define", &file]);
        if start {
            virsh(&["start", name]);
        }
    }

    /// Define and start a hot-plug guest (kernel in `dir`, from
    /// [`os_guest_dir`]) and wait until its kernel is up: until then a
    /// hot-unplug request goes unanswered. `q35_ports`: for a q35 machine,
    /// its pcie-root-ports; empty for the default `pc` machine.
    pub fn boot_os_guest(&self, dir: &str, name: &str, q35_ports: &str) {
        self.boot_os_guest_with(dir, name, q35_ports, "")
    }

    /// [`Sandbox::boot_os_guest`] with `devices` (NICs) in its definition.
    pub fn boot_os_guest_with(&self, dir: &str, name: &str, q35_ports: &str, devices: &str) {
        let console = format!("{}/{name}.console", self.root);
        let _ = std::fs::remove_file(&console);
        let mut xml = std::fs::read_to_string(repo().join("tests/rig/os-guest/domain.xml"))
            .unwrap()
            .replace("@NAME@", name)
            .replace("@DIR@", dir)
            .replace("@CONSOLE@", &console);
        if !q35_ports.is_empty() {
            xml = xml.replace("machine='pc'", "machine='q35'");
        }
        xml = xml.replace("<devices>", &format!("<devices>{q35_ports}{devices}"));
        self.define_and_start(name, &xml, true);
        let start = std::time::Instant::now();
        while !std::fs::read_to_string(&console)
            .unwrap_or_default()
            .contains("kvmnet-os-guest: ready")
        {
            assert!(
                start.elapsed().as_secs() < 180,
                "the hot-plug guest did not boot within 180 s: {console}"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }

    /// A command inside the namespace; panics on failure.
    pub fn ns(&self, cmd: &[&str]) -> String {
        let mut argv = vec!["ip", "netns", "exec", &self.ns];
        argv.extend(cmd);
        sh(&argv).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Run the module inside the namespace, as Ansible would on the host:
    /// an args file in, one JSON object out, nothing on stderr.
    pub fn module(&self, args: Value) -> Value {
        self.run_module(args, true)
    }

    /// The module without LIBVIRT_DEFAULT_URI in its environment.
    pub fn module_without_default_uri(&self, args: Value) -> Value {
        self.run_module(args, false)
    }

    fn run_module(&self, args: Value, default_uri: bool) -> Value {
        let file =
            std::env::temp_dir().join(format!("kvmnet-live-args-{}.json", std::process::id()));
        std::fs::write(&file, args.to_string()).unwrap();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns, &self.bin]).arg(&file);
        if !default_uri {
            cmd.env_remove("LIBVIRT_DEFAULT_URI");
        }
        let out = cmd.output().unwrap();
        let _ = std::fs::remove_file(&file);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            stdout.lines().count(),
            1,
            "exactly one line of JSON on stdout, got: {stdout}"
        );
        assert!(
            out.stderr.is_empty(),
            "nothing on stderr, got: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    }

    pub fn ok(&self, args: Value) -> Value {
        let v = self.module(args.clone());
        assert!(v.get("failed").is_none(), "module failed for {args}: {v}");
        v
    }

    /// Check mode (must predict a change, with a diff, and leave
    /// `snapshot` as it was), apply, second run, check mode again (both
    /// unchanged). Returns the applied run's result.
    pub fn converge_with(&self, args: Value, snapshot: impl Fn() -> String) -> Value {
        let mut check = args.clone();
        check["_ansible_check_mode"] = json!(true);
        check["_ansible_diff"] = json!(true);
        let before = snapshot();
        let predicted = self.ok(check.clone());
        assert_eq!(
            predicted["changed"],
            json!(true),
            "check mode must predict a change for {args}"
        );
        assert!(
            predicted["diff"]["after"].is_string(),
            "diff mode gives a diff: {predicted}"
        );
        assert_same(&before, &snapshot(), "check mode changed the host");

        let applied = self.ok(args.clone());
        assert_eq!(applied["changed"], json!(true), "{applied}");
        assert_eq!(
            applied["actions"], predicted["actions"],
            "check mode predicted other actions"
        );

        let again = self.ok(args.clone());
        assert_eq!(
            again["changed"],
            json!(false),
            "second run must be unchanged: {again}"
        );
        assert_eq!(again["actions"], json!([]));
        let rechecked = self.ok(check);
        assert_eq!(rechecked["changed"], json!(false), "{rechecked}");
        applied
    }

    /// The task fails with `expect` in its message and `snapshot` stays
    /// as it was.
    pub fn refused_with(&self, args: Value, expect: &str, snapshot: impl Fn() -> String) -> Value {
        let before = snapshot();
        let v = self.module(args.clone());
        assert_eq!(v["failed"], json!(true), "{args} must fail: {v}");
        let msg = v["msg"].as_str().unwrap_or_default();
        assert!(msg.contains(expect), "message {msg:?} lacks {expect:?}");
        assert_same(&before, &snapshot(), "a refused run changed the host");
        v
    }

    /// In check mode, the task names something an earlier task of a play
    /// would make (`expect` in the warning): it predicts a change instead
    /// of failing, and `snapshot` stays as it was.
    pub fn assumed_with(
        &self,
        mut args: Value,
        expect: &str,
        snapshot: impl Fn() -> String,
    ) -> Value {
        args["_ansible_check_mode"] = json!(true);
        let before = snapshot();
        let v = self.module(args);
        assert_eq!(v["changed"], json!(true), "{v}");
        assert!(v.get("failed").is_none(), "{v}");
        let warning = v["warnings"][0].as_str().unwrap_or_default();
        assert!(
            warning.contains(expect)
                && warning.contains("check mode assumes an earlier task makes it"),
            "{warning}"
        );
        assert_same(&before, &snapshot(), "a dry run changed the host");
        v
    }
}
