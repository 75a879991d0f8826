//! Test support shared by the modules' test suites (feature `testing`,
//! dev-dependencies only; never in a module binary).

pub mod guest;
pub mod netplan_golden;
