//! One connection as it goes: who started it, what each side sent, Zeek's `history`
//! letters and endpoint states, and from those its `conn_state` when it ends.

use crate::decode::{PacketMeta, TcpFlags};
use crate::packet::Nanos;
use crate::stats::table::LastSeen;

/// What one endpoint has done so far, after Zeek's TCP endpoint states (for UDP and
/// other protocols only `Inactive` and `Active` are used).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Endpoint {
    /// Sent nothing.
    #[default]
    Inactive,
    /// Sent a SYN (and nothing that completed a handshake).
    SynSent,
    /// Sent a SYN-ACK.
    SynAckSent,
    /// Sent packets without a handshake seen (the capture began mid-connection).
    Partial,
    /// Took part in a completed handshake.
    Established,
    /// Sent a FIN.
    Closed,
    /// Sent a RST.
    Reset,
    /// Sent anything (UDP and other protocols).
    Active,
}

impl Endpoint {
    /// Zeek's "inactive" for `conn_state`: sent nothing, or only mid-stream packets.
    fn inactive(self) -> bool {
        matches!(self, Endpoint::Inactive | Endpoint::Partial)
    }
}

/// What one direction carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Side {
    /// Packets.
    pub packets: u64,
    /// Bytes on the wire.
    pub bytes: u64,
    /// TCP/UDP payload bytes.
    pub payload: u64,
    /// Its endpoint's state.
    pub state: Endpoint,
}

/// Zeek's history letters, in the order first seen, each at most once per direction
/// (upper case: the originator's): 16 four-bit codes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct History {
    codes: u64,
    len: u8,
    seen: u16,
}

/// The letters, by code (1-based; the responder's are the lower-case ones).
const LETTERS: &[u8; 7] = b"SHADFRQ";

impl History {
    fn add(&mut self, letter: u8, orig: bool) {
        let Some(i) = LETTERS.iter().position(|&l| l == letter) else { return };
        let code = i as u16 + if orig { 1 } else { 9 };
        if self.seen & (1 << code) != 0 || self.len >= 16 {
            return;
        }
        self.seen |= 1 << code;
        self.codes |= u64::from(code) << (4 * self.len);
        self.len += 1;
    }

    fn text(&self, flipped: bool) -> String {
        let mut s = String::with_capacity(usize::from(self.len) + 1);
        if flipped {
            s.push('^');
        }
        for k in 0..self.len {
            let code = (self.codes >> (4 * k)) & 0xf;
            let letter =
                if code >= 9 { LETTERS[code as usize - 9].to_ascii_lowercase() } else { LETTERS[code as usize - 1] };
            s.push(char::from(letter));
        }
        s
    }
}

/// One connection in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conn {
    /// Packet time of its first packet.
    pub start: Nanos,
    /// Packet time of its latest packet.
    pub last: Nanos,
    /// Detection time (see `detect::clock`) of its latest packet: timeouts run on it.
    pub at: Nanos,
    /// When both sides had closed or one had reset, if they did: (packet time,
    /// detection time).
    pub closed: Option<(Nanos, Nanos)>,
    /// The originator is the flow key's `a` endpoint.
    pub orig_is_a: bool,
    /// The originator is known from the handshake (a SYN or SYN-ACK), not guessed.
    pub known: bool,
    /// The first packet seen came from the responder (history's `^`).
    pub flipped: bool,
    /// From the originator.
    pub orig: Side,
    /// From the responder.
    pub resp: Side,
    /// Outermost VLAN of its first packet.
    pub vlan: Option<u16>,
    /// ICMP type and code of its first packet.
    pub icmp: Option<(u8, u8)>,
    history: History,
}

impl LastSeen for Conn {
    fn last_seen(&self) -> Nanos {
        self.at
    }
}

/// Well-known service ports: a first packet *from* one of these to a port that is not
/// one was most likely the answer of a connection whose start was missed.
fn service_port(p: u16) -> bool {
    p < 1024
}

impl Conn {
    /// A connection whose first packet is `m` (going from the flow key's `a` to `b`
    /// when `a_to_b`), at detection time `at`.
    pub fn start(m: &PacketMeta, a_to_b: bool, at: Nanos) -> Conn {
        let flags = m.tcp_flags;
        let (from_sender, known) = match m.ip_proto {
            Some(6) if flags.is_syn_only() => (true, true),
            Some(6) if flags.is_syn_ack() => (false, true),
            // An echo reply first: the request was missed.
            Some(1) if m.icmp.is_some_and(|(t, _)| t == 0) => (false, false),
            Some(58) if m.icmp.is_some_and(|(t, _)| t == 129) => (false, false),
            _ => match m.ports {
                Some((sp, dp)) if service_port(sp) && !service_port(dp) => (false, false),
                _ => (true, false),
            },
        };
        let mut c = Conn {
            start: m.ts,
            last: m.ts,
            at,
            closed: None,
            orig_is_a: a_to_b == from_sender,
            known,
            flipped: !from_sender,
            orig: Side::default(),
            resp: Side::default(),
            vlan: m.vlan,
            icmp: m.icmp,
            history: History::default(),
        };
        c.update(m, a_to_b, at);
        c
    }

