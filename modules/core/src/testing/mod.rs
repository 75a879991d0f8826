//! Test support shared by the modules' test suites (feature `testing`,
//! dev-dependencies only; never in a module binary).

pub mod guest;
pub mod netplan_golden;
pub mod sandbox;

/// Panics with a unified diff when `before` and `after` differ.
pub fn assert_same(before: &str, after: &str, what: &str) {
    if before != after {
        let diff = similar::TextDiff::from_lines(before, after)
            .unified_diff()
            .header("before", "after")
            .to_string();
        panic!("{what}:\n{diff}");
    }
}

/// `ip` output without what moves on its own and is no configuration:
/// a bridge's running timers (`gc_timer 21.96`), and the operational state
/// (`state UP`, `NO-CARRIER`, `LOWER_UP`), which an empty bridge changes
/// a while after it was created, and IPv6 duplicate address detection
/// finishing (`tentative`), and STP's topology change state.
pub fn configuration_only(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut skip = false;
        for tok in line.split_whitespace() {
            if std::mem::take(&mut skip) {
                continue;
            }
            // STP reacts to ports coming and going for a while on its own:
            // a topology change, and the shortened ageing time it brings.
            let moving = [
                "state",
                "topology_change",
                "topology_change_detected",
                "ageing_time",
            ];
            if tok.ends_with("_timer") || moving.contains(&tok) {
                skip = true;
                continue;
            }
            if tok == "tentative" {
                continue;
            }
            let tok = tok.replace("NO-CARRIER,", "").replace(",LOWER_UP", "");
            out.push_str(&tok);
            out.push(' ');
        }
        out.push('\n');
    }
    out
}
