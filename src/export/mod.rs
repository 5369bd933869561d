//! Headless outputs: the JSON summary, the readable report, and pcap dumps.

pub mod dump;
pub mod pcap;
pub mod report;
pub mod summary;

pub use summary::{RunInfo, Summary};
