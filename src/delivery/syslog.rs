//! `--syslog udp://HOST:PORT | tcp://HOST:PORT | unix:PATH`: one RFC 5424 line per
//! message (facility local0), with the incident in structured data. Over TCP, lines
//! are framed by octet counting (RFC 6587); over UDP and a Unix socket, one datagram
//! each.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use super::{Message, Occasion, Transport};
use crate::detect::Severity;

/// Facility local0 (RFC 5424 §6.2.1), the usual one for an application's own alerts.
const FACILITY: u8 = 16;
/// Longest message text sent (a datagram must stay well under 64 kB).
const MAX_TEXT: usize = 2000;

/// Where the lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A UDP collector.
    Udp(String),
    /// A TCP collector.
    Tcp(String),
    /// A Unix datagram socket (`/dev/log`).
    Unix(std::path::PathBuf),
}

/// Reads a `--syslog` target.
pub fn parse(s: &str) -> Result<Target, String> {
    let hostport = |rest: &str| -> Result<String, String> {
        match rest.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0) => Ok(rest.to_string()),
            _ => Err(format!("{s}: expected HOST:PORT")),
        }
    };
    if let Some(rest) = s.strip_prefix("udp://") {
        Ok(Target::Udp(hostport(rest)?))
    } else if let Some(rest) = s.strip_prefix("tcp://") {
        Ok(Target::Tcp(hostport(rest)?))
    } else if let Some(path) = s.strip_prefix("unix:") {
        if path.is_empty() {
            return Err(format!("{s}: no socket path"));
        }
        Ok(Target::Unix(path.into()))
    } else {
        Err(format!("{s}: expected udp://HOST:PORT, tcp://HOST:PORT or unix:PATH"))
    }
}

/// Sends lines to one target, reconnecting a TCP stream that broke.
pub struct Syslog {
    target: Target,
    tcp: Option<TcpStream>,
    host: String,
}

impl Syslog {
    /// A sender to `target`.
    pub fn new(target: Target) -> Syslog {
        Syslog { target, tcp: None, host: super::hostname() }
    }
}

/// RFC 5424 severity of a message.
fn severity(m: &Message) -> u8 {
    let worst = m.alerts.iter().map(|a| a.severity).max().unwrap_or(Severity::Low);
    match (m.occasion, worst) {
        (Occasion::Ended, _) => 6,
        (_, Severity::Critical) => 1,
        (_, Severity::High) => 2,
        (_, Severity::Medium) => 4,
        (_, Severity::Low) => 5,
    }
}

/// Escapes an SD-PARAM value (RFC 5424 §6.3.3).
fn sd(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace(']', "\\]")
}

/// A printable-ASCII field (HOSTNAME, APP-NAME...), at most `max` characters.
fn field(v: &str, max: usize) -> String {
    let s: String = v.chars().filter(|c| c.is_ascii_graphic()).take(max).collect();
    if s.is_empty() { "-".into() } else { s }
}

/// One RFC 5424 line (without framing).
pub fn line(m: &Message, host: &str, now_nanos: i64) -> String {
    let pri = FACILITY * 8 + severity(m);
    let stamp = format!("{}Z", crate::units::iso8601(now_nanos));
    let data = match (m.occasion, m.alerts.first()) {
        (Occasion::Digest, _) | (_, None) => {
            format!("[ntop-rs@32473 occasion=\"digest\" incidents=\"{}\"]", m.alerts.len() as u64 + m.left_out)
        }
        (o, Some(a)) => {
            let mut d = format!(
                "[ntop-rs@32473 occasion=\"{}\" id=\"{}\" kind=\"{}\" severity=\"{}\"",
                o.name(),
                a.id,
                a.kind,
                super::severity_name(a.severity)
            );
            if let Some(s) = a.src {
                d.push_str(&format!(" src=\"{}\"", sd(&s.to_string())));
            }
            if let Some(t) = a.dst {
                d.push_str(&format!(" dst=\"{}\"", sd(&t.to_string())));
            }
            d.push(']');
            d
        }
    };
    let mut text: String = m.subject.chars().filter(|c| !c.is_control()).collect();
    if text.len() > MAX_TEXT {
        let mut cut = MAX_TEXT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    format!("<{pri}>1 {stamp} {} ntop-rs {} {} {data} {text}", field(host, 255), std::process::id(), m.occasion.name())
}

impl Transport for Syslog {
    fn send(&mut self, m: &Message) -> Result<(), String> {
        let line = line(m, &self.host, crate::units::wall_clock_nanos());
        let fail = |e: std::io::Error| format!("syslog: {e}");
        match &self.target {
            Target::Udp(addr) => {
                let to = addr.to_socket_addrs().map_err(fail)?.next().ok_or("syslog: no address")?;
                let bind = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
                let sock = UdpSocket::bind(bind).map_err(fail)?;
                sock.send_to(line.as_bytes(), to).map_err(fail)?;
            }
            Target::Unix(path) => {
                let sock = UnixDatagram::unbound().map_err(fail)?;
                sock.send_to(line.as_bytes(), path).map_err(fail)?;
            }
            Target::Tcp(addr) => {
                if self.tcp.is_none() {
                    let to = addr.to_socket_addrs().map_err(fail)?.next().ok_or("syslog: no address")?;
                    let s = TcpStream::connect_timeout(&to, Duration::from_secs(10)).map_err(fail)?;
                    s.set_write_timeout(Some(Duration::from_secs(10))).map_err(fail)?;
                    self.tcp = Some(s);
                }
                let framed = format!("{} {line}", line.len());
                let sent = self.tcp.as_mut().map(|s| s.write_all(framed.as_bytes()));
                if let Some(Err(e)) = sent {
                    self.tcp = None;
                    return Err(fail(e));
                }
            }
        }
        Ok(())
    }
}
