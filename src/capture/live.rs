//! Live capture with libpcap: the only place that opens network devices.
//!
//! The handle is non-blocking and *not* in immediate mode: on Linux that keeps libpcap on
//! TPACKET_V3, whose ring packs variable-length packets into blocks (immediate mode
//! falls back to TPACKET_V2, whose fixed frames are sized for the snap length, so a
//! 16 MiB buffer holds only ~64 full-size packets and drops under load). Blocks are
//! handed over when full or after [`BLOCK_TIMEOUT_MS`]; when a read finds nothing, the
//! source waits in `poll(2)` for at most that long, so the capture thread notices a stop
//! request promptly and costs nothing while the link is idle. libpcap's counters
//! are 32-bit and wrap; [`LiveSource::stats`] accumulates them into 64-bit totals. When
//! the device fails (interface down, unplugged), the source reports the error through
//! [`PacketSource::status`] and reopens it once a second until it works again.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use pcap::{Active, Capture, Device, Precision};

use super::{CaptureError, Frame, LinkType, NANOS_PER_SEC, Nanos, Next, PacketSource};

/// The longest the capture thread waits in `poll(2)` before looking at its stop flag.
pub const READ_TIMEOUT_MS: i32 = 100;
/// libpcap's timeout: on Linux, how long a partly filled TPACKET_V3 block waits before
/// the kernel hands it over, i.e. the delivery latency on a quiet link. Not shorter:
/// the ring has a few dozen blocks and each closes after this long, so a short timeout
/// leaves little slack for a reader that is briefly descheduled (tcpdump uses 1000 ms).
const BLOCK_TIMEOUT_MS: i32 = 100;
/// Pause between attempts to reopen a failed device.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// Pause between link-state checks (one small sysfs read).
const LINK_CHECK_EVERY: Duration = Duration::from_millis(100);
/// Frames read between looks at the clock for the link check while packets keep coming
/// (an idle read always looks): reading the clock for every packet of a flood costs more
/// than decoding it.
const LINK_CHECK_FRAMES: u32 = 4096;
/// `IFF_UP` in `/sys/class/net/<dev>/flags`.
const IFF_UP: u32 = 0x1;

/// How to open the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveConfig {
    /// Device name; `None` picks libpcap's first up, non-loopback device.
    pub device: Option<String>,
    /// Promiscuous mode.
    pub promisc: bool,
    /// Bytes captured per packet.
    pub snaplen: i32,
    /// Kernel buffer size in MiB.
    pub buffer_mib: u32,
    /// BPF expression applied in the kernel.
    pub filter: Option<String>,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig { device: None, promisc: true, snaplen: 262_144, buffer_mib: 16, filter: None }
    }
}

/// Kernel-side counters of a live capture, since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Packets the kernel handed to the capture (libpcap's `ps_recv`).
    pub received: u64,
    /// Dropped because the capture buffer was full (`ps_drop`).
    pub dropped_kernel: u64,
    /// Dropped by the interface or its driver (`ps_ifdrop`).
    pub dropped_interface: u64,
}

/// One device, as `-D` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Name to pass to `-i`.
    pub name: String,
    /// libpcap's description, if any.
    pub description: Option<String>,
    /// Addresses, as text.
    pub addresses: Vec<String>,
    /// Up, running, loopback, wireless.
    pub flags: Vec<&'static str>,
}

/// Lists capture devices in libpcap's order.
pub fn list_devices() -> Result<Vec<DeviceInfo>, CaptureError> {
    let devices =
        Device::list().map_err(|e| CaptureError::Open { path: "device list".into(), reason: e.to_string() })?;
    Ok(devices
        .into_iter()
        .map(|d| {
            let f = &d.flags;
            let flags = [
                (f.is_up(), "up"),
                (f.is_running(), "running"),
                (f.is_loopback(), "loopback"),
                (f.is_wireless(), "wireless"),
            ]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
            DeviceInfo {
                name: d.name,
                description: d.desc,
                addresses: d.addresses.iter().map(|a| a.addr.to_string()).collect(),
                flags,
            }
        })
        .collect())
}

/// The device used when none is named: the first that is up and not a loopback.
pub fn default_device() -> Result<String, CaptureError> {
    let none = || CaptureError::Open {
        path: "a default device".into(),
        reason: "no interface is up (name one with -i; -D lists them)".into(),
    };
    let devices =
        Device::list().map_err(|e| CaptureError::Open { path: "device list".into(), reason: e.to_string() })?;
    devices
        .into_iter()
        .find(|d| d.flags.is_up() && !d.flags.is_loopback() && d.name != "any")
        .map(|d| d.name)
        .ok_or_else(none)
}

