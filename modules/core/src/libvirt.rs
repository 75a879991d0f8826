//! The libvirt backend: a connection whose changing calls need a
//! [`Mutation`] token, so they can only run inside a module's `apply`.

use crate::error::{Error, ErrorKind, Result};
use crate::run::Mutation;
use virt::connect::Connect;
use virt::domain::Domain;
use virt::error::ErrorNumber;
use virt::network::Network;
use virt::sys;

/// The URI a module connects to: the task's `uri`, else libvirt's own
/// default (`LIBVIRT_DEFAULT_URI`), else the system instance.
pub fn resolve_uri(param: Option<&str>) -> String {
    match param {
        Some(u) if !u.is_empty() => u.to_string(),
        _ => std::env::var("LIBVIRT_DEFAULT_URI")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "qemu:///system".to_string()),
    }
}

/// Whether devices named in a task can be checked on this host: only for
/// a local qemu driver (a remote URI's devices are on another machine).
pub fn is_local(uri: &str) -> bool {
    uri.starts_with("qemu:///") || uri.starts_with("qemu+unix:///")
}

fn backend(doing: impl std::fmt::Display, e: virt::error::Error) -> Error {
    let kind = if e
        .code()
        .is_any(vec![ErrorNumber::NoNetwork, ErrorNumber::NoDomain])
    {
        ErrorKind::NotFound
    } else {
        ErrorKind::Backend
    };
    // libvirt's own words, without the "[code=..]" suffix of its Display.
    Error::new(kind, format!("{doing}: {}", e.message()))
}

/// Where libvirt looks for a running domain's addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSource {
    /// The DHCP leases of the libvirt network the NIC is on.
    Lease,
    /// The QEMU guest agent inside the guest.
    Agent,
    /// The host's neighbour (ARP) table.
    Arp,
}

/// A domain as listed: its name, whether it runs, and its definition (the
/// live one when it runs, else the persistent one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainListing {
    pub name: String,
    pub running: bool,
    pub xml: String,
}

/// What changes in a network update: libvirt's `virNetworkUpdate` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateCommand {
    Add,
    Modify,
    Delete,
}

/// The network XML sections `virNetworkUpdate` can change on a running
/// network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateSection {
    DhcpHost,
    DhcpRange,
    ForwardInterface,
    Portgroup,
    DnsHost,
    DnsTxt,
    DnsSrv,
}

impl UpdateSection {
    /// virsh's name for it, for messages.
    pub fn name(self) -> &'static str {
        match self {
            UpdateSection::DhcpHost => "ip-dhcp-host",
            UpdateSection::DhcpRange => "ip-dhcp-range",
            UpdateSection::ForwardInterface => "forward-interface",
            UpdateSection::Portgroup => "portgroup",
            UpdateSection::DnsHost => "dns-host",
            UpdateSection::DnsTxt => "dns-txt",
            UpdateSection::DnsSrv => "dns-srv",
        }
    }
    fn raw(self) -> sys::virNetworkUpdateSection {
        match self {
            UpdateSection::DhcpHost => sys::VIR_NETWORK_SECTION_IP_DHCP_HOST,
            UpdateSection::DhcpRange => sys::VIR_NETWORK_SECTION_IP_DHCP_RANGE,
            UpdateSection::ForwardInterface => sys::VIR_NETWORK_SECTION_FORWARD_INTERFACE,
            UpdateSection::Portgroup => sys::VIR_NETWORK_SECTION_PORTGROUP,
            UpdateSection::DnsHost => sys::VIR_NETWORK_SECTION_DNS_HOST,
            UpdateSection::DnsTxt => sys::VIR_NETWORK_SECTION_DNS_TXT,
            UpdateSection::DnsSrv => sys::VIR_NETWORK_SECTION_DNS_SRV,
        }
    }
}

/// A network as libvirt has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    /// The persistent definition (`net-dumpxml --inactive`).
    pub inactive_xml: String,
    /// The running definition, when the network is active.
    pub live_xml: Option<String>,
    pub autostart: bool,
}

/// A running domain's name and live XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainInfo {
    pub name: String,
    pub live_xml: String,
}

/// A domain as libvirt has it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainDefs {
    /// The persistent definition (`dumpxml --inactive`); None for a
    /// transient domain.
    pub persistent_xml: Option<String>,
    /// The running definition, when the domain runs.
    pub live_xml: Option<String>,
}

/// What happens to a device of a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChange {
    Attach,
    Update,
    Detach,
}

/// Which definitions of a domain a device change affects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Affect {
    pub live: bool,
    pub config: bool,
}

impl Affect {
    fn flags(self) -> u32 {
        let mut f = 0;
        if self.live {
            f |= sys::VIR_DOMAIN_AFFECT_LIVE;
        }
        if self.config {
            f |= sys::VIR_DOMAIN_AFFECT_CONFIG;
        }
        f
    }
}

#[derive(Debug)]
pub struct Libvirt {
    conn: Connect,
    pub uri: String,
}

