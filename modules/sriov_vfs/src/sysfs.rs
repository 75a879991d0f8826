//! The PF and its VFs in sysfs: which PCI function a netdev is, the VF
//! count (`sriov_numvfs`, `sriov_totalvfs`, `sriov_drivers_autoprobe`),
//! each VF's PCI address (`virtfn<N>`) and netdev. Writing the count and
//! waiting for the VFs to appear.

use kvmnet_core::{Error, Mutation, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A physical function that can have VFs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pf {
    pub netdev: String,
    pub pci: String,
    /// `/sys/bus/pci/devices/<pci>`
    pub dir: PathBuf,
    pub total_vfs: u32,
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| Error::backend(format!("reading {}: {e}", path.display())))
}

fn number(path: &Path) -> Result<u32> {
    let text = read(path)?;
    text.parse()
        .map_err(|_| Error::backend(format!("{} holds '{text}', not a number", path.display())))
}

/// Whether `text` looks like a PCI address, `0000:01:00.0`.
pub fn is_pci_address(text: &str) -> bool {
    let parts: Vec<&str> = text.split([':', '.']).collect();
    parts.len() == 4
        && [4, 2, 2, 1]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The PF a task names, by netdev or PCI address; refused when it is not
/// there or cannot have VFs.
pub fn pf(device: &str) -> Result<Pf> {
    let (netdev, dir) = if is_pci_address(device) {
        let dir = PathBuf::from("/sys/bus/pci/devices").join(device);
        if !dir.exists() {
            return Err(Error::not_found(format!(
                "device: there is no PCI device {device}"
            )));
        }
        let netdev = std::fs::read_dir(dir.join("net"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "device: PCI device {device} has no network interface (no driver bound?)"
                ))
            })?;
        (netdev, dir)
    } else {
        kvmnet_core::validate::ifname("device", device)?;
        let link = PathBuf::from("/sys/class/net").join(device).join("device");
        let dir = std::fs::canonicalize(&link).map_err(|_| {
            if kvmnet_core::netdev_exists(device) {
                Error::invalid(format!(
                    "device: {device} is not a PCI network device (a virtual interface?), so it has no VFs"
                ))
            } else {
                Error::not_found(format!("device: there is no network interface {device}"))
            }
        })?;
        (device.to_string(), dir)
    };
    let pci = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if dir.join("physfn").exists() {
        return Err(Error::invalid(format!(
            "device: {netdev} ({pci}) is itself a virtual function; name its physical function"
        )));
    }
    let total = dir.join("sriov_totalvfs");
    if !total.exists() {
        return Err(Error::invalid(format!(
            "device: {netdev} ({pci}) does not support SR-IOV (no sriov_totalvfs)"
        )));
    }
    Ok(Pf {
        total_vfs: number(&total)?,
        netdev,
        pci,
        dir,
    })
}

impl Pf {
    pub fn num_vfs(&self) -> Result<u32> {
        number(&self.dir.join("sriov_numvfs"))
    }

    pub fn drivers_autoprobe(&self) -> Result<bool> {
        Ok(number(&self.dir.join("sriov_drivers_autoprobe"))? != 0)
    }

    /// VF `id`'s PCI address, when it exists.
    pub fn vf_pci(&self, id: u32) -> Option<String> {
        std::fs::read_link(self.dir.join(format!("virtfn{id}")))
            .ok()
            .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
    }

    /// The netdev of the VF at `pci`, when a network driver has it.
    pub fn vf_netdev(pci: &str) -> Option<String> {
        std::fs::read_dir(PathBuf::from("/sys/bus/pci/devices").join(pci).join("net"))
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .next()
    }

    fn write(&self, file: &str, value: &str, _: &Mutation) -> Result<()> {
        let path = self.dir.join(file);
        std::fs::write(&path, value)
            .map_err(|e| Error::backend(format!("writing {value} to {}: {e}", path.display())))
    }

    pub fn set_drivers_autoprobe(&self, on: bool, token: &Mutation) -> Result<()> {
        self.write("sriov_drivers_autoprobe", if on { "1" } else { "0" }, token)
    }

    pub fn set_num_vfs(&self, n: u32, token: &Mutation) -> Result<()> {
        self.write("sriov_numvfs", &n.to_string(), token)
    }

    /// Wait until `n` VFs exist as PCI functions and, when their driver
    /// binds them, have netdevs.
    pub fn wait_for_vfs(&self, n: u32, netdevs: bool, limit: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            let missing: Vec<u32> = (0..n)
                .filter(|id| match self.vf_pci(*id) {
                    None => true,
                    Some(pci) => netdevs && Pf::vf_netdev(&pci).is_none(),
                })
                .collect();
            if missing.is_empty() {
                // The netdevs exist under the kernel's names (eth1); udev
                // renames them next. Its queue empty, the names are final.
                if netdevs && kvmnet_core::cmd::on_path("udevadm") {
                    let left = limit.saturating_sub(start.elapsed()).as_secs().max(1);
                    kvmnet_core::cmd::read(&["udevadm", "settle", &format!("--timeout={left}")])?;
                }
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(Error::backend(format!(
                    "VFs {missing:?} of {} did not appear{} within {} s",
                    self.netdev,
                    if netdevs { " with a netdev" } else { "" },
                    limit.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_addresses_are_told_from_names() {
        assert!(is_pci_address("0000:01:00.0"));
        assert!(is_pci_address("0000:af:10.7"));
        assert!(!is_pci_address("enp1s0"));
        assert!(!is_pci_address("01:00.0"));
        assert!(!is_pci_address("0000:01:00.00"));
    }
}
