// The floor of the per-task benchmark: a binary module that does nothing.
// Built static (musl) by scripts/bench/setup.sh into .build/bench/library,
// where Ansible finds it as `bench_trivial`. It reads its args file, as
// every module must, and answers "no change".
use std::io::Write;

fn main() {
    if let Some(path) = std::env::args_os().nth(1) {
        let _ = std::fs::read(path);
    }
    let _ = std::io::stdout().write_all(b"{\"changed\": false, \"msg\": \"trivial\"}\n");
}