impl Libvirt {
    pub fn open(uri: &str) -> Result<Libvirt> {
        // libvirt's default handler prints every error to stderr; we report
        // errors ourselves, in the result.
        virt::error::clear_error_callback();
        let conn = Connect::open(Some(uri))
            .map_err(|e| backend(format!("connecting to libvirt at {uri}"), e))?;
        Ok(Libvirt {
            conn,
            uri: uri.to_string(),
        })
    }

    fn lookup(&self, name: &str) -> Result<Option<Network>> {
        match self.conn.lookup_network_by_name(name) {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.code().is(ErrorNumber::NoNetwork) => Ok(None),
            Err(e) => Err(backend(format!("looking up network {name}"), e)),
        }
    }

    fn must(&self, name: &str) -> Result<Network> {
        self.lookup(name)?
            .ok_or_else(|| Error::not_found(format!("network {name} does not exist")))
    }

    /// The network's definitions, or None when there is no such network.
    pub fn network(&self, name: &str) -> Result<Option<NetworkInfo>> {
        let Some(net) = self.lookup(name)? else {
            return Ok(None);
        };
        let doing = |what: &str| format!("reading {what} of network {name}");
        let active = net
            .is_active()
            .map_err(|e| backend(doing("the state"), e))?;
        // libvirt's test driver (test:///default) knows no INACTIVE flag;
        // there the one definition is the persistent one.
        let inactive_xml = match net.xml_desc(sys::VIR_NETWORK_XML_INACTIVE) {
            Err(e) if e.code().is(ErrorNumber::InvalidArg) && self.uri.starts_with("test:") => {
                net.xml_desc(0)
            }
            other => other,
        }
        .map_err(|e| backend(doing("the XML"), e))?;
        let live_xml = if active {
            Some(
                net.xml_desc(0)
                    .map_err(|e| backend(doing("the live XML"), e))?,
            )
        } else {
            None
        };
        let autostart = net
            .autostart()
            .map_err(|e| backend(doing("autostart"), e))?;
        Ok(Some(NetworkInfo {
            inactive_xml,
            live_xml,
            autostart,
        }))
    }

    /// Running domains with their live XML.
    pub fn running_domains(&self) -> Result<Vec<DomainInfo>> {
        let domains = self
            .conn
            .list_all_domains(sys::VIR_CONNECT_LIST_DOMAINS_ACTIVE)
            .map_err(|e| backend("listing running domains", e))?;
        domains
            .iter()
            .map(|d| {
                let name = d
                    .name()
                    .map_err(|e| backend("reading a domain's name", e))?;
                let live_xml = d
                    .xml_desc(0)
                    .map_err(|e| backend(format!("reading domain {name}"), e))?;
                Ok(DomainInfo { name, live_xml })
            })
            .collect()
    }

    fn lookup_domain(&self, name: &str) -> Result<Option<Domain>> {
        match self.conn.lookup_domain_by_name(name) {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.code().is(ErrorNumber::NoDomain) => Ok(None),
            Err(e) => Err(backend(format!("looking up domain {name}"), e)),
        }
    }

    fn must_domain(&self, name: &str) -> Result<Domain> {
        self.lookup_domain(name)?
            .ok_or_else(|| Error::not_found(format!("domain {name} does not exist")))
    }

    /// The domain's definitions, or None when there is no such domain.
    pub fn domain(&self, name: &str) -> Result<Option<DomainDefs>> {
        let Some(dom) = self.lookup_domain(name)? else {
            return Ok(None);
        };
        let doing = |what: &str| format!("reading {what} of domain {name}");
        let active = dom
            .is_active()
            .map_err(|e| backend(doing("the state"), e))?;
        let persistent = dom
            .is_persistent()
            .map_err(|e| backend(doing("persistence"), e))?;
        let persistent_xml = if persistent {
            Some(
                dom.xml_desc(sys::VIR_DOMAIN_XML_INACTIVE)
                    .map_err(|e| backend(doing("the persistent XML"), e))?,
            )
        } else {
            None
        };
        let live_xml = if active {
            Some(
                dom.xml_desc(0)
                    .map_err(|e| backend(doing("the live XML"), e))?,
            )
        } else {
            None
        };
        Ok(Some(DomainDefs {
            persistent_xml,
            live_xml,
        }))
    }

