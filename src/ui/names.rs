//! Names for display: reverse DNS off the hot path, and port → service names.
//!
//! Lookups run on one `ntop-dns` worker fed through a small bounded queue; the UI only
//! ever reads the cache, so a slow resolver can never stall a frame. The cache is
//! bounded too (it is cleared when full). Every name is sanitised before it can reach
//! the terminal. `-n` turns resolution off; the `n` key hides or shows names.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crossbeam_channel::{Sender, TrySendError, bounded};

use crate::view::services::Services;

/// Most names cached before the cache is cleared.
const CACHE_CAP: usize = 8192;
/// Lookups waiting at most.
const QUEUE: usize = 256;
/// Longest name shown.
const MAX_NAME: usize = 48;

/// `None` while pending or when the address has no name.
type Cache = HashMap<IpAddr, Option<String>>;

/// Host and service names for the screen.
pub struct Names {
    shown: bool,
    resolver: Option<(Sender<IpAddr>, Arc<Mutex<Cache>>)>,
    services: Services,
}

impl Names {
    /// Names with reverse DNS (`resolve`) and the system's service names.
    pub fn new(resolve: bool) -> Self {
        let resolver = resolve.then(spawn_resolver).flatten();
        Names { shown: true, resolver, services: Services::system() }
    }

    /// No reverse DNS and the built-in service table only (tests, reproducible output).
    pub fn builtin() -> Self {
        Names { shown: true, resolver: None, services: Services::builtin() }
    }

    /// Shows or hides names (addresses and port numbers instead).
    pub fn toggle(&mut self) -> bool {
        self.shown = !self.shown;
        self.shown
    }

    /// A host's name if known (asking for it if not), else its address.
    pub fn host(&self, ip: IpAddr) -> String {
        if !self.shown {
            return ip.to_string();
        }
        let Some((queue, cache)) = &self.resolver else { return ip.to_string() };
        let Ok(mut cache) = cache.lock() else { return ip.to_string() };
        match cache.get(&ip) {
            Some(Some(name)) => return name.clone(),
            Some(None) => return ip.to_string(),
            None => {}
        }
        if cache.len() >= CACHE_CAP {
            cache.clear();
        }
        // Mark it pending; if the queue is full, forget it so a later frame asks again.
        match queue.try_send(ip) {
            Ok(()) => {
                cache.insert(ip, None);
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {}
        }
        ip.to_string()
    }

    /// `host:port` (or `[v6]:port`), with the service name for the port when shown.
    pub fn endpoint(&self, ip: IpAddr, ip_proto: u8, port: u16) -> String {
        let host = self.host(ip);
        if port == 0 {
            return host;
        }
        let service = if self.shown { self.services.name(ip_proto, port) } else { None };
        let port = service.map_or_else(|| port.to_string(), str::to_string);
        if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
    }

    /// A port with its service name: `443/https` or `32830/tcp`.
    pub fn port(&self, ip_proto: u8, port: u16, class: &str) -> String {
        match self.shown.then(|| self.services.name(ip_proto, port)).flatten() {
            Some(name) => format!("{port}/{name}"),
            None => format!("{port}/{class}"),
        }
    }
}

fn spawn_resolver() -> Option<(Sender<IpAddr>, Arc<Mutex<Cache>>)> {
    let (tx, rx) = bounded::<IpAddr>(QUEUE);
    let cache = Arc::new(Mutex::new(Cache::new()));
    let worker_cache = Arc::clone(&cache);
    std::thread::Builder::new()
        .name("ntop-dns".into())
        .spawn(move || {
            for ip in rx {
                let Ok(name) = dns_lookup::lookup_addr(&ip) else { continue };
                let mut clean = sanitize(name.trim_end_matches('.'));
                clean.truncate(clean.char_indices().nth(MAX_NAME).map_or(clean.len(), |(i, _)| i));
                if let Ok(mut cache) = worker_cache.lock() {
                    cache.insert(ip, Some(clean));
                }
            }
        })
        .ok()?;
    Some((tx, cache))
}

/// Text from the network made safe for a terminal: control characters become `?`.
pub fn sanitize(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_ports() {
        let mut n = Names::builtin();
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(n.endpoint(v4, 6, 443), "10.0.0.1:https");
        assert_eq!(n.endpoint(v6, 17, 53), "[2001:db8::1]:domain");
        assert_eq!(n.endpoint(v4, 6, 40000), "10.0.0.1:40000");
        assert_eq!(n.endpoint(v4, 1, 0), "10.0.0.1");
        assert_eq!(n.port(6, 22, "tcp"), "22/ssh");
        n.toggle();
        assert_eq!(n.endpoint(v4, 6, 443), "10.0.0.1:443");
        assert_eq!(n.port(6, 22, "tcp"), "22/tcp");
    }

    #[test]
    fn loopback_resolves_off_the_calling_thread() {
        let n = Names::new(true);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        // The first ask returns the address at once and queues a lookup.
        assert_eq!(n.host(lo), "127.0.0.1");
        let start = std::time::Instant::now();
        while n.host(lo) == "127.0.0.1" && start.elapsed() < std::time::Duration::from_secs(5) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // /etc/hosts names 127.0.0.1 on any Debian system ("localhost").
        assert_ne!(n.host(lo), "127.0.0.1", "loopback got a name");
    }
}
