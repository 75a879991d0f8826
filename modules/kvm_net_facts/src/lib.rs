//! kvmnet.network.kvm_net_facts: the host's KVM networking read in one
//! call, checked against the troubleshooting checklist, and drawn.
//!
//! - [`host`]: links, bridges, bonds, VLANs, SR-IOV from the kernel;
//! - [`guests`]: libvirt's networks and domains, DHCP servers, leases and
//!   guest addresses;
//! - [`rules`]: libvirt's and kvmnet's firewall rules;
//! - [`findings`]: the checklist, a pure function of the facts;
//! - [`topology`]: the picture, a pure function of the facts;
//! - this file: the Module glue. Observing is all it does: the plan is
//!   always empty, so the run driver reports `changed: false` and never
//!   calls `apply`.

pub mod facts;
pub mod findings;
pub mod guests;
pub mod host;
pub mod params;
pub mod rules;
pub mod topology;

use facts::{Facts, LibvirtStatus};
use findings::{Finding, Settings};
use kvmnet_core::doc::ModuleDoc;
use kvmnet_core::firewall::Listings;
use kvmnet_core::libvirt::{self, Libvirt};
use kvmnet_core::{Module, Mutation, Result};
use params::Params;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use topology::Topology;

#[derive(Debug)]
pub struct KvmNetFacts;

#[derive(Debug)]
pub struct Host {
    pub uri: String,
    /// The connection, or libvirt's error: the host's side is gathered
    /// either way.
    pub libvirt: std::result::Result<Libvirt, String>,
}

/// What the module returns, at the top level and as
/// `ansible_facts.kvmnet`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    #[serde(flatten)]
    pub facts: Facts,
    /// One entry per problem found, errors first.
    pub findings: Vec<Finding>,
    /// The host's network as a picture.
    pub topology: Topology,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AnsibleFacts {
    /// The same as the module's other return values (facts, findings,
    /// topology), for later tasks and plays and for fact caching.
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub kvmnet: Report,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Returns {
    #[serde(flatten)]
    pub report: Report,
    /// Facts for Ansible: C(ansible_facts.kvmnet).
    pub ansible_facts: AnsibleFacts,
}

/// Nothing to do, always.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoChanges;

impl kvmnet_core::Plan for NoChanges {
    fn is_empty(&self) -> bool {
        true
    }
    fn actions(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Gather everything, then check and draw it.
pub fn report(host: &Host, settings: &Settings) -> Result<Report> {
    let mut facts = Facts {
        libvirt: LibvirtStatus {
            uri: host.uri.clone(),
            reachable: host.libvirt.is_ok(),
            error: host.libvirt.as_ref().err().cloned(),
        },
        ..Facts::default()
    };
    host::gather(&mut facts)?;
    if let Ok(lv) = &host.libvirt {
        guests::gather(&mut facts, lv, libvirt::is_local(&host.uri))?;
        guests::link_taps(&mut facts);
    }
    facts.firewall = rules::classify(&Listings::read(&[
        rules::LIBVIRT_TABLE,
        rules::KVMNET_TABLE,
    ])?);
    let mut findings = findings::check(&facts, settings);
    findings.sort_by_key(|f| f.severity);
    let topology = topology::render(&facts);
    Ok(Report {
        facts,
        findings,
        topology,
    })
}

impl Module for KvmNetFacts {
    const NAME: &'static str = "kvm_net_facts";
    const DOC: ModuleDoc = ModuleDoc {
        short_description: "Gather a KVM host's networking, check it, and draw it",
        version_added: "0.1.0",
        requirements: &[
            "libvirt's client library (libvirt.so.0) on the target; libvirtd for the guest and network facts",
            "iptables-save and nft on the target for the firewall rules (either may be missing)",
        ],
        notes: &[
            "Read-only: changed is always false, in check mode too.",
            "Guest addresses come from the network's DHCP leases, then the guest agent (when its channel is connected), then the host's ARP table; a guest with a static address that has not talked to the host shows none.",
            "The DHCP server check and the network leases look for libvirt's dnsmasq on the target, so they run only for a local libvirt URI (qemu:///system).",
        ],
        examples: include_str!("../examples.yml"),
        read_only: true,
    };
    type Params = Params;
    type Returns = Returns;
    type Host = Host;
    type State = Report;
    type Plan = NoChanges;

    fn connect(p: &Params) -> Result<Host> {
        let uri = libvirt::resolve_uri(p.uri.as_deref());
        let libvirt = Libvirt::open(&uri).map_err(|e| e.msg);
        Ok(Host { uri, libvirt })
    }

    fn observe(host: &Host, p: &Params) -> Result<Report> {
        report(
            host,
            &Settings {
                ignore: p.ignore.clone(),
                max_drops: p.max_drops,
            },
        )
    }

    fn desired(_: &Host, _: &Params, current: &Report) -> Result<Report> {
        Ok(current.clone())
    }

    fn plan(_: &Params, _: &Report, _: &Report) -> Result<NoChanges> {
        Ok(NoChanges)
    }

    fn render(_: &Report) -> String {
        String::new()
    }

    fn subject(_: &Params) -> String {
        "the host's KVM networking".to_string()
    }

    fn apply(_: &Host, _: &Params, _: &NoChanges, _: &Mutation) -> Result<()> {
        Ok(())
    }

    fn returns(_: &Params, state: &Report, _: &NoChanges) -> Returns {
        Returns {
            report: state.clone(),
            ansible_facts: AnsibleFacts {
                kvmnet: state.clone(),
            },
        }
    }
}
