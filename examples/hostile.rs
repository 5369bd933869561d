//! Writes the hostile captures that scripts/bench-memory.sh measures ntop-rs on.
//!
//! `cargo run --release --example hostile -- rst-pairs OUT.pcap` — 10 minutes of packet
//! time of forged RST pairs at 5,000 packets/s, every pair between two random addresses
//! and ports (3 million packets).
//!
//! `cargo run --release --example hostile -- million OUT.pcap` — a SYN flood from a
//! million spoofed sources at one victim (500,000 SYN/s for 2 s), and, at the same time,
//! a SYN scan of 2,000 ports of another host from one scanner, whose closed ports answer
//! with RSTs.

use std::fs::File;
use std::io::BufWriter;

use anyhow::{Context, bail};
use ntop_rs::capture::{Frame, LinkType, NANOS_PER_SEC, Nanos};
use ntop_rs::export::pcap::PcapDump;
use ntop_rs::synth::Rng;

const START: Nanos = 1_700_000_000 * NANOS_PER_SEC;

fn tcp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, syn: bool, rst: bool) -> Vec<u8> {
    let mut b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4(src, dst, 64)
        .tcp(sport, dport, 1, 1024);
    if syn {
        b = b.syn();
    }
    if rst {
        // A closed port's answer to a SYN (sequence number 1): RST, acknowledging it.
        b = b.rst().ack(2);
    }
    let mut out = Vec::with_capacity(64);
    b.write(&mut out, &[]).expect("a frame builds");
    out
}

fn addr(rng: &mut Rng) -> [u8; 4] {
    (rng.next_u64() as u32).to_be_bytes()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [what, out] = args.as_slice() else { bail!("usage: hostile rst-pairs|million OUT.pcap") };
    let file = File::create(out).with_context(|| format!("cannot create {out}"))?;
    let mut dump = PcapDump::new(BufWriter::with_capacity(1 << 20, file), LinkType::ETHERNET)?;
    let mut write = |ts: Nanos, data: Vec<u8>| -> anyhow::Result<()> {
        let frame = Frame { ts, linktype: LinkType::ETHERNET, data: &data, orig_len: data.len() as u32 };
        Ok(dump.write(&frame)?)
    };
    let mut rng = Rng::new(7);
    match what.as_str() {
        "rst-pairs" => {
            let gap = NANOS_PER_SEC / 5000;
            for i in 0..(600 * 5000 / 2) {
                let (a, b) = (addr(&mut rng), addr(&mut rng));
                let (pa, pb) = (rng.next_u64() as u16 | 1024, rng.next_u64() as u16 | 1024);
                let t = START + 2 * i * gap;
                write(t, tcp(a, pa, b, pb, false, true))?;
                write(t + gap, tcp(b, pb, a, pa, false, true))?;
            }
        }
        "million" => {
            let (victim, target, scanner) = ([10, 0, 0, 10], [10, 0, 0, 20], [10, 0, 0, 66]);
            let gap = NANOS_PER_SEC / 500_000;
            let mut answer: Option<(Nanos, Vec<u8>)> = None;
            for i in 0..1_000_000i64 {
                let t = START + i * gap;
                if let Some((at, data)) = answer.take_if(|(at, _)| *at <= t) {
                    write(at, data)?;
                }
                let src = (0x0b00_0000u32.wrapping_add((i as u32).wrapping_mul(2_654_435_761))).to_be_bytes();
                write(t, tcp(src, 1024 + (i % 50_000) as u16, victim, 80, true, false))?;
                // The scan: one port every 500 µs, answered by a RST 100 µs later.
                if i % 250 == 0 {
                    let port = 1 + (i / 250) as u16 % 2000;
                    write(t, tcp(scanner, 40_000, target, port, true, false))?;
                    answer = Some((t + 50 * gap, tcp(target, port, scanner, 40_000, false, true)));
                }
            }
        }
        other => bail!("unknown capture '{other}': rst-pairs or million"),
    }
    Ok(())
}