    /// Counts packet `m` (going from `a` to `b` when `a_to_b`) at detection time `at`.
    pub fn update(&mut self, m: &PacketMeta, a_to_b: bool, at: Nanos) {
        let from_orig = a_to_b == self.orig_is_a;
        self.start = self.start.min(m.ts);
        self.last = self.last.max(m.ts);
        self.at = self.at.max(at);
        let side = if from_orig { &mut self.orig } else { &mut self.resp };
        side.packets += 1;
        side.bytes += u64::from(m.wire_len);
        side.payload += u64::from(m.payload_len);
        if m.ip_proto != Some(6) {
            side.state = Endpoint::Active;
            return;
        }
        let f = m.tcp_flags;
        let syn = f.has(TcpFlags::SYN);
        if syn && (f.has(TcpFlags::FIN) || f.has(TcpFlags::RST)) {
            self.history.add(b'Q', from_orig);
        } else if f.is_syn_only() {
            self.history.add(b'S', from_orig);
        } else if f.is_syn_ack() {
            self.history.add(b'H', from_orig);
        }
        if m.payload_len > 0 {
            self.history.add(b'D', from_orig);
        } else if f.has(TcpFlags::ACK) && !syn && !f.has(TcpFlags::FIN) && !f.has(TcpFlags::RST) {
            self.history.add(b'A', from_orig);
        }
        if f.has(TcpFlags::FIN) {
            self.history.add(b'F', from_orig);
        }
        if f.has(TcpFlags::RST) {
            self.history.add(b'R', from_orig);
        }
        self.step(f, from_orig);
        let ended = self.orig.state == Endpoint::Reset
            || self.resp.state == Endpoint::Reset
            || (self.orig.state == Endpoint::Closed && self.resp.state == Endpoint::Closed);
        if ended && self.closed.is_none() {
            self.closed = Some((m.ts, at));
        }
    }

    /// The endpoint states after a TCP packet with flags `f`.
    fn step(&mut self, f: TcpFlags, from_orig: bool) {
        let (me, other) = if from_orig { (&mut self.orig, &mut self.resp) } else { (&mut self.resp, &mut self.orig) };
        let next = match me.state {
            Endpoint::Reset => Endpoint::Reset,
            _ if f.has(TcpFlags::RST) => Endpoint::Reset,
            _ if f.has(TcpFlags::FIN) => Endpoint::Closed,
            Endpoint::Closed => Endpoint::Closed,
            Endpoint::Inactive if f.is_syn_only() => Endpoint::SynSent,
            Endpoint::Inactive if f.is_syn_ack() => Endpoint::SynAckSent,
            Endpoint::Inactive => Endpoint::Partial,
            // The originator's ACK of the SYN-ACK completes the handshake for both.
            Endpoint::SynSent
                if f.has(TcpFlags::ACK) && !f.has(TcpFlags::SYN) && other.state == Endpoint::SynAckSent =>
            {
                other.state = Endpoint::Established;
                Endpoint::Established
            }
            s => s,
        };
        me.state = next;
    }

    /// Whether a packet at packet time `ts` comes after the connection ended: `linger`
    /// after both sides closed or one reset (or after an unanswered attempt's last SYN),
    /// or `idle` after its last packet. Packet time: a connection's own packets say when
    /// it went quiet, whatever the clock did in between.
    pub fn ended_before(&self, ts: Nanos, idle: Nanos, linger: Nanos) -> Option<End> {
        self.ended(ts, self.last, self.closed.map(|c| c.0), idle, linger)
    }

    /// Whether the connection has ended by detection time `now` (see
    /// [`ended_before`](Self::ended_before)): the sweep's question, which a forged
    /// timestamp cannot hurry.
    pub fn ended_by(&self, now: Nanos, idle: Nanos, linger: Nanos) -> Option<End> {
        self.ended(now, self.at, self.closed.map(|c| c.1), idle, linger)
    }

