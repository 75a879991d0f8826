//! kvmnet.network.netplan_bond: a Linux bond in netplan, every bond
//! parameter, applied safely.
//!
//! The file, validation, apply, verification, revert and connection guard
//! are [`kvmnet_core::netplan_device`]'s, shared with netplan_bridge. Here:
//!
//! - [`params`]: the options (and the docs), the bond parameters as typed
//!   values in the kernel's order;
//! - [`checks`]: which parameter goes with which mode, and with which other
//!   parameter, in the words of the option names;
//! - [`device`]: the `parameters` stanza, and how the running bond must
//!   look (read back over rtnetlink).

pub mod checks;
pub mod device;
pub mod params;

/// The module.
pub type NetplanBond = kvmnet_core::netplan_device::Netplan<params::Params>;
