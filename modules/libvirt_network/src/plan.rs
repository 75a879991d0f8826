//! From current to desired: which steps, and which of them disrupt guests.
//!
//! Every difference is classified. Sections libvirt can change on a running
//! network (`virNetworkUpdate`) become live+config updates; anything else
//! needs the definition replaced, and on a running network a restart —
//! refused unless the task allows it.

use crate::model::{NetState, NetworkDef, normalize};
use crate::params::{Params, PresentAbsent};
use crate::xmlio::{self, one_line};
use kvmnet_core::libvirt::{UpdateCommand, UpdateSection};
use kvmnet_core::{Error, Result};

/// One `virNetworkUpdate` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub command: UpdateCommand,
    pub section: UpdateSection,
    /// Index of the `<ip>` element for DHCP sections, else -1.
    pub parent_index: i32,
    pub xml: String,
    /// For a modify: the element as it was, to put back on a rollback.
    pub previous_xml: Option<String>,
    pub live: bool,
    pub config: bool,
}

impl Update {
    /// The call that undoes this one.
    pub fn inverse(&self) -> Update {
        let (command, xml) = match self.command {
            UpdateCommand::Add => (UpdateCommand::Delete, self.xml.clone()),
            UpdateCommand::Delete => (UpdateCommand::Add, self.xml.clone()),
            UpdateCommand::Modify => (
                UpdateCommand::Modify,
                self.previous_xml.clone().unwrap_or_default(),
            ),
        };
        Update {
            command,
            xml,
            previous_xml: Some(self.xml.clone()),
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Define (or replace) the persistent definition.
    Define {
        xml: String,
        /// libvirt's XML of the definition being replaced; None for a new
        /// network. Put back verbatim on a rollback.
        previous: Option<String>,
        changed: Vec<String>,
    },
    Start,
    Stop,
    /// Stop and start a running network, then plug guests' NICs back in.
    Restart,
    Update(Update),
    Autostart(bool),
    Undefine {
        previous: String,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPlan {
    pub name: String,
    /// Whether the network ran before: a rollback leaves it running again.
    pub was_active: bool,
    pub actions: Vec<Action>,
}

impl kvmnet_core::Plan for NetworkPlan {
    fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    fn actions(&self) -> Vec<String> {
        let name = &self.name;
        self.actions
            .iter()
            .map(|a| match a {
                Action::Define { previous: None, .. } => format!("define network {name}"),
                Action::Define { changed, .. } => {
                    format!("redefine network {name} ({})", changed.join(", "))
                }
                Action::Start => format!("start network {name}"),
                Action::Stop => format!("stop network {name}"),
                Action::Restart => {
                    format!("restart network {name} and plug running guests' NICs back into it")
                }
                Action::Update(u) => {
                    let cmd = match u.command {
                        UpdateCommand::Add => "add",
                        UpdateCommand::Modify => "modify",
                        UpdateCommand::Delete => "delete",
                    };
                    let sides = match (u.live, u.config) {
                        (true, true) => "live and config",
                        (true, false) => "live",
                        _ => "config",
                    };
                    format!(
                        "update network {name}: {cmd} {} {} ({sides})",
                        u.section.name(),
                        u.xml
                    )
                }
                Action::Autostart(on) => format!(
                    "{} autostart of network {name}",
                    if *on { "enable" } else { "disable" }
                ),
                Action::Undefine { .. } => format!("undefine network {name}"),
            })
            .collect()
    }
}

/// The definition with every live-updatable section emptied: what is left
/// can only change by redefining.
fn fixed_part(def: &NetworkDef) -> NetworkDef {
    let mut d = def.clone();
    for ip in &mut d.ips {
        if let Some(dhcp) = &mut ip.dhcp {
            dhcp.hosts.clear();
            dhcp.ranges.clear();
        }
    }
    if let Some(dns) = &mut d.dns {
        dns.hosts.clear();
        dns.srv.clear();
        dns.txt.clear();
    }
    d.portgroups.clear();
    if let Some(f) = &mut d.forward {
        f.interfaces.clear();
    }
    normalize(d)
}

/// The field paths where two definitions differ.
fn changed_fields(current: &NetworkDef, desired: &NetworkDef) -> Vec<String> {
    let mut fields: Vec<String> = kvmnet_core::run::differences(current, desired)
        .into_iter()
        .map(|d| d.split(':').next().unwrap_or_default().to_string())
        .collect();
    fields.dedup();
    fields
}

/// The differences that need a redefine, as field paths.
pub fn fixed_differences(current: &NetworkDef, desired: &NetworkDef) -> Vec<String> {
    changed_fields(&fixed_part(current), &fixed_part(desired))
}

/// Deletes of what `from` has and `to` lacks, then adds of the reverse.
fn list_ops<T: PartialEq>(
    from: &[T],
    to: &[T],
    section: UpdateSection,
    parent_index: i32,
    xml: impl Fn(&T) -> String,
    out: &mut Vec<Update>,
) {
    let op = |command, item: &T| Update {
        command,
        section,
        parent_index,
        xml: xml(item),
        previous_xml: None,
        live: false,
        config: false,
    };
    out.extend(
        from.iter()
            .filter(|x| !to.contains(x))
            .map(|x| op(UpdateCommand::Delete, x)),
    );
    out.extend(
        to.iter()
            .filter(|x| !from.contains(x))
            .map(|x| op(UpdateCommand::Add, x)),
    );
}

/// The `virNetworkUpdate` calls that turn `from` into `to`, whose fixed
/// parts are equal.
pub fn section_ops(from: &NetworkDef, to: &NetworkDef) -> Vec<Update> {
    let mut ops = Vec::new();
    for (i, (a, b)) in from.ips.iter().zip(&to.ips).enumerate() {
        let empty = crate::params::Dhcp::default();
        let (da, db) = (
            a.dhcp.as_ref().unwrap_or(&empty),
            b.dhcp.as_ref().unwrap_or(&empty),
        );
        let idx = i as i32;
        list_ops(
            &da.hosts,
            &db.hosts,
            UpdateSection::DhcpHost,
            idx,
            |h| one_line(&xmlio::render_dhcp_host(h)),
            &mut ops,
        );
        list_ops(
            &da.ranges,
            &db.ranges,
            UpdateSection::DhcpRange,
            idx,
            |r| one_line(&xmlio::render_range(r)),
            &mut ops,
        );
    }
    let empty = crate::params::Dns::default();
    let (na, nb) = (
        from.dns.as_ref().unwrap_or(&empty),
        to.dns.as_ref().unwrap_or(&empty),
    );
    list_ops(
        &na.hosts,
        &nb.hosts,
        UpdateSection::DnsHost,
        -1,
        |h| one_line(&xmlio::render_dns_host(h)),
        &mut ops,
    );
    list_ops(
        &na.srv,
        &nb.srv,
        UpdateSection::DnsSrv,
        -1,
        |s| one_line(&xmlio::render_srv(s)),
        &mut ops,
    );
    list_ops(
        &na.txt,
        &nb.txt,
        UpdateSection::DnsTxt,
        -1,
        |t| one_line(&xmlio::render_txt(t)),
        &mut ops,
    );

    // Port groups are matched by name, so a changed one is modified in place.
    let group_xml = |g: &crate::params::Portgroup| one_line(&xmlio::render_portgroup(g));
    for g in &from.portgroups {
        match to.portgroups.iter().find(|h| h.name == g.name) {
            None => ops.push(update(
                UpdateCommand::Delete,
                UpdateSection::Portgroup,
                group_xml(g),
            )),
            Some(h) if h != g => ops.push(Update {
                previous_xml: Some(group_xml(g)),
                ..update(
                    UpdateCommand::Modify,
                    UpdateSection::Portgroup,
                    group_xml(h),
                )
            }),
            Some(_) => {}
        }
    }
    for h in to
        .portgroups
        .iter()
        .filter(|h| !from.portgroups.iter().any(|g| g.name == h.name))
    {
        ops.push(update(
            UpdateCommand::Add,
            UpdateSection::Portgroup,
            group_xml(h),
        ));
    }

    let ifaces = |d: &NetworkDef| {
        let mut v = d
            .forward
            .as_ref()
            .map(|f| f.interfaces.clone())
            .unwrap_or_default();
        v.sort();
        v
    };
    list_ops(
        &ifaces(from),
        &ifaces(to),
        UpdateSection::ForwardInterface,
        -1,
        |dev| format!("<interface dev='{}'/>", kvmnet_core::xml::escape(dev)),
        &mut ops,
    );
    ops
}

fn update(command: UpdateCommand, section: UpdateSection, xml: String) -> Update {
    Update {
        command,
        section,
        parent_index: -1,
        xml,
        previous_xml: None,
        live: false,
        config: false,
    }
}

/// One list of updates from the config-side and live-side lists: the same
/// call on both sides is made once with both flags.
fn merge(config: Vec<Update>, live: Vec<Update>) -> Vec<Update> {
    let mut out: Vec<Update> = config
        .into_iter()
        .map(|u| Update { config: true, ..u })
        .collect();
    for l in live {
        match out.iter_mut().find(|c| {
            c.command == l.command
                && c.section == l.section
                && c.xml == l.xml
                && c.parent_index == l.parent_index
        }) {
            Some(c) => c.live = true,
            None => out.push(Update { live: true, ..l }),
        }
    }
    out
}

/// The plan from `current` to `desired` for the task `p`.
pub fn plan(p: &Params, current: &NetState, desired: &NetState) -> Result<NetworkPlan> {
    let mut actions = Vec::new();
    let name = &p.name;
    if p.state == PresentAbsent::Absent {
        if current.def.is_some() || current.active {
            if current.active {
                actions.push(Action::Stop);
            }
            if let Some(previous) = &current.inactive_xml {
                actions.push(Action::Undefine {
                    previous: previous.clone(),
                });
            }
        }
        return Ok(NetworkPlan {
            name: name.clone(),
            was_active: current.active,
            actions,
        });
    }
    let want = desired
        .def
        .as_ref()
        .ok_or_else(|| Error::bug("desired state of a present network has no definition"))?;
    let xml = xmlio::render(want, current.uuid.as_deref());
    let running = current.active;
    match &current.def {
        None => {
            actions.push(Action::Define {
                xml,
                previous: None,
                changed: Vec::new(),
            });
            if desired.active {
                actions.push(Action::Start);
            }
        }
        Some(have) => {
            let fixed = fixed_differences(have, want);
            if !fixed.is_empty() && !current.unmodelled.is_empty() {
                return Err(Error::unsupported(format!(
                    "network {name} has settings kvmnet does not manage ({}); redefining it to change {} would drop them. \
                     Remove them first (virsh net-edit {name}), or leave the network alone",
                    current.unmodelled.join(", "),
                    fixed.join(", ")
                )));
            }
            if running && !desired.active {
                actions.push(Action::Stop);
            }
            if !fixed.is_empty() {
                let define = Action::Define {
                    xml,
                    previous: current.inactive_xml.clone(),
                    changed: changed_fields(have, want),
                };
                if running && desired.active {
                    if !p.allow_restart {
                        return Err(Error::unsupported(format!(
                            "network {name} is running, and changing {} needs it redefined and restarted, which cuts its guests off briefly. \
                             Nothing was changed; set allow_restart: true to allow the restart",
                            fixed.join(", ")
                        )));
                    }
                    actions.push(define);
                    actions.push(Action::Restart);
                } else {
                    actions.push(define);
                }
            } else if running && desired.active {
                let config = section_ops(have, want);
                let live = current
                    .live
                    .as_ref()
                    .map(|l| section_ops(l, want))
                    .unwrap_or_default();
                actions.extend(merge(config, live).into_iter().map(Action::Update));
            } else if have != want {
                actions.push(Action::Define {
                    xml,
                    previous: current.inactive_xml.clone(),
                    changed: changed_fields(have, want),
                });
            }
            if !running && desired.active {
                actions.push(Action::Start);
            }
        }
    }
    if desired.autostart != current.autostart {
        actions.push(Action::Autostart(desired.autostart));
    }
    Ok(NetworkPlan {
        name: name.clone(),
        was_active: current.active,
        actions,
    })
}