    fn ended(&self, now: Nanos, last: Nanos, closed: Option<Nanos>, idle: Nanos, linger: Nanos) -> Option<End> {
        if let Some(at) = closed {
            let reset = self.orig.state == Endpoint::Reset || self.resp.state == Endpoint::Reset;
            return (now > at.saturating_add(linger)).then_some(if reset { End::Reset } else { End::Closed });
        }
        let attempt = self.orig.state == Endpoint::SynSent && self.resp.state == Endpoint::Inactive;
        let quiet = if attempt { linger } else { idle };
        (now > last.saturating_add(quiet)).then_some(End::Idle)
    }

    /// Zeek's `history`.
    pub fn history(&self) -> String {
        self.history.text(self.flipped)
    }

    /// Zeek's `conn_state` for a connection of IP protocol `ip_proto`.
    pub fn conn_state(&self, ip_proto: u8) -> &'static str {
        let (os, rs) = (self.orig.state, self.resp.state);
        match ip_proto {
            6 => tcp_state(os, rs, self.orig.payload + self.resp.payload == 0, || self.history()),
            17 => match (os == Endpoint::Active, rs == Endpoint::Active) {
                (true, true) => "SF",
                (true, false) => "S0",
                (false, true) => "SHR",
                (false, false) => "OTH",
            },
            _ => "OTH",
        }
    }
}

/// How a connection ended on its own (the rest end by eviction or the capture's end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Both sides sent FIN.
    Closed,
    /// A side sent RST.
    Reset,
    /// Silence.
    Idle,
}

/// Zeek's TCP `conn_state` from the endpoint states (base/protocols/conn's rules).
fn tcp_state(os: Endpoint, rs: Endpoint, no_payload: bool, history: impl FnOnce() -> String) -> &'static str {
    use Endpoint::*;
    if rs == Reset {
        if matches!(os, SynSent | SynAckSent) || (os == Reset && no_payload) {
            "REJ"
        } else if os.inactive() {
            "RSTRH"
        } else {
            "RSTR"
        }
    } else if os == Reset {
        if rs.inactive() { if rsto_s0(&history()) { "RSTOS0" } else { "OTH" } } else { "RSTO" }
    } else if os == Closed && rs == Closed {
        "SF"
    } else if os == Closed {
        if rs.inactive() { "SH" } else { "S2" }
    } else if rs == Closed {
        if os.inactive() { "SHR" } else { "S3" }
    } else if os == SynSent && rs == Inactive {
        "S0"
    } else if os == Established && rs == Established {
        "S1"
    } else {
        "OTH"
    }
}

