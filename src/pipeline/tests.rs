//! Tests of the pipeline runner.

use super::*;
use crate::capture::ScriptedSource;
use crate::decode::decode;
use crate::synth::{Synth, SynthConfig};

#[test]
fn threaded_counts_equal_inline_counts() {
    let frames: Vec<_> = Synth::new(SynthConfig { packets: 5000, ..Default::default() }).collect();
    let mut inline = Stats::default();
    for f in &frames {
        inline.record(&decode(&f.as_frame()));
    }
    let mut threaded = Stats::default();
    let mut calls = 0;
    let mut none = Detectors::new(Vec::new());
    let report =
        run(&mut ScriptedSource::new(frames), None, &mut threaded, &mut none, Options::default(), |_| calls += 1)
            .unwrap();
    assert_eq!(report, RunReport { frames: 5000, ..RunReport::default() });
    assert_eq!(threaded.totals, inline.totals);
    assert_eq!(threaded.protocols, inline.protocols);
    assert_eq!(threaded.hosts.top(0), inline.hosts.top(0));
    assert_eq!(threaded.flows.top(0), inline.flows.top(0));
    assert_eq!(calls, 0, "scripted sources report no progress");
}

#[test]
fn detectors_see_every_packet_of_a_file() {
    let frames: Vec<_> = Synth::new(SynthConfig { packets: 5000, ..Default::default() }).collect();
    let big = frames.iter().filter(|f| f.orig_len > 1000).count() as u64;
    let mut detectors = Detectors::new(vec![Box::new(crate::detect::tests::BigPackets::new())]);
    let mut stats = Stats::default();
    run(&mut ScriptedSource::new(frames), None, &mut stats, &mut detectors, Options::default(), |_| {}).unwrap();
    let incidents = detectors.incidents();
    assert!(!incidents.is_empty());
    // The test detector counts big packets per incident; across incidents it saw them all.
    let seen: u64 = incidents.iter().map(|a| a.packets).max().unwrap_or(0);
    assert_eq!(seen, big);
}

/// A source that is idle between every two frames, like a live link at low rates.
struct Trickle {
    frames: Vec<crate::capture::scripted::OwnedFrame>,
    next: usize,
    idle: bool,
}

impl PacketSource for Trickle {
    fn next_frame(&mut self) -> Result<Next<'_>, CaptureError> {
        self.idle = !self.idle;
        if self.idle {
            return Ok(Next::Idle);
        }
        let Some(f) = self.frames.get(self.next) else { return Ok(Next::End) };
        self.next += 1;
        Ok(Next::Frame(f.as_frame()))
    }

    fn name(&self) -> &str {
        "trickle"
    }
}

#[test]
fn a_trickle_is_never_dropped() {
    let frames: Vec<_> = Synth::new(SynthConfig { packets: 20_000, ..Default::default() }).collect();
    let mut source = Trickle { frames, next: 0, idle: false };
    let mut stats = Stats::default();
    let options = Options { handoff: Handoff::DropWhenFull, ..Options::default() };
    let report = run(&mut source, None, &mut stats, &mut Detectors::new(Vec::new()), options, |_| {}).unwrap();
    assert_eq!((report.dropped_ring, stats.totals.packets), (0, 20_000));
}

#[test]
fn stop_ends_a_file_at_once_and_drains_a_live_source() {
    let frames: Vec<_> = Synth::new(SynthConfig { packets: 100, ..Default::default() }).collect();
    let stop = AtomicBool::new(true);
    let mut stats = Stats::default();
    let file = Options { handoff: Handoff::Block, stop: Some(&stop), ..Options::default() };
    let mut none = Detectors::new(Vec::new());
    let report = run(&mut ScriptedSource::new(frames.clone()), None, &mut stats, &mut none, file, |_| {}).unwrap();
    assert_eq!((report.frames, stats.totals.packets), (0, 0));
    // Live: what is already readable (all of a script) is taken in before stopping.
    let mut stats = Stats::default();
    let live = Options { handoff: Handoff::DropWhenFull, stop: Some(&stop), ..Options::default() };
    let report = run(&mut ScriptedSource::new(frames), None, &mut stats, &mut none, live, |_| {}).unwrap();
    assert_eq!((report.frames, stats.totals.packets), (100, 100));
}
