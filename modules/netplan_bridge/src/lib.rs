//! kvmnet.network.netplan_bridge: a Linux bridge in netplan, applied safely.
//!
//! The file, validation, apply, verification, revert and connection guard
//! are [`kvmnet_core::netplan_device`]'s, shared with netplan_bond. Here:
//!
//! - [`params`]: the options (and the docs);
//! - [`device`]: the bridge's `parameters`, its checks, how the running
//!   bridge must look, and the settings networkd leaves on an existing one.

pub mod device;
pub mod params;

/// The module.
pub type NetplanBridge = kvmnet_core::netplan_device::Netplan<params::Params>;