    /// Every domain, running or not, with its definition.
    pub fn domains(&self) -> Result<Vec<DomainListing>> {
        let domains = self
            .conn
            .list_all_domains(0)
            .map_err(|e| backend("listing domains", e))?;
        let mut out = Vec::new();
        for d in &domains {
            let name = d
                .name()
                .map_err(|e| backend("reading a domain's name", e))?;
            let running = d.is_active().unwrap_or(false);
            let xml = match d.xml_desc(0) {
                Ok(x) => x,
                // Undefined between the listing and now.
                Err(e) if e.code().is(ErrorNumber::NoDomain) => continue,
                Err(e) => return Err(backend(format!("reading domain {name}"), e)),
            };
            out.push(DomainListing { name, running, xml });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The names of every network, active or not, sorted.
    pub fn network_names(&self) -> Result<Vec<String>> {
        let nets = self
            .conn
            .list_all_networks(0)
            .map_err(|e| backend("listing networks", e))?;
        let mut names = nets
            .iter()
            .map(|n| n.name().map_err(|e| backend("reading a network's name", e)))
            .collect::<Result<Vec<_>>>()?;
        names.sort();
        Ok(names)
    }

    /// The IPv4 addresses of a running domain's NICs, by MAC, as libvirt
    /// finds them from `source`. Empty when the domain does not run.
    pub fn domain_addresses(
        &self,
        name: &str,
        source: AddressSource,
    ) -> Result<Vec<(String, String)>> {
        let dom = self.must_domain(name)?;
        if !dom.is_active().unwrap_or(false) {
            return Ok(Vec::new());
        }
        let source = match source {
            AddressSource::Lease => sys::VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
            AddressSource::Agent => sys::VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT,
            AddressSource::Arp => sys::VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP,
        };
        let nics = dom
            .interface_addresses(source, 0)
            .map_err(|e| backend(format!("reading the addresses of domain {name}"), e))?;
        Ok(nics
            .into_iter()
            .flat_map(|n| {
                let mac = n.hwaddr.unwrap_or_default().to_ascii_lowercase();
                n.addrs
                    .into_iter()
                    .filter(|a| a.typed == i64::from(sys::VIR_IP_ADDR_TYPE_IPV4))
                    .map(move |a| (mac.clone(), a.addr))
            })
            .collect())
    }

    /// Whether a libvirt network of that name exists.
    pub fn network_exists(&self, name: &str) -> Result<bool> {
        Ok(self.lookup(name)?.is_some())
    }

    /// Attach, update or detach one device (virDomain*DeviceFlags). A
    /// detach from a running guest completes only when the guest releases
    /// the device: callers wait for that.
    pub fn change_device(
        &self,
        op: DeviceChange,
        domain: &str,
        xml: &str,
        affect: Affect,
        _: &Mutation,
    ) -> Result<()> {
        let dom = self.must_domain(domain)?;
        let flags = affect.flags();
        let (result, doing) = match op {
            DeviceChange::Attach => (dom.attach_device_flags(xml, flags), "attaching a device to"),
            DeviceChange::Update => (dom.update_device_flags(xml, flags), "updating a device of"),
            DeviceChange::Detach => (
                dom.detach_device_flags(xml, flags),
                "detaching a device from",
            ),
        };
        result.map_err(|e| backend(format!("{doing} domain {domain}"), e))
    }

    pub fn define_network(&self, xml: &str, _: &Mutation) -> Result<()> {
        self.conn
            .define_network_xml(xml)
            .map(drop)
            .map_err(|e| backend("defining the network", e))
    }

    pub fn start_network(&self, name: &str, _: &Mutation) -> Result<()> {
        self.must(name)?
            .create()
            .map_err(|e| backend(format!("starting network {name}"), e))
    }

    pub fn stop_network(&self, name: &str, _: &Mutation) -> Result<()> {
        self.must(name)?
            .destroy()
            .map_err(|e| backend(format!("stopping network {name}"), e))
    }

    pub fn undefine_network(&self, name: &str, _: &Mutation) -> Result<()> {
        self.must(name)?
            .undefine()
            .map_err(|e| backend(format!("undefining network {name}"), e))
    }

    pub fn set_network_autostart(&self, name: &str, on: bool, _: &Mutation) -> Result<()> {
        self.must(name)?
            .set_autostart(on)
            .map_err(|e| backend(format!("setting autostart of network {name}"), e))
    }

    /// `virNetworkUpdate`: change one element of a section, in the running
    /// network (`live`) and/or its definition (`config`).
    #[allow(clippy::too_many_arguments)]
    pub fn update_network(
        &self,
        name: &str,
        command: UpdateCommand,
        section: UpdateSection,
        parent_index: i32,
        xml: &str,
        live: bool,
        config: bool,
        _: &Mutation,
    ) -> Result<()> {
        let cmd = match command {
            UpdateCommand::Add => sys::VIR_NETWORK_UPDATE_COMMAND_ADD_LAST,
            UpdateCommand::Modify => sys::VIR_NETWORK_UPDATE_COMMAND_MODIFY,
            UpdateCommand::Delete => sys::VIR_NETWORK_UPDATE_COMMAND_DELETE,
        };
        let mut flags = 0;
        if live {
            flags |= sys::VIR_NETWORK_UPDATE_AFFECT_LIVE;
        }
        if config {
            flags |= sys::VIR_NETWORK_UPDATE_AFFECT_CONFIG;
        }
        self.must(name)?
            .update(cmd, section.raw(), parent_index, xml, flags)
            .map_err(|e| {
                backend(
                    format!(
                        "updating {} of network {name} ({command:?} {xml})",
                        section.name()
                    ),
                    e,
                )
            })
    }
}
