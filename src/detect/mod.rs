//! Detection: the alert type and its lifecycle. The detectors (scans, sweeps, floods,
//! outliers) feed alerts of this shape; every alert is one incident.

pub mod alert;

pub use alert::{Alert, AlertState, Severity};
