//! The alert stage: between the detectors and everyone else. On its own thread it
//! writes each ended incident's pcap (`--dump-alerts`, from the lock-free packet ring, so
//! neither capture nor detection waits for a file), notes it in the report's evidence,
//! keeps the latest report of every incident (bounded), and passes the reports to the
//! sinks and the incident list to the view.

use crossbeam_channel::{Receiver, Sender};

use super::sink::SinkSet;
use crate::capture::PacketRing;
use crate::detect::incidents::Latest;
use crate::detect::{Alert, AlertState};
use crate::files::OutDir;

/// Where ended incidents' pcaps go.
pub struct AlertDumps<'a> {
    /// The packets.
    pub ring: &'a PacketRing,
    /// The directory (`--dump-alerts`).
    pub dir: OutDir,
}

/// What the stage leaves behind.
#[derive(Default)]
pub struct AlertsDone {
    /// Latest report of each incident.
    pub latest: Latest,
    /// Dumps that failed, one line each.
    pub warnings: Vec<String>,
}

/// Runs the stage until the detectors hang up.
pub fn stage(
    reports: Receiver<Vec<Alert>>,
    dumps: Option<AlertDumps<'_>>,
    sinks: &SinkSet,
    lists: Option<Sender<Vec<Alert>>>,
) -> AlertsDone {
    let mut done = AlertsDone::default();
    for mut batch in reports {
        if let Some(d) = &dumps {
            for alert in batch.iter_mut().filter(|a| a.state == AlertState::End) {
                dump(alert, d, &mut done.warnings);
            }
        }
        for a in &batch {
            done.latest.keep(a.clone());
        }
        sinks.alerts(&batch);
        if let Some(tx) = &lists {
            // The view drains these at once; it is gone only when the UI is.
            let _ = tx.send(done.latest.list());
        }
    }
    done
}

/// Writes the incident's pcap and notes the file (or the failure) in its evidence as
/// `pcap` (or `pcap_error`).
fn dump(alert: &mut Alert, d: &AlertDumps<'_>, warnings: &mut Vec<String>) {
    let result = crate::export::dump::write_alert(d.ring, alert, &d.dir).map_err(|e| e.to_string());
    match result {
        Ok(written) => alert.evidence.pcap = Some(written.path.display().to_string()),
        Err(e) => {
            warnings.push(format!("alert {} pcap: {e}", alert.id));
            alert.evidence.pcap_error = Some(e);
        }
    }
}
