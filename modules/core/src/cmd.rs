//! Running external commands: always an argument vector, never a shell,
//! and a command that changes the host needs the [`Mutation`] token.

use crate::error::{Error, Result};
use crate::run::Mutation;
use std::io::Write;
use std::process::{Command, Stdio};

fn run(argv: &[&str], input: Option<&str>) -> Result<String> {
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| Error::bug("empty command"))?;
    let failed = |e: std::io::Error| Error::backend(format!("running {}: {e}", argv.join(" ")));
    let mut child = Command::new(prog)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(failed)?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(text.as_bytes()).map_err(failed)?;
    }
    let out = child.wait_with_output().map_err(failed)?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(Error::backend(format!(
            "`{}` failed ({}): {}",
            argv.join(" "),
            out.status,
            stderr.trim()
        )))
    }
}

/// Run a command that only reads; returns its stdout.
pub fn read(argv: &[&str]) -> Result<String> {
    run(argv, None)
}

/// Run a command that changes the host; returns its stdout.
pub fn change(argv: &[&str], _: &Mutation) -> Result<String> {
    run(argv, None)
}

/// Run a command that changes the host, `input` on its stdin (a script
/// for `nft -f -` or `iptables-restore`: one transaction).
pub fn change_with_input(argv: &[&str], input: &str, _: &Mutation) -> Result<String> {
    run(argv, Some(input))
}

/// Whether `prog` is an executable in one of PATH's directories.
pub fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(dir.join(prog))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}
