//! `--metrics ADDR`: a Prometheus endpoint at `http://ADDR/metrics` while the run lasts
//! (prometheus-client for the text exposition, tiny_http for the server; it listens only
//! where asked). Counters follow the run's own figures once a second of packet time:
//! packets and bytes by protocol, losses by stage (kernel, interface, ring, detector,
//! each sink), alert incidents by kind and severity; gauges give the tables' fill and the
//! outlier model's state.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::decode::Proto;
use crate::detect::outlier::SharedOutliers;
use crate::detect::{Alert, AlertState};
use crate::pipeline::Sink;
use crate::pipeline::sink::Snapshot;

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The metrics and the registry that exposes them.
struct Metrics {
    registry: Registry,
    packets: Family<Labels, Counter>,
    bytes: Family<Labels, Counter>,
    dropped: Family<Labels, Counter>,
    alerts: Family<Labels, Counter>,
    table_entries: Family<Labels, Gauge>,
    table_capacity: Family<Labels, Gauge>,
    table_evicted: Family<Labels, Counter>,
    model_state: Family<Labels, Gauge>,
    model_trainings: Counter,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ntop_rs");
        let m = Metrics {
            packets: Family::default(),
            bytes: Family::default(),
            dropped: Family::default(),
            alerts: Family::default(),
            table_entries: Family::default(),
            table_capacity: Family::default(),
            table_evicted: Family::default(),
            model_state: Family::default(),
            model_trainings: Counter::default(),
            registry: Registry::default(),
        };
        registry.register("packets", "Packets counted, by protocol class", m.packets.clone());
        registry.register("bytes", "Bytes (wire length) counted, by protocol class", m.bytes.clone());
        registry.register("dropped", "Packets (messages, for sinks) lost, by stage", m.dropped.clone());
        registry.register("alerts", "Alert incidents opened, by kind and severity", m.alerts.clone());
        registry.register("table_entries", "Entries held, by table", m.table_entries.clone());
        registry.register("table_capacity", "Most entries held at once, by table", m.table_capacity.clone());
        registry.register("table_evicted", "Entries evicted to stay under the cap, by table", m.table_evicted.clone());
        registry.register("outlier_model_state", "1 for the outlier model's state", m.model_state.clone());
        registry.register("outlier_trainings", "Outlier models trained in this run", m.model_trainings.clone());
        Metrics { registry, ..m }
    }
}

/// Raises counter `c` to `value` (the run's figures only grow).
fn raise(c: &Counter, value: u64) {
    let now = c.get();
    if value > now {
        c.inc_by(value - now);
    }
}

/// The endpoint, bound (before privileges are dropped) but not yet serving.
pub struct Listener {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
}

/// Binds `addr` for the endpoint.
pub fn bind(addr: &str) -> Result<Listener, String> {
    let addr: SocketAddr =
        addr.parse().map_err(|_| format!("'{addr}' is not an address and port (e.g. 127.0.0.1:9187)"))?;
    let server = tiny_http::Server::http(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    Ok(Listener { server: Arc::new(server), addr })
}

/// The `--metrics` sink: it keeps the metrics up to date; its server thread answers
/// scrapes.
pub struct MetricsSink {
    metrics: Arc<Mutex<Metrics>>,
    outliers: Option<SharedOutliers>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsSink {
    /// Starts serving on `listener`; `outliers` is the outlier detector's status, when
    /// it runs.
    pub fn start(listener: Listener, outliers: Option<SharedOutliers>) -> Result<MetricsSink, String> {
        let metrics = Arc::new(Mutex::new(Metrics::new()));
        let (server, shared) = (Arc::clone(&listener.server), Arc::clone(&metrics));
        let thread = std::thread::Builder::new()
            .name("ntop-metrics".into())
            .spawn(move || serve(&server, &shared))
            .map_err(|e| format!("cannot start the metrics server on {}: {e}", listener.addr))?;
        Ok(MetricsSink { metrics, outliers, server: listener.server, thread: Some(thread) })
    }

    fn with(&self, f: impl FnOnce(&Metrics)) {
        let m = self.metrics.lock().unwrap_or_else(|p| p.into_inner());
        f(&m);
    }
}

/// Answers requests until the server is unblocked: `/metrics` gets the exposition.
fn serve(server: &tiny_http::Server, metrics: &Mutex<Metrics>) {
    for request in server.incoming_requests() {
        let path = request.url().split('?').next().unwrap_or("");
        let response = if path == "/metrics" {
            let mut body = String::new();
            let encoded = {
                let m = metrics.lock().unwrap_or_else(|p| p.into_inner());
                encode(&mut body, &m.registry)
            };
            if encoded.is_err() {
                let _ = request.respond(tiny_http::Response::from_string("encoding failed").with_status_code(500));
                continue;
            }
            let kind = "application/openmetrics-text; version=1.0.0; charset=utf-8";
            let header = tiny_http::Header::from_bytes("Content-Type", kind).expect("a valid header");
            tiny_http::Response::from_string(body).with_header(header)
        } else {
            tiny_http::Response::from_string("ntop-rs: the metrics are at /metrics\n").with_status_code(404)
        };
        let _ = request.respond(response);
    }
}

impl Drop for MetricsSink {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Sink for MetricsSink {
    fn name(&self) -> &'static str {
        "metrics"
    }

    fn snapshot(&mut self, s: &Snapshot) -> Result<(), String> {
        let status = self.outliers.as_ref().and_then(|o| o.lock().ok().map(|v| v.status.clone()));
        self.with(|m| {
            for p in Proto::ALL {
                let l = labels(&[("proto", p.name())]);
                raise(&m.packets.get_or_create(&l), s.protocols[p.index()].packets);
                raise(&m.bytes.get_or_create(&l), s.protocols[p.index()].bytes);
            }
            for (stage, n) in &s.drops {
                raise(&m.dropped.get_or_create(&labels(&[("stage", stage)])), *n);
            }
            for (table, fill) in &s.tables {
                let l = labels(&[("table", table)]);
                m.table_entries.get_or_create(&l).set(fill.len as i64);
                m.table_capacity.get_or_create(&l).set(fill.cap as i64);
                raise(&m.table_evicted.get_or_create(&l), fill.evicted);
            }
            if let Some(status) = status {
                for state in ["learning", "training", "ready"] {
                    m.model_state.get_or_create(&labels(&[("state", state)])).set(i64::from(status.state == state));
                }
                raise(&m.model_trainings, u64::from(status.trainings));
            }
        });
        Ok(())
    }

    fn alert(&mut self, a: &Alert) -> Result<(), String> {
        if a.state == AlertState::New {
            let v = serde_json::to_value(a.severity).map_err(|e| e.to_string())?;
            let (kind, severity) = (a.kind.to_string(), v.as_str().unwrap_or_default().to_string());
            self.with(|m| {
                m.alerts.get_or_create(&labels(&[("kind", &kind), ("severity", &severity)])).inc();
            });
        }
        Ok(())
    }

    fn finish(&mut self, summary: &serde_json::Value) -> Result<(), String> {
        // The last second's figures: the summary's.
        self.with(|m| {
            for p in Proto::ALL {
                let l = labels(&[("proto", p.name())]);
                let c = &summary["protocols"][p.name()];
                raise(&m.packets.get_or_create(&l), c["packets"].as_u64().unwrap_or(0));
                raise(&m.bytes.get_or_create(&l), c["bytes"].as_u64().unwrap_or(0));
            }
        });
        Ok(())
    }
}
