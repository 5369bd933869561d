//! The terminal UI: one thread owns the terminal and waits on one `select!` over key
//! input, new views and a tick; it never touches what the capture side holds.
//!
//! Threads: `ntop-capture` reads (live, or a file paced by its timestamps), decodes and
//! hands batches to `ntop-engine`, which counts them and publishes a [`View`] for the
//! current [`ViewSpec`] a few times a second (at once when the spec changes). The UI
//! redraws only when something changed, at most ten times a second. The terminal is
//! restored on every way out: normal quit, errors, panics (ratatui's hook), SIGTERM and
//! SIGHUP (the stop flag).

pub mod keys;
pub mod names;
pub mod render;
pub mod state;
pub mod theme;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crossbeam_channel::{Receiver, Sender, bounded, never, select, tick};
use ratatui::crossterm::event::{self, Event, KeyEventKind};

use crate::capture::{Filter, PacketRing, PacketSource};
use crate::decode::{PacketMeta, decode};
use crate::detect::Alert;
use crate::export::dump;
use crate::export::summary::CaptureJson;
use crate::pipeline::{self, Handoff, Options, SourceState};
use crate::stats::Stats;
use crate::view::{Context, View, ViewSpec};
use keys::action_for;
use state::{Effect, Mode, UiState};
use theme::Theme;

/// Shortest time between two frames.
const FRAME: Duration = Duration::from_millis(100);
/// How often the engine publishes a view while data changes.
const PUBLISH: Duration = Duration::from_millis(250);

/// What the interactive session runs on.
pub struct Session<S> {
    /// The packet source (already paced, for a replay).
    pub source: S,
    /// A user-space BPF filter (files; live filters run in the kernel).
    pub filter: Option<Filter>,
    /// Empty statistics with the configured limits.
    pub stats: Stats,
    /// The detectors to run (on their own thread).
    pub detectors: crate::detect::Detectors,
    /// Live capture (drops when behind) or replay (waits).
    pub live: bool,
    /// Replay speed control, for files.
    pub replay: Option<Arc<crate::capture::ReplayControl>>,
    /// Set by signals or by quitting: everything winds down.
    pub stop: Arc<AtomicBool>,
    /// Recent raw packets, for `w`.
    pub ring: Arc<Mutex<PacketRing>>,
    /// Where `w` writes.
    pub dump_dir: crate::files::OutDir,
    /// Resolve host names (off with `-n`).
    pub resolve: bool,
    /// Host clusters and model status from the outlier detector, when it runs.
    pub outliers: Option<crate::detect::outlier::SharedOutliers>,
}

