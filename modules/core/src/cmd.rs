//! Running external commands: always an argument vector, never a shell,
//! and a command that changes the host needs the [`Mutation`] token.

use crate::error::{Error, Result};
use crate::run::Mutation;
use std::process::Command;

fn run(argv: &[&str]) -> Result<String> {
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| Error::bug("empty command"))?;
    let out = Command::new(prog)
        .args(args)
        .output()
        .map_err(|e| Error::backend(format!("running {}: {e}", argv.join(" "))))?;
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
    run(argv)
}

/// Run a command that changes the host; returns its stdout.
pub fn change(argv: &[&str], _: &Mutation) -> Result<String> {
    run(argv)
}