/// Zeek's `/\^?S[^HAFGIQ]*R.*/`: the originator's SYN, then its RST before any of its
/// handshake, ACK, FIN or odd-flag letters.
fn rsto_s0(history: &str) -> bool {
    let h = history.strip_prefix('^').unwrap_or(history);
    let Some(rest) = h.strip_prefix('S') else { return false };
    for c in rest.chars() {
        if c == 'R' {
            return true;
        }
        if "HAFGIQ".contains(c) {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Proto;
    use std::net::IpAddr;

    const A: [u8; 4] = [10, 0, 0, 1];
    const B: [u8; 4] = [10, 0, 0, 2];

    /// A TCP packet from `from` with flags and payload; `a_to_b` is from A.
    fn tcp(from_a: bool, flags: u8, payload: u16) -> (PacketMeta, bool) {
        let (src, dst, sp, dp) = if from_a { (A, B, 40000, 80) } else { (B, A, 80, 40000) };
        let m = PacketMeta {
            ts: 1,
            wire_len: 60 + u32::from(payload),
            cap_len: 60,
            linktype: crate::packet::LinkType::ETHERNET,
            proto: Proto::Tcp,
            ip_proto: Some(6),
            src: Some(IpAddr::from(src)),
            dst: Some(IpAddr::from(dst)),
            ports: Some((sp, dp)),
            tcp_flags: TcpFlags(flags),
            payload_len: payload,
            ..PacketMeta::blank(&crate::packet::Frame {
                ts: 1,
                linktype: crate::packet::LinkType::ETHERNET,
                data: &[],
                orig_len: 0,
            })
        };
        (m, from_a)
    }

    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    const SYNACK: u8 = SYN | ACK;
    const FIN: u8 = 0x01 | ACK;
    const RST: u8 = 0x04;
    const PSH: u8 = 0x08 | ACK;

    fn run(packets: &[(bool, u8, u16)]) -> Conn {
        let (m, a) = tcp(packets[0].0, packets[0].1, packets[0].2);
        let mut c = Conn::start(&m, a, 1);
        for &(from_a, flags, payload) in &packets[1..] {
            let (m, a) = tcp(from_a, flags, payload);
            c.update(&m, a, 1);
        }
        c
    }

    #[test]
    fn a_normal_connection_is_sf_with_zeeks_history() {
        let c = run(&[
            (true, SYN, 0),
            (false, SYNACK, 0),
            (true, ACK, 0),
            (true, PSH, 100),
            (false, PSH, 900),
            (true, FIN, 0),
            (false, FIN, 0),
            (true, ACK, 0),
        ]);
        assert_eq!(c.conn_state(6), "SF");
        assert_eq!(c.history(), "ShADdFf");
        assert!(c.known && c.orig_is_a && !c.flipped);
        assert_eq!((c.orig.packets, c.resp.packets, c.orig.payload, c.resp.payload), (5, 3, 100, 900));
        assert!(c.closed.is_some());
    }

    #[test]
    fn zeeks_states_for_attempts_rejections_and_resets() {
        type Case<'a> = (&'a [(bool, u8, u16)], &'a str, &'a str);
        let cases: &[Case] = &[
            (&[(true, SYN, 0)], "S0", "S"),
            (&[(true, SYN, 0), (false, RST | ACK, 0)], "REJ", "Sr"),
            (&[(true, SYN, 0), (false, SYNACK, 0), (true, ACK, 0)], "S1", "ShA"),
            (&[(true, SYN, 0), (false, SYNACK, 0), (true, ACK, 0), (true, RST, 0)], "RSTO", "ShAR"),
            (&[(true, SYN, 0), (false, SYNACK, 0), (true, ACK, 0), (false, RST, 0)], "RSTR", "ShAr"),
            (&[(true, SYN, 0), (true, RST, 0)], "RSTOS0", "SR"),
            (&[(true, SYN, 0), (true, FIN, 0)], "SH", "SF"),
            (&[(true, SYN, 0), (false, SYNACK, 0), (true, ACK, 0), (true, FIN, 0)], "S2", "ShAF"),
            (&[(true, SYN, 0), (false, SYNACK, 0), (true, ACK, 0), (false, FIN, 0)], "S3", "ShAf"),
            (&[(true, PSH, 10), (false, ACK, 0)], "OTH", "Da"),
        ];
        for (packets, state, history) in cases {
            let c = run(packets);
            assert_eq!((c.conn_state(6), c.history().as_str()), (*state, *history), "{packets:?}");
        }
    }

    #[test]
    fn a_syn_ack_first_makes_its_receiver_the_originator() {
        let c = run(&[(false, SYNACK, 0), (true, ACK, 0)]);
        assert!(c.orig_is_a && c.known && c.flipped, "B answered A's missed SYN");
        assert_eq!(c.history(), "^hA");
        // Mid-stream from a service port: the other side is the originator, a guess.
        let c = run(&[(false, PSH, 50)]);
        assert!(c.orig_is_a && !c.known && c.flipped);
    }

    #[test]
    fn an_attempt_ends_after_the_linger_and_a_quiet_connection_after_idle() {
        let (s, ms) = (1_000_000_000, 1_000_000);
        let attempt = run(&[(true, SYN, 0)]);
        assert_eq!(attempt.ended_by(1 + 5 * s, 300 * s, 5 * s), None);
        assert_eq!(attempt.ended_by(2 + 5 * s, 300 * s, 5 * s), Some(End::Idle));
        let up = run(&[(true, SYN, 0), (false, SYNACK, 0), (true, ACK, 0)]);
        assert_eq!(up.ended_by(60 * s, 300 * s, 5 * s), None, "established: the long idle timeout");
        assert_eq!(up.ended_by(301 * s, 300 * s, 5 * s), Some(End::Idle));
        let reset = run(&[(true, SYN, 0), (false, RST | ACK, 0)]);
        assert_eq!(reset.ended_by(1 + 4 * s, 300 * s, 5 * s), None, "a RST lingers");
        assert_eq!(reset.ended_by(10 * s, 300 * s, 5 * s), Some(End::Reset));
        let closed = run(&[(true, SYN, 0), (false, SYNACK, 0), (true, FIN, 0), (false, FIN, 0)]);
        assert_eq!(closed.ended_by(6 * s + ms, 300 * s, 5 * s), Some(End::Closed));
    }

    #[test]
    fn history_letters_appear_once_per_direction() {
        let c = run(&[(true, PSH, 1), (true, PSH, 1), (false, PSH, 1), (true, PSH, 1), (false, ACK, 0)]);
        assert_eq!(c.history(), "Dda");
        assert!(rsto_s0("^SdR") && !rsto_s0("SAR") && !rsto_s0("S"));
    }
}