/// Runs the TUI until the user quits or a signal arrives.
pub fn run<S: PacketSource + Send>(session: Session<S>) -> anyhow::Result<()> {
    let Session { mut source, mut filter, stats, mut detectors, live, replay, stop, ring, dump_dir, resolve, outliers } =
        session;
    let name = source.name().to_string();
    let shared = Mutex::new(SourceState::default());
    let depth = pipeline::depth(if live { Handoff::DropWhenFull } else { Handoff::Block });
    let (full_tx, full_rx) = bounded::<Vec<PacketMeta>>(depth);
    let (detect_tx, detect_rx) = bounded::<Vec<PacketMeta>>(depth);
    let (empty_tx, empty_rx) = bounded::<Vec<PacketMeta>>(2 * depth + 2);
    let (spec_tx, spec_rx) = bounded::<ViewSpec>(8);
    let (view_tx, view_rx) = bounded::<Arc<View>>(1);
    let (alert_tx, alert_rx) = bounded::<Vec<Alert>>(16);

    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (shared, stop_ref, ring) = (&shared, &*stop, &ring);
        let capture = std::thread::Builder::new()
            .name("ntop-capture".into())
            .spawn_scoped(scope, move || {
                let handoff = if live { Handoff::DropWhenFull } else { Handoff::Block };
                let options = Options { handoff, stop: Some(stop_ref), shared: Some(shared), ring: Some(ring) };
                pipeline::capture_loop(&mut source, filter.as_mut(), &full_tx, &empty_rx, &options, |_| {})
            })
            .context("cannot start the capture thread")?;
        let recycle = empty_tx.clone();
        std::thread::Builder::new()
            .name("ntop-detect".into())
            .spawn_scoped(scope, move || {
                for mut batch in detect_rx {
                    if !detectors.observe(&batch).is_empty() && alert_tx.send(detectors.incidents()).is_err() {
                        break;
                    }
                    batch.clear();
                    let _ = empty_tx.try_send(batch);
                }
            })
            .context("cannot start the detector thread")?;
        let io = EngineIo {
            batches: full_rx,
            detect: detect_tx,
            recycle,
            specs: spec_rx,
            views: view_tx,
            alerts: alert_rx,
            outliers,
        };
        let engine_name = name.clone();
        std::thread::Builder::new()
            .name("ntop-engine".into())
            .spawn_scoped(scope, move || engine(stats, io, shared, engine_name, live))
            .context("cannot start the engine thread")?;

        let dump = Dumper { ring, dir: &dump_dir };
        let mut names = names::Names::new(resolve);
        let result = ui_loop(spec_tx, view_rx, replay.as_deref(), &stop, live, &dump, &mut names);
        stop.store(true, Ordering::Relaxed);
        if let Some(r) = &replay {
            r.set_paused(false);
        }
        let captured = capture.join();
        result?;
        match captured {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.into()),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The engine thread's channels.
struct EngineIo {
    /// Decoded batches from the capture thread.
    batches: Receiver<Vec<PacketMeta>>,
    /// Counted batches on to the detector thread.
    detect: Sender<Vec<PacketMeta>>,
    /// Batches the detectors could not take, back to the capture thread.
    recycle: Sender<Vec<PacketMeta>>,
    /// View specs from the UI.
    specs: Receiver<ViewSpec>,
    /// Views to the UI.
    views: Sender<Arc<View>>,
    /// Incident lists from the detector thread.
    alerts: Receiver<Vec<Alert>>,
    /// Host clusters and model status.
    outliers: Option<crate::detect::outlier::SharedOutliers>,
}

/// The engine thread: count batches, pass them to the detectors, publish views.
fn engine(mut stats: Stats, io: EngineIo, shared: &Mutex<SourceState>, source: String, live: bool) {
    let EngineIo { mut batches, detect, recycle, specs, views, mut alerts, outliers } = io;
    let handoff = if live { Handoff::DropWhenFull } else { Handoff::Block };
    let mut spec = ViewSpec::default();
    let ticker = tick(PUBLISH);
    let mut dirty = true;
    let mut last_state = SourceState::default();
    let mut incidents: Vec<Alert> = Vec::new();
    let mut lagged = 0u64;
    loop {
        let mut publish = false;
        select! {
            recv(batches) -> msg => match msg {
                Ok(batch) => {
                    for meta in &batch {
                        stats.record(meta);
                    }
                    lagged += pipeline::forward(batch, &detect, &recycle, handoff);
                    dirty = true;
                }
                Err(_) => {
                    batches = never();
                    dirty = true;
                }
            },
            recv(alerts) -> msg => match msg {
                Ok(list) => {
                    incidents = list;
                    dirty = true;
                }
                Err(_) => alerts = never(),
            },
            recv(specs) -> msg => match msg {
                Ok(s) => {
                    spec = s;
                    publish = true;
                }
                Err(_) => return, // the UI is gone
            },
            recv(ticker) -> _ => {
                let mut state = shared.lock().map(|s| s.clone()).unwrap_or_default();
                state.dropped_detector = lagged;
                dirty |= state != last_state;
                last_state = state;
                publish = dirty;
            }
        }
        if publish {
            let context = Context {
                source: source.clone(),
                live,
                capture: last_state
                    .kernel
                    .map(|k| CaptureJson::new(&source, k, last_state.dropped_ring, last_state.dropped_detector)),
                status: last_state.status.clone(),
                finished: last_state.finished,
                alerts: incidents.clone(),
                outliers: None,
            };
            let mut view = View::build(&stats, &spec, context);
            if let Some(shared) = &outliers
                && let Ok(o) = shared.lock()
            {
                view.add_outliers(&o);
            }
            let view = Arc::new(view);
            // A full slot means the UI has not taken the last view yet: try next tick.
            dirty = views.try_send(view).is_err();
        }
    }
}

/// Writes the visible window from the packet ring.
struct Dumper<'a> {
    ring: &'a Mutex<PacketRing>,
    dir: &'a crate::files::OutDir,
}

