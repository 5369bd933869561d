//! The alert stage: between the detectors and everyone else. On its own thread it
//! writes each ended incident's pcap (`--dump-alerts`, from the lock-free packet ring, so
//! neither capture nor detection waits for a file), notes it in the report's evidence,
//! keeps the latest report of every incident (bounded), and passes the reports to the
//! sinks and the incident list to the view. Flow records pass here too, on their way from
//! the connection tracker to the sinks, to be tagged with the incidents that involved
//! them (the capture's last records wait for the detectors' last reports).

use crossbeam_channel::{Receiver, Sender, never, select};

use super::engine::Ended;
use super::sink::SinkSet;
use crate::capture::PacketRing;
use crate::detect::incidents::Latest;
use crate::detect::{Alert, AlertState};
use crate::files::OutDir;
use crate::records::Involved;

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

/// Runs the stage until the detectors and the tracker hang up.
pub fn stage(
    mut reports: Receiver<super::StageMsg>,
    mut records: Receiver<Ended>,
    dumps: Option<AlertDumps<'_>>,
    sinks: &SinkSet,
    lists: Option<Sender<Vec<Alert>>>,
) -> AlertsDone {
    let mut done = AlertsDone::default();
    let mut involved = Involved::default();
    let (mut reports_open, mut records_open) = (true, true);
    // Records straight from the counting thread (nothing detects, or a live batch the
    // detectors dropped) come in their own order; those that passed through the detector
    // thread come after the reports of the packets that ended them.
    while reports_open || records_open {
        select! {
            recv(reports) -> msg => match msg {
                Ok(super::StageMsg::Reports(batch)) => reports_batch(batch, &dumps, sinks, &lists, &mut done, &mut involved),
                Ok(super::StageMsg::Records(ended)) => tag_and_pass(ended, &involved, sinks),
                Err(_) => {
                    reports = never();
                    reports_open = false;
                }
            },
            recv(records) -> msg => match msg {
                Ok(ended) => tag_and_pass(ended, &involved, sinks),
                Err(_) => {
                    records = never();
                    records_open = false;
                }
            },
        }
    }
    done
}

/// Tags records with their incidents and hands them, then the minutes, to the sinks.
fn tag_and_pass(mut ended: Ended, involved: &Involved, sinks: &SinkSet) {
    for r in &mut ended.records {
        involved.tag(r);
        r.fill_community_id();
    }
    sinks.flows(ended.records);
    for m in ended.minutes {
        sinks.minute(m);
    }
}

/// One batch of reports: pcaps of ended incidents, the latest list, the sinks, the view.
fn reports_batch(
    mut batch: Vec<Alert>,
    dumps: &Option<AlertDumps<'_>>,
    sinks: &SinkSet,
    lists: &Option<Sender<Vec<Alert>>>,
    done: &mut AlertsDone,
    involved: &mut Involved,
) {
    if let Some(d) = dumps {
        for alert in batch.iter_mut().filter(|a| a.state == AlertState::End) {
            dump(alert, d, &mut done.warnings);
        }
    }
    for a in &batch {
        involved.note(a);
        done.latest.keep(a.clone());
    }
    sinks.alerts(&batch);
    if let Some(tx) = lists {
        // The view drains these at once; it is gone only when the UI is.
        let _ = tx.send(done.latest.list());
    }
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
