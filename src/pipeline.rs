//! The packet path shared by every mode: source → filter → decode → stats.
//!
//! Two threads: the calling thread reads, filters and decodes (the capture side), and a
//! named `ntop-stats` thread counts. Decoded [`PacketMeta`]s cross between them in
//! batches over a bounded channel, and emptied batches come back to be reused, so the
//! steady state allocates nothing. On a file the channel applies back-pressure (nothing
//! is dropped); a full channel only ever slows the reader down.

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::capture::{CaptureError, Filter, Next, PacketSource, Progress};
use crate::decode::{PacketMeta, decode};
use crate::stats::Stats;

/// Packets per batch.
const BATCH: usize = 1024;
/// Batches in flight between the threads.
const DEPTH: usize = 16;
/// How often (in frames) the progress callback runs.
const PROGRESS_EVERY: u64 = 1 << 16;

/// Reads `source` to its end, counting every frame that passes `filter` into `stats`.
///
/// Returns the number of frames read before filtering. `on_progress` is called every
/// few tens of thousands of frames and once at the end.
pub fn run<S: PacketSource + ?Sized>(
    source: &mut S,
    filter: Option<&mut Filter>,
    stats: &mut Stats,
    on_progress: impl FnMut(Progress),
) -> Result<u64, CaptureError> {
    let (full_tx, full_rx) = bounded::<Vec<PacketMeta>>(DEPTH);
    let (empty_tx, empty_rx) = bounded::<Vec<PacketMeta>>(DEPTH + 2);
    std::thread::scope(|scope| {
        let counter = std::thread::Builder::new()
            .name("ntop-stats".into())
            .spawn_scoped(scope, move || {
                for mut batch in full_rx {
                    for meta in &batch {
                        stats.record(meta);
                    }
                    batch.clear();
                    // The reader may have finished and gone; a lost batch is just freed.
                    let _ = empty_tx.try_send(batch);
                }
            })
            .expect("spawning the stats thread");
        let result = read_all(source, filter, &full_tx, &empty_rx, on_progress);
        drop(full_tx);
        if let Err(panic) = counter.join() {
            std::panic::resume_unwind(panic);
        }
        result
    })
}

/// The capture side: read, filter, decode, batch.
fn read_all<S: PacketSource + ?Sized>(
    source: &mut S,
    mut filter: Option<&mut Filter>,
    full: &Sender<Vec<PacketMeta>>,
    empty: &Receiver<Vec<PacketMeta>>,
    mut on_progress: impl FnMut(Progress),
) -> Result<u64, CaptureError> {
    let fresh = || Vec::with_capacity(BATCH);
    let mut batch = fresh();
    let mut frames = 0u64;
    loop {
        let frame = match source.next_frame()? {
            Next::Frame(f) => f,
            Next::Idle => continue,
            Next::End => break,
        };
        frames += 1;
        if filter.as_deref_mut().is_none_or(|f| f.matches(&frame)) {
            batch.push(decode(&frame));
            if batch.len() == BATCH {
                let next = empty.try_recv().unwrap_or_else(|_| fresh());
                if full.send(std::mem::replace(&mut batch, next)).is_err() {
                    break; // the stats thread is gone (it panicked); join() reports it
                }
            }
        }
        if frames % PROGRESS_EVERY == 0
            && let Some(p) = source.progress()
        {
            on_progress(p);
        }
    }
    if !batch.is_empty() {
        let _ = full.send(batch);
    }
    if let Some(p) = source.progress() {
        on_progress(p);
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::ScriptedSource;
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
        let n = run(&mut ScriptedSource::new(frames), None, &mut threaded, |_| calls += 1).unwrap();
        assert_eq!(n, 5000);
        assert_eq!(threaded.totals, inline.totals);
        assert_eq!(threaded.protocols, inline.protocols);
        assert_eq!(threaded.hosts.top(0), inline.hosts.top(0));
        assert_eq!(threaded.flows.top(0), inline.flows.top(0));
        assert_eq!(calls, 0, "scripted sources report no progress");
    }
}