impl Dumper<'_> {
    /// Dumps the packets of the view's time window that pass its filters; says what happened.
    fn window(&self, view: &View) -> String {
        let (width, start, buckets) = &view.series;
        let (from, to) = (*start, start + width * buckets.len() as i64);
        let spec = &view.spec;
        let frames = match self.ring.lock() {
            Ok(ring) => ring.collect(from, to, |f| spec.passes(&decode(f))),
            Err(_) => return "dump failed: the packet ring is unavailable".into(),
        };
        match dump::write(&frames, self.dir, &view.context.source, from, to) {
            Ok(d) if d.other_linktype > 0 => format!(
                "wrote {} packets to {} ({} of another link type left out)",
                d.packets,
                d.path.display(),
                d.other_linktype
            ),
            Ok(d) => format!("wrote {} packets to {}", d.packets, d.path.display()),
            Err(e) => e.to_string(),
        }
    }
}

impl Dumper<'_> {
    /// Dumps the alert's own pcap (its hosts' packets, from just before it began).
    fn alert(&self, view: &View, id: u64) -> String {
        let Some(alert) = view.context.alerts.iter().find(|a| a.id == id) else {
            return format!("alert {id} is no longer listed");
        };
        let result = match self.ring.lock() {
            Ok(ring) => dump::write_alert(&ring, alert, self.dir),
            Err(_) => return "dump failed: the packet ring is unavailable".into(),
        };
        match result {
            Ok(d) => format!("wrote {} packets of alert {id} to {}", d.packets, d.path.display()),
            Err(e) => e.to_string(),
        }
    }
}

/// The UI thread's loop. Returns when the user quits or `stop` is set.
fn ui_loop(
    specs: Sender<ViewSpec>,
    views: Receiver<Arc<View>>,
    replay: Option<&crate::capture::ReplayControl>,
    stop: &AtomicBool,
    live: bool,
    dump: &Dumper<'_>,
    names: &mut names::Names,
) -> anyhow::Result<()> {
    let theme = Theme::from_env();
    let (keys_tx, keys_rx) = bounded::<Event>(64);
    std::thread::Builder::new()
        .name("ntop-input".into())
        .spawn(move || {
            while let Ok(ev) = event::read() {
                if keys_tx.send(ev).is_err() {
                    break;
                }
            }
        })
        .context("cannot start the input thread")?;

    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    let result = (|| -> anyhow::Result<()> {
        let mut ui = UiState::new(if live { None } else { replay.map(|r| r.speed()) });
        let mut view = Arc::new(View::default());
        let heartbeat = tick(FRAME);
        let mut redraw = true;
        let mut last_draw = Instant::now() - FRAME;
        let mut rows = 0;
        loop {
            select! {
                recv(keys_rx) -> ev => match ev {
                    Ok(Event::Key(key)) if key.kind != KeyEventKind::Release => {
                        let effect = if matches!(ui.mode, Mode::FilterInput(_)) {
                            ui.filter_key(key)
                        } else {
                            action_for(key).map_or(Effect::Redraw, |a| ui.apply(a, &view))
                        };
                        match effect {
                            Effect::Quit => return Ok(()),
                            Effect::Spec => { let _ = specs.try_send(ui.spec.clone()); }
                            Effect::Pause(p) => { if let Some(r) = replay { r.set_paused(p) } }
                            Effect::Speed(s) => { if let Some(r) = replay { r.set_speed(s) } }
                            Effect::Dump => ui.message = Some(dump.window(&view)),
                            Effect::DumpAlert(id) => ui.message = Some(dump.alert(&view, id)),
                            Effect::Names => {
                                let on = names.toggle();
                                ui.message = Some(format!("names {}", if on { "on" } else { "off" }));
                            }
                            Effect::Redraw => {}
                        }
                        redraw = true;
                    }
                    Ok(_) => redraw = true, // resize, focus, mouse
                    Err(_) => return Ok(()), // no more input: the terminal is gone
                },
                recv(views) -> v => {
                    if let Ok(v) = v && !ui.paused {
                        view = v;
                        redraw = true;
                    }
                },
                recv(heartbeat) -> _ => {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                }
            }
            if redraw && last_draw.elapsed() >= FRAME {
                let height = usize::from(terminal.size().map(|s| s.height).unwrap_or(24));
                if height != rows {
                    rows = height;
                    ui.spec.rows = height;
                    let _ = specs.try_send(ui.spec.clone());
                }
                terminal.draw(|f| render::draw(f, &view, &ui, &theme, names)).context("cannot draw")?;
                last_draw = Instant::now();
                redraw = false;
            }
        }
    })();
    ratatui::restore();
    result
}
