//! The packet path shared by every mode: source → filter → decode → stats.

use crate::capture::{CaptureError, Filter, Next, PacketSource, Progress};
use crate::decode::decode;
use crate::stats::Stats;

/// How often (in frames) the progress callback runs.
const PROGRESS_EVERY: u64 = 1 << 16;

/// Reads `source` to its end, counting every frame that passes `filter` into `stats`.
///
/// Returns the number of frames read before filtering. `on_progress` is called every
/// few tens of thousands of frames and once at the end.
pub fn run<S: PacketSource + ?Sized>(
    source: &mut S,
    mut filter: Option<&mut Filter>,
    stats: &mut Stats,
    mut on_progress: impl FnMut(Progress),
) -> Result<u64, CaptureError> {
    let mut frames = 0u64;
    loop {
        let frame = match source.next_frame()? {
            Next::Frame(f) => f,
            Next::Idle => continue,
            Next::End => break,
        };
        frames += 1;
        if filter.as_deref_mut().is_none_or(|f| f.matches(&frame)) {
            stats.record(&decode(&frame));
        }
        if frames % PROGRESS_EVERY == 0
            && let Some(p) = source.progress()
        {
            on_progress(p);
        }
    }
    if let Some(p) = source.progress() {
        on_progress(p);
    }
    Ok(frames)
}
