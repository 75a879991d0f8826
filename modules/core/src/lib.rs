//! kvmnet_core: what every kvmnet module shares.
//!
//! A module is a crate with a one-line `main` that calls
//! [`run::main`] with its [`run::Module`] implementation. Data flows:
//!
//! - [`args`] turns the args file into [`args::AnsibleFlags`] and a typed
//!   `Params`, checked against the [`spec::Spec`] derived from `Params`'
//!   JSON Schema (Ansible's own coercions and wording);
//! - [`run`] drives observe → desired → plan → (check mode stops) → apply
//!   → observe → verify, and prints the one JSON result;
//! - [`doc`] prints the Ansible docs (a doc-only `.py`) from the same schema;
//! - backends ([`libvirt`], [`xml`], [`cmd`]) are behind Cargo features so a
//!   binary links only what it talks to.

pub mod args;
pub mod cmd;
pub mod doc;
pub mod error;
pub mod firewall;
pub mod fs;
pub mod run;
pub mod spec;
pub mod validate;
pub mod yaml;

#[cfg(feature = "libvirt")]
pub mod libvirt;
#[cfg(feature = "netlink")]
pub mod netlink;
#[cfg(feature = "netplan")]
pub mod netplan;
#[cfg(feature = "netplan_device")]
pub mod netplan_device;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "xml")]
pub mod xml;

pub use error::{Error, ErrorKind, Result};
pub use run::{Module, Mutation, Plan};

/// Whether `name` is a network interface in this host's (namespace's) view.
pub fn netdev_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// Whether `name` is a Linux bridge.
pub fn is_bridge(name: &str) -> bool {
    std::path::Path::new("/sys/class/net")
        .join(name)
        .join("bridge")
        .is_dir()
}

/// The bridge (or bond) `name` is enslaved to, if any.
pub fn netdev_master(name: &str) -> Option<String> {
    let link = std::fs::read_link(
        std::path::Path::new("/sys/class/net")
            .join(name)
            .join("master"),
    )
    .ok()?;
    link.file_name().map(|n| n.to_string_lossy().into_owned())
}

/// The name a unit-variant enum value has in tasks and files (its serde
/// name): `802.3ad`, `hostdev`.
pub fn enum_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The `state` option of every module: whether the thing should exist.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Deserialize,
    serde::Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PresentAbsent {
    #[default]
    Present,
    Absent,
}
