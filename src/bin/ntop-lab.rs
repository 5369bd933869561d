//! `ntop-lab`: bounded test traffic for the network-namespace labs (tests, demo recording).
//!
//! Every mode is bounded in packet count and in time, and sends only to the address it
//! is given (the labs give addresses of namespaces they created themselves).
//!
//! ```text
//! ntop-lab udp ADDR:PORT COUNT [SIZE] [PPS]   COUNT datagrams of SIZE bytes at PPS (0 = as fast as possible)
//! ntop-lab tcp ADDR FIRST_PORT COUNT          COUNT connection attempts to consecutive ports (1 s timeout each)
//! ```

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// No mode runs longer than this, whatever its arguments.
const MAX_RUN: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["udp", target, count, rest @ ..] => udp(target, count, rest),
        ["tcp", addr, first, count] => tcp(addr, first, count),
        _ => Err("usage: ntop-lab udp ADDR:PORT COUNT [SIZE] [PPS] | ntop-lab tcp ADDR FIRST_PORT COUNT".into()),
    };
    match result {
        Ok(sent) => {
            println!("{sent}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ntop-lab: {e}");
            ExitCode::FAILURE
        }
    }
}

fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse().map_err(|_| format!("bad {what}: {s}"))
}

fn udp(target: &str, count: &str, rest: &[&str]) -> Result<u64, String> {
    let target: SocketAddr = num(target, "ADDR:PORT")?;
    let count: u64 = num(count, "COUNT")?;
    let size: usize = rest.first().map_or(Ok(100), |s| num(s, "SIZE"))?;
    let pps: u64 = rest.get(1).map_or(Ok(0), |s| num(s, "PPS"))?;
    let bind = if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let sock = UdpSocket::bind(bind).map_err(|e| format!("bind: {e}"))?;
    let payload = vec![0x5a; size.min(65_000)];
    let start = Instant::now();
    let mut sent = 0;
    while sent < count && start.elapsed() < MAX_RUN {
        if pps > 0 {
            let due = Duration::from_secs_f64(sent as f64 / pps as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        match sock.send_to(&payload, target) {
            Ok(_) => sent += 1,
            // A full socket buffer (or an ICMP error from the last send): pause briefly.
            Err(_) => std::thread::sleep(Duration::from_micros(200)),
        }
    }
    Ok(sent)
}

fn tcp(addr: &str, first: &str, count: &str) -> Result<u64, String> {
    let ip: std::net::IpAddr = num(addr, "ADDR")?;
    let first: u16 = num(first, "FIRST_PORT")?;
    let count: u16 = num(count, "COUNT")?;
    let start = Instant::now();
    let mut tried = 0;
    for port in first..first.saturating_add(count) {
        if start.elapsed() >= MAX_RUN {
            break;
        }
        let _ = TcpStream::connect_timeout(&SocketAddr::new(ip, port), Duration::from_secs(1));
        tried += 1;
    }
    Ok(tried)
}
