//! The terminal UI: one thread owns the terminal and waits on one `select!` over key
//! input, new views and a tick; it never touches what the capture side holds.
//!
//! Threads: `ntop-capture` runs the pipeline runner ([`crate::pipeline::run`], the same
//! as headless: capture, counting, detection, finishing, alert dumps, sinks), whose
//! counting thread publishes a [`View`] for the current [`ViewSpec`] a few times a second
//! (at once when the spec changes). The UI redraws only when something changed, at most
//! ten times a second. The terminal is
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
use crossbeam_channel::{Receiver, Sender, bounded, select, tick};
use ratatui::crossterm::event::{self, Event, KeyEventKind};

use crate::capture::{Filter, PacketRing, PacketSource};
use crate::decode::decode;
use crate::export::dump;
use crate::pipeline::{self, Handoff, Options, RunReport, SinkSet, SourceState, ViewIo};
use crate::stats::Stats;
use crate::view::{View, ViewSpec};
use state::{Effect, Mode, UiState};
use theme::Theme;

/// Shortest time between two frames.
const FRAME: Duration = Duration::from_millis(100);

/// What the interactive session runs on.
pub struct Session<'a> {
    /// A user-space BPF filter (files; live filters run in the kernel).
    pub filter: Option<Filter>,
    /// Empty statistics with the configured limits.
    pub stats: Stats,
    /// The detectors to run.
    pub detectors: crate::detect::Detectors,
    /// Live capture (drops when behind) or replay (waits).
    pub live: bool,
    /// Replay speed control, for files.
    pub replay: Option<Arc<crate::capture::ReplayControl>>,
    /// Set by signals or by quitting: everything winds down.
    pub stop: Arc<AtomicBool>,
    /// Recent raw packets, for `w`, `d` and `--dump-alerts`.
    pub ring: Arc<PacketRing>,
    /// Where `w` and `d` write.
    pub dump_dir: crate::files::OutDir,
    /// Where ended incidents' pcaps go (`--dump-alerts`).
    pub dump_alerts: Option<crate::files::OutDir>,
    /// The run's sinks (`--alerts`).
    pub sinks: &'a SinkSet,
    /// Resolve host names (off with `-n`).
    pub resolve: bool,
    /// Host clusters and model status from the outlier detector, when it runs.
    pub outliers: Option<crate::detect::outlier::SharedOutliers>,
    /// Connection timeouts of the flow records (followed when a sink takes them).
    pub records: crate::records::RecordConfig,
    /// Writes a report of what has been seen so far (key `R`).
    pub report: Option<pipeline::ReportHook>,
    /// The configuration's `[keys]` and `[colours]`.
    pub look: Look,
}

/// Key bindings and colours from the configuration file.
#[derive(Clone, Debug, Default)]
pub struct Look {
    /// `[keys]`: action name, key.
    pub keys: Vec<(String, String)>,
    /// `[colours]`: role, colour name.
    pub colours: Vec<(String, String)>,
}

/// Runs the TUI until the user quits or a signal arrives: the pipeline runner (the same
/// as headless) on its own thread, publishing views; the UI on this one. Returns the
/// statistics and what the run reported, once the runner has finished the detectors
/// and every report has reached the sinks.
pub fn run<S: PacketSource + Send>(mut source: S, session: Session<'_>) -> anyhow::Result<(Stats, RunReport)> {
    let Session {
        mut filter,
        mut stats,
        mut detectors,
        live,
        replay,
        stop,
        ring,
        dump_dir,
        dump_alerts,
        sinks,
        resolve,
        outliers,
        records,
        report,
        look,
    } = session;
    let name = source.name().to_string();
    let shared = Mutex::new(SourceState::default());
    let (spec_tx, spec_rx) = bounded::<ViewSpec>(8);
    let (view_tx, view_rx) = bounded::<Arc<View>>(1);
    std::thread::scope(|scope| -> anyhow::Result<(Stats, RunReport)> {
        let (shared, stop_ref, ring_ref) = (&shared, &*stop, &*ring);
        let views = ViewIo { specs: spec_rx, views: view_tx, outliers, source: name, live, report };
        let runner = std::thread::Builder::new()
            .name("ntop-capture".into())
            .spawn_scoped(scope, move || {
                let options = Options {
                    handoff: if live { Handoff::DropWhenFull } else { Handoff::Block },
                    stop: Some(stop_ref),
                    shared: Some(shared),
                    ring: Some(ring_ref),
                    dump_alerts,
                    sinks: Some(sinks),
                    views: Some(views),
                    records: Some(records),
                };
                let report = pipeline::run(&mut source, filter.as_mut(), &mut stats, &mut detectors, options, |_| {});
                report.map(|r| (stats, r))
            })
            .context("cannot start the capture thread")?;
        let dump = Dumper { ring: &ring, dir: &dump_dir };
        let mut names = names::Names::new(resolve);
        let tools = Tools { dump: &dump, names: &mut names, look: &look };
        let result = ui_loop(spec_tx, view_rx, replay.as_deref(), &stop, live, tools);
        stop.store(true, Ordering::Relaxed);
        if let Some(r) = &replay {
            r.set_paused(false);
        }
        let ran = runner.join();
        result?;
        match ran {
            Ok(Ok(done)) => Ok(done),
            Ok(Err(e)) => Err(e.into()),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Writes the visible window from the packet ring.
struct Dumper<'a> {
    ring: &'a PacketRing,
    dir: &'a crate::files::OutDir,
}

impl Dumper<'_> {
    /// Dumps the packets of the view's time window that pass its filters; says what happened.
    fn window(&self, view: &View) -> String {
        let (width, start, buckets) = &view.series;
        let (from, to) = (*start, start + width * buckets.len() as i64);
        let spec = &view.spec;
        match dump::write_window(self.ring, self.dir, &view.context.source, (from, to), |f| spec.passes(&decode(f))) {
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
        match dump::write_alert(self.ring, alert, self.dir) {
            Ok(d) => format!("wrote {} packets of alert {id} to {}", d.packets, d.path.display()),
            Err(e) => e.to_string(),
        }
    }
}

/// What the UI loop works with besides its channels.
struct Tools<'a, 'd> {
    dump: &'a Dumper<'d>,
    names: &'a mut names::Names,
    look: &'a Look,
}

/// The UI thread's loop. Returns when the user quits or `stop` is set.
fn ui_loop(
    specs: Sender<ViewSpec>,
    views: Receiver<Arc<View>>,
    replay: Option<&crate::capture::ReplayControl>,
    stop: &AtomicBool,
    live: bool,
    tools: Tools<'_, '_>,
) -> anyhow::Result<()> {
    let Tools { dump, names, look } = tools;
    let theme = Theme::from_env().with_colours(&look.colours);
    let keymap = keys::KeyMap::new(&look.keys);
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
        let mut reported = 0;
        loop {
            select! {
                recv(keys_rx) -> ev => match ev {
                    Ok(Event::Key(key)) if key.kind != KeyEventKind::Release => {
                        let effect = if matches!(ui.mode, Mode::FilterInput(_)) {
                            ui.filter_key(key)
                        } else {
                            keymap.action_for(key).map_or(Effect::Redraw, |a| ui.apply(a, &view))
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
                    // A report's outcome shows even while the view is paused.
                    if let Ok(Some((n, text))) = v.as_ref().map(|v| &v.notice)
                        && *n == ui.spec.report
                        && ui.message.as_deref() != Some(text)
                        && reported < *n
                    {
                        reported = *n;
                        ui.message = Some(text.clone());
                        redraw = true;
                    }
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