/// A live capture on one device.
pub struct LiveSource {
    name: String,
    config: LiveConfig,
    cap: Option<Capture<Active>>,
    linktype: LinkType,
    /// Whether the handle delivers nanosecond timestamps.
    nanos: bool,
    /// The handle failed; close it before the next read.
    broken: bool,
    /// The last read found nothing: wait for readability before the next one.
    drained: bool,
    /// Last raw 32-bit counters seen, to accumulate across wraps and reopenings.
    last_raw: (u32, u32, u32),
    totals: KernelStats,
    error: Option<String>,
    last_attempt: Instant,
    /// Set while the interface is administratively down.
    down: Option<String>,
    last_link_check: Instant,
    /// Frames read since the clock was last looked at.
    unchecked: u32,
    /// Set once privileges are dropped: who we run as (no reopening after that).
    unprivileged: Option<String>,
}

impl LiveSource {
    /// Opens the device (or the default one) as configured.
    pub fn open(mut config: LiveConfig) -> Result<Self, CaptureError> {
        let name = match config.device.take() {
            Some(n) => n,
            None => default_device()?,
        };
        config.device = Some(name.clone());
        let (cap, nanos) = open_device(&name, &config)?;
        let linktype = LinkType(cap.get_datalink().0 as u16);
        Ok(LiveSource {
            name,
            config,
            cap: Some(cap),
            linktype,
            nanos,
            broken: false,
            drained: false,
            last_raw: (0, 0, 0),
            totals: KernelStats::default(),
            error: None,
            last_attempt: Instant::now(),
            down: None,
            last_link_check: Instant::now(),
            unchecked: 0,
            unprivileged: None,
        })
    }

    /// Privileges are gone (ntop-rs now runs as `user`): a device that fails can no
    /// longer be reopened, so a failure is reported once, in a line that says so.
    pub fn set_unprivileged(&mut self, user: &str) {
        self.unprivileged = Some(user.to_string());
    }

    /// The device's link type.
    pub fn linktype(&self) -> LinkType {
        self.linktype
    }

    /// Drops a handle that failed; [`Self::retry`] reopens it.
    fn close(&mut self) {
        self.poll_stats();
        self.cap = None;
        self.broken = false;
        self.last_raw = (0, 0, 0);
        self.last_attempt = Instant::now();
    }

    fn down_message(&self) -> String {
        format!("{} is down (waiting for it to come back)", self.name)
    }

    fn retry(&mut self) {
        if let Some(user) = &self.unprivileged {
            // Reopening needs the privileges given up after the first open.
            if !self.error.as_deref().is_some_and(|e| e.contains("cannot be reopened")) {
                let what = self.error.take().unwrap_or_else(|| format!("{}: the capture failed", self.name));
                let what = what.trim_end_matches(" (retrying every second)");
                self.error = Some(format!(
                    "{what}; it cannot be reopened without privileges (ntop-rs runs as {user}): restart ntop-rs"
                ));
            }
            std::thread::sleep(LINK_CHECK_EVERY);
            return;
        }
        // A device that is down: wait for it to come up, then reopen at once.
        if link_is_up(&self.name) == Some(false) {
            self.down = Some(self.down_message());
            std::thread::sleep(LINK_CHECK_EVERY);
            return;
        }
        let was_down = self.down.take().is_some();
        if !was_down && self.last_attempt.elapsed() < RETRY_EVERY {
            std::thread::sleep(LINK_CHECK_EVERY);
            return;
        }
        self.last_attempt = Instant::now();
        match open_device(&self.name, &self.config) {
            Ok((cap, nanos)) => {
                self.linktype = LinkType(cap.get_datalink().0 as u16);
                self.cap = Some(cap);
                self.nanos = nanos;
                self.drained = false;
                self.error = None;
            }
            Err(e) => self.error = Some(format!("{e} (retrying every second)")),
        }
    }

    /// Every 100 ms, looks whether the interface was taken down. The capture socket
    /// survives that (it just goes quiet, and libpcap reports nothing), so the handle is
    /// kept, which also matters after privileges were dropped: it could not be reopened.
    fn check_link(&mut self) {
        if self.cap.is_some() && !self.drained && self.unchecked < LINK_CHECK_FRAMES {
            self.unchecked += 1;
            return;
        }
        self.unchecked = 0;
        if self.cap.is_none() || self.last_link_check.elapsed() < LINK_CHECK_EVERY {
            return;
        }
        self.last_link_check = Instant::now();
        self.down = (link_is_up(&self.name) == Some(false)).then(|| self.down_message());
    }

    /// Reads libpcap's counters into the 64-bit totals.
    fn poll_stats(&mut self) {
        let Some(cap) = self.cap.as_mut() else { return };
        let Ok(s) = cap.stats() else { return };
        let (r, d, i) = self.last_raw;
        self.totals.received += u64::from(s.received.wrapping_sub(r));
        self.totals.dropped_kernel += u64::from(s.dropped.wrapping_sub(d));
        self.totals.dropped_interface += u64::from(s.if_dropped.wrapping_sub(i));
        self.last_raw = (s.received, s.dropped, s.if_dropped);
    }
}

