//! Port → service names, for display: the system's `/etc/services` when present, with a
//! built-in table of common services as the fallback.

use std::collections::HashMap;

/// Well-known services, for systems without `/etc/services`.
const BUILTIN: &[(u16, &str)] = &[
    (20, "ftp-data"),
    (21, "ftp"),
    (22, "ssh"),
    (23, "telnet"),
    (25, "smtp"),
    (53, "domain"),
    (67, "bootps"),
    (68, "bootpc"),
    (69, "tftp"),
    (80, "http"),
    (110, "pop3"),
    (119, "nntp"),
    (123, "ntp"),
    (137, "netbios-ns"),
    (138, "netbios-dgm"),
    (139, "netbios-ssn"),
    (143, "imap"),
    (161, "snmp"),
    (162, "snmp-trap"),
    (179, "bgp"),
    (389, "ldap"),
    (443, "https"),
    (445, "microsoft-ds"),
    (465, "submissions"),
    (500, "isakmp"),
    (514, "syslog"),
    (546, "dhcpv6-client"),
    (547, "dhcpv6-server"),
    (587, "submission"),
    (636, "ldaps"),
    (853, "domain-s"),
    (993, "imaps"),
    (995, "pop3s"),
    (1194, "openvpn"),
    (1433, "ms-sql-s"),
    (1812, "radius"),
    (1883, "mqtt"),
    (2049, "nfs"),
    (3306, "mysql"),
    (3389, "ms-wbt-server"),
    (4789, "vxlan"),
    (5060, "sip"),
    (5353, "mdns"),
    (5432, "postgresql"),
    (5672, "amqp"),
    (6379, "redis"),
    (6443, "kube-api"),
    (8080, "http-alt"),
    (8443, "https-alt"),
    (9092, "kafka"),
    (27017, "mongodb"),
    (51820, "wireguard"),
];

/// Service names by (transport, port).
#[derive(Clone, Debug, Default)]
pub struct Services {
    tcp: HashMap<u16, String>,
    udp: HashMap<u16, String>,
}

impl Services {
    /// The built-in table only.
    pub fn builtin() -> Self {
        let mut s = Services::default();
        for (port, name) in BUILTIN {
            s.tcp.insert(*port, (*name).to_string());
            s.udp.insert(*port, (*name).to_string());
        }
        s
    }

    /// `/etc/services` over the built-in table (its names win), if it can be read.
    pub fn system() -> Self {
        let mut s = Self::builtin();
        if let Ok(text) = std::fs::read_to_string("/etc/services") {
            s.merge(&text);
        }
        s
    }

    /// Adds the entries of an `/etc/services`-format text.
    pub fn merge(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let (Some(name), Some(spec)) = (words.next(), words.next()) else { continue };
            let Some((port, proto)) = spec.split_once('/') else { continue };
            let Ok(port) = port.parse::<u16>() else { continue };
            let table = match proto {
                "tcp" => &mut self.tcp,
                "udp" => &mut self.udp,
                _ => continue,
            };
            table.insert(port, name.to_string());
        }
    }

    /// The name of `port` for IP protocol `ip_proto` (6 or 17), if known.
    pub fn name(&self, ip_proto: u8, port: u16) -> Option<&str> {
        match ip_proto {
            6 => self.tcp.get(&port),
            17 => self.udp.get(&port),
            _ => None,
        }
        .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_and_merge() {
        let mut s = Services::builtin();
        assert_eq!(s.name(6, 443), Some("https"));
        assert_eq!(s.name(1, 443), None);
        s.merge("# comment\nmyproto\t7777/tcp\t# mine\nbad line\nhttp 80/tcp www\n");
        assert_eq!(s.name(6, 7777), Some("myproto"));
        assert_eq!(s.name(17, 7777), None);
    }
}
