//! Writes a synthetic mixed-traffic capture (see `ntop_rs::synth`).
//!
//! `cargo run --release --example synth -- OUT.pcap [--packets N] [--seed S] [--gap-ns G]`

use std::fs::File;
use std::io::BufWriter;

use anyhow::Context;
use clap::Parser;
use ntop_rs::capture::LinkType;
use ntop_rs::export::pcap::PcapDump;
use ntop_rs::synth::{Synth, SynthConfig};

/// Generate a deterministic synthetic capture.
#[derive(Parser)]
struct Args {
    /// Output pcap path
    out: String,
    /// Number of frames
    #[arg(long, default_value_t = 10_000)]
    packets: u64,
    /// PRNG seed
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Mean gap between frames, in nanoseconds
    #[arg(long, default_value_t = 20_000)]
    gap_ns: i64,
    /// Client hosts
    #[arg(long, default_value_t = 60)]
    clients: u32,
    /// Server hosts
    #[arg(long, default_value_t = 40)]
    servers: u32,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let cfg = SynthConfig {
        packets: a.packets,
        seed: a.seed,
        mean_gap: a.gap_ns,
        clients: a.clients,
        servers: a.servers,
        ..SynthConfig::default()
    };
    let file = File::create(&a.out).with_context(|| format!("cannot create {}", a.out))?;
    let mut dump = PcapDump::new(BufWriter::with_capacity(1 << 20, file), LinkType::ETHERNET)?;
    for frame in Synth::new(cfg) {
        dump.write(&frame.as_frame())?;
    }
    let n = dump.packets();
    dump.finish()?;
    eprintln!("wrote {n} frames to {}", a.out);
    Ok(())
}