impl PacketSource for LiveSource {
    fn next_frame(&mut self) -> Result<Next<'_>, CaptureError> {
        if self.broken {
            self.close();
        }
        self.check_link();
        if self.cap.is_none() {
            self.retry();
            return Ok(Next::Idle);
        }
        if self.drained {
            let Some(cap) = self.cap.as_ref() else { return Ok(Next::Idle) };
            let mut fds = [PollFd::new(cap.as_fd(), PollFlags::POLLIN)];
            let timeout = PollTimeout::try_from(READ_TIMEOUT_MS).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, timeout) {
                Ok(0) | Err(nix::Error::EINTR) => return Ok(Next::Idle),
                _ => self.drained = false,
            }
        }
        let Some(cap) = self.cap.as_mut() else { return Ok(Next::Idle) };
        // Only `self.cap` is borrowed by the packet, so the other fields stay writable.
        match cap.next_packet() {
            Ok(p) => {
                let frac = Nanos::from(p.header.ts.tv_usec) * if self.nanos { 1 } else { 1000 };
                let ts = Nanos::from(p.header.ts.tv_sec) * NANOS_PER_SEC + frac;
                Ok(Next::Frame(Frame { ts, linktype: self.linktype, data: p.data, orig_len: p.header.len }))
            }
            Err(pcap::Error::TimeoutExpired) => {
                self.drained = true;
                Ok(Next::Idle)
            }
            Err(e) => {
                self.error = Some(format!("{}: {e}", self.name));
                self.broken = true;
                Ok(Next::Idle)
            }
        }
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn kernel_stats(&mut self) -> Option<KernelStats> {
        self.poll_stats();
        Some(self.totals)
    }

    fn status(&self) -> Option<&str> {
        self.down.as_deref().or(self.error.as_deref())
    }
}

/// Opens and activates the device; also says whether timestamps are in nanoseconds.
/// Whether a (Linux) interface is administratively up, from sysfs; `None` when that
/// cannot be told. (Not `operstate`: it lags link changes by up to a second.)
fn link_is_up(device: &str) -> Option<bool> {
    if device == "any" || device.contains('/') {
        return None;
    }
    let text = std::fs::read_to_string(format!("/sys/class/net/{device}/flags")).ok()?;
    let flags = u32::from_str_radix(text.trim().trim_start_matches("0x"), 16).ok()?;
    Some(flags & IFF_UP != 0)
}

fn open_device(name: &str, config: &LiveConfig) -> Result<(Capture<Active>, bool), CaptureError> {
    let open_err = |e: pcap::Error| classify_open_error(name, &e.to_string());
    let build = |precision| {
        Capture::from_device(name)
            .map(|c| {
                c.promisc(config.promisc)
                    .snaplen(config.snaplen)
                    .buffer_size(i32::try_from(u64::from(config.buffer_mib) << 20).unwrap_or(i32::MAX))
                    .immediate_mode(false)
                    .timeout(BLOCK_TIMEOUT_MS)
                    .precision(precision)
            })
            .and_then(|c| c.open())
    };
    // Nanosecond timestamps where the platform offers them, else microseconds.
    let (cap, nanos) = match build(Precision::Nano) {
        Ok(c) => (c, true),
        Err(_) => (build(Precision::Micro).map_err(open_err)?, false),
    };
    let mut cap = cap.setnonblock().map_err(open_err)?;
    if let Some(expr) = &config.filter {
        cap.filter(expr, true).map_err(|e| CaptureError::Open {
            path: name.to_string(),
            reason: format!("bad filter expression '{expr}': {}", e.to_string().trim_start_matches("libpcap error: ")),
        })?;
    }
    Ok((cap, nanos))
}

/// Turns libpcap's open errors into messages that say what to do.
pub fn classify_open_error(device: &str, message: &str) -> CaptureError {
    let lower = message.to_lowercase();
    let reason = if lower.contains("permission") || lower.contains("not permitted") {
        "permission denied — run with sudo, or let the binary capture: \
         sudo setcap cap_net_raw,cap_net_admin+eip \"$(command -v ntop-rs)\""
            .to_string()
    } else if lower.contains("no such device") || lower.contains("doesn't exist") || lower.contains("not found") {
        "no such interface (-D lists them)".to_string()
    } else {
        message.trim_start_matches("libpcap error: ").to_string()
    };
    CaptureError::Open { path: device.to_string(), reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_link_state() {
        assert_eq!(link_is_up("lo"), Some(true));
        assert_eq!(link_is_up("no-such-if0"), None);
        assert_eq!(link_is_up("any"), None);
    }

    #[test]
    fn open_errors_say_what_to_do() {
        let e = classify_open_error(
            "eth0",
            "eth0: You don't have permission to capture on that device (socket: Operation not permitted)",
        );
        let text = e.to_string();
        assert!(text.starts_with("cannot open eth0: permission denied"), "{text}");
        assert!(text.contains("setcap cap_net_raw,cap_net_admin+eip"), "{text}");
        let e = classify_open_error("nope0", "nope0: No such device exists (SIOCGIFHWADDR: No such device)");
        assert_eq!(e.to_string(), "cannot open nope0: no such interface (-D lists them)");
    }
}
