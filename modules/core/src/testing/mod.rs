//! Test support shared by the modules' test suites (feature `testing`,
//! dev-dependencies only; never in a module binary).

pub mod guest;
pub mod netplan_golden;

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
