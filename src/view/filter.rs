//! The display filter (`/` in the TUI): an address, a CIDR block, or a port.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// What the user typed after `/`, parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisplayFilter {
    /// An address block: `10.0.0.0/8`, `2001:db8::/32`, or one address (`/32`, `/128`).
    Net {
        /// Network address (host bits cleared).
        addr: IpAddr,
        /// Prefix length.
        prefix: u8,
    },
    /// A TCP/UDP port on either side: `443`, `:443`, `port 443`.
    Port(u16),
}

/// Why a filter did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an address, CIDR block or port: '{0}'")]
pub struct FilterError(pub String);

impl DisplayFilter {
    /// Whether `ip` is inside the block (ports match no address).
    pub fn matches_ip(&self, ip: &IpAddr) -> bool {
        match *self {
            DisplayFilter::Net { addr, prefix } => masked(ip, prefix).is_some_and(|m| m == addr),
            DisplayFilter::Port(_) => false,
        }
    }

    /// Whether a decoded packet matches (either address in the block, or either port).
    pub fn matches_packet(&self, meta: &crate::decode::PacketMeta) -> bool {
        match *self {
            DisplayFilter::Net { .. } => meta.src.iter().chain(meta.dst.iter()).any(|ip| self.matches_ip(ip)),
            DisplayFilter::Port(p) => meta.ports.is_some_and(|(a, b)| a == p || b == p),
        }
    }

    /// Whether a flow between `a` and `b` matches.
    pub fn matches_flow(&self, a: (IpAddr, u16), b: (IpAddr, u16)) -> bool {
        match *self {
            DisplayFilter::Net { .. } => self.matches_ip(&a.0) || self.matches_ip(&b.0),
            DisplayFilter::Port(p) => a.1 == p || b.1 == p,
        }
    }
}

/// `ip` with all but the first `prefix` bits cleared; `None` if the families differ in width.
fn masked(ip: &IpAddr, prefix: u8) -> Option<IpAddr> {
    match ip {
        IpAddr::V4(v4) if prefix <= 32 => {
            let bits = u32::from(*v4);
            let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
            Some(IpAddr::V4((bits & mask).into()))
        }
        IpAddr::V6(v6) if prefix <= 128 => {
            let bits = u128::from(*v6);
            let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(prefix)) };
            Some(IpAddr::V6((bits & mask).into()))
        }
        _ => None,
    }
}

impl FromStr for DisplayFilter {
    type Err = FilterError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        let err = || FilterError(t.to_string());
        let port_text = t.strip_prefix("port").map(str::trim).or_else(|| t.strip_prefix(':')).unwrap_or(t);
        if let Ok(port) = port_text.parse::<u16>() {
            return Ok(DisplayFilter::Port(port));
        }
        let (addr, prefix) = match t.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().map_err(|_| err())?, Some(p.parse::<u8>().map_err(|_| err())?)),
            None => (t.parse::<IpAddr>().map_err(|_| err())?, None),
        };
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(width);
        if prefix > width {
            return Err(err());
        }
        Ok(DisplayFilter::Net { addr: masked(&addr, prefix).ok_or_else(err)?, prefix })
    }
}

impl fmt::Display for DisplayFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisplayFilter::Net { addr, prefix } if (addr.is_ipv4() && *prefix == 32) || *prefix == 128 => {
                write!(f, "{addr}")
            }
            DisplayFilter::Net { addr, prefix } => write!(f, "{addr}/{prefix}"),
            DisplayFilter::Port(p) => write!(f, "port {p}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_matches() {
        let f: DisplayFilter = "10.1.2.3/16".parse().unwrap();
        assert_eq!(f, DisplayFilter::Net { addr: ip("10.1.0.0"), prefix: 16 });
        assert!(f.matches_ip(&ip("10.1.200.9")) && !f.matches_ip(&ip("10.2.0.1")) && !f.matches_ip(&ip("::1")));
        assert_eq!(f.to_string(), "10.1.0.0/16");
        let one: DisplayFilter = "2001:db8::1".parse().unwrap();
        assert!(one.matches_ip(&ip("2001:db8::1")) && !one.matches_ip(&ip("2001:db8::2")));
        for text in ["443", ":443", "port 443"] {
            assert_eq!(text.parse::<DisplayFilter>(), Ok(DisplayFilter::Port(443)));
        }
        let p = DisplayFilter::Port(53);
        assert!(p.matches_flow((ip("10.0.0.1"), 40000), (ip("10.0.0.53"), 53)));
        assert!("0.0.0.0/0".parse::<DisplayFilter>().unwrap().matches_ip(&ip("8.8.8.8")));
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["", "host", "10.0.0.1/33", "::/129", "70000", "1.2.3"] {
            assert!(bad.parse::<DisplayFilter>().is_err(), "{bad}");
        }
    }
}
