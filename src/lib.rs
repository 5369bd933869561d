//! ntop-rs: `top` for the network, with an intrusion detector built in.
//!
//! Packets flow left to right: a [`capture`] source yields frames, [`decode`] turns each
//! into a compact [`decode::PacketMeta`], [`stats`] counts them, and [`export`] prints
//! what was counted. [`pipeline`] ties the path together; [`app`] wires it to the flags.

pub mod app;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod delivery;
pub mod detect;
pub mod export;
pub mod files;
pub mod hash;
pub mod packet;
pub mod pipeline;
pub mod privs;
pub mod records;
pub mod report;
pub mod sinks;
pub mod stats;
pub mod synth;
pub mod ui;
pub mod units;
pub mod view;
