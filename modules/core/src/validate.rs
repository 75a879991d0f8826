//! Checks for values that end up in commands, XML and kernel calls.
//! Values are parsed, not pattern-matched, and the error names the option.

use crate::error::{Error, Result};
use std::net::IpAddr;

/// A Linux interface name: 1-15 bytes, no `/`, `:` or whitespace.
pub fn ifname(option: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 15 {
        return Err(Error::invalid(format!(
            "{option}: '{name}' is not a valid interface name: it must be 1 to 15 bytes long (it is {})",
            name.len()
        )));
    }
    if name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(Error::invalid(format!(
            "{option}: '{name}' is not a valid interface name: no '/', ':' or whitespace allowed"
        )));
    }
    Ok(())
}

/// A MAC address `aa:bb:cc:dd:ee:ff` (any case); returns it lowercased.
pub fn mac(option: &str, text: &str) -> Result<String> {
    let parts: Vec<&str> = text.split(':').collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && u8::from_str_radix(p, 16).is_ok());
    if !ok {
        return Err(Error::invalid(format!(
            "{option}: '{text}' is not a MAC address (expected aa:bb:cc:dd:ee:ff)"
        )));
    }
    Ok(text.to_ascii_lowercase())
}

/// An IPv4 or IPv6 address, without prefix.
pub fn ip(option: &str, text: &str) -> Result<IpAddr> {
    text.trim().parse().map_err(|_| {
        let hint = if text.contains('/') {
            " (give the prefix length separately)"
        } else {
            ""
        };
        Error::invalid(format!("{option}: '{text}' is not an IP address{hint}"))
    })
}

/// The prefix length a dotted IPv4 netmask stands for.
pub fn netmask_prefix(option: &str, text: &str) -> Result<u8> {
    let mask: std::net::Ipv4Addr = text
        .parse()
        .map_err(|_| Error::invalid(format!("{option}: '{text}' is not an IPv4 netmask")))?;
    let bits = u32::from(mask);
    if bits.leading_ones() + bits.trailing_zeros() != 32 {
        return Err(Error::invalid(format!(
            "{option}: '{text}' is not a contiguous netmask"
        )));
    }
    Ok(bits.leading_ones() as u8)
}

/// Whether `addr` is inside `net/prefix` (same family only).
pub fn in_subnet(addr: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix.min(32)))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix.min(128)))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names() {
        assert!(ifname("bridge.name", "virbr10").is_ok());
        assert!(
            ifname("bridge.name", "a-very-long-name0")
                .unwrap_err()
                .msg
                .contains("1 to 15 bytes")
        );
        assert!(ifname("x", "br/0").is_err());
        assert!(ifname("x", "br 0").is_err());
        assert!(ifname("x", "").is_err());
    }

    #[test]
    fn macs_and_masks() {
        assert_eq!(mac("m", "52:54:00:AB:cd:01").unwrap(), "52:54:00:ab:cd:01");
        assert!(mac("m", "52:54:00:ab:cd").is_err());
        assert!(mac("m", "52-54-00-ab-cd-01").is_err());
        assert_eq!(netmask_prefix("n", "255.255.255.0").unwrap(), 24);
        assert!(netmask_prefix("n", "255.0.255.0").is_err());
    }

    #[test]
    fn subnets() {
        let net: IpAddr = "192.168.100.1".parse().unwrap();
        assert!(in_subnet("192.168.100.254".parse().unwrap(), net, 24));
        assert!(!in_subnet("192.168.101.2".parse().unwrap(), net, 24));
        assert!(in_subnet(
            "fd00::5".parse().unwrap(),
            "fd00::1".parse().unwrap(),
            64
        ));
        assert!(!in_subnet("fd00::5".parse().unwrap(), net, 24));
    }
}
