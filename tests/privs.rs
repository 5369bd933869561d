//! Packets are never parsed with privileges: after opening its input, a run started as
//! root becomes an unprivileged user, and a run with file capabilities drops them. Each
//! test reads `/proc/PID/status` of the running process. Needs root (these tests are
//! left out, and counted as skipped, by scripts/test.sh when not root).

mod common;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::lab::{Lab, interrupt, spawn_until, unavailable};
use common::{bin_path, pcap_bytes};

/// The `Uid:`, `CapPrm:` and `CapEff:` lines of a process's status.
fn creds(pid: u32) -> (Vec<u32>, u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| status.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_string();
    let uids = field("Uid:").split_whitespace().skip(1).filter_map(|u| u.parse().ok()).collect();
    let cap = |name: &str| {
        u64::from_str_radix(field(name).split_whitespace().nth(1).unwrap_or("ffff"), 16).unwrap_or(u64::MAX)
    };
    (uids, cap("CapPrm:"), cap("CapEff:"))
}

/// Polls until the process runs with no root uid and no capability (or time runs out).
fn wait_unprivileged(child: &Child) -> (Vec<u32>, u64, u64) {
    let start = Instant::now();
    loop {
        let c = creds(child.id());
        if (c.0.len() == 4 && c.0.iter().all(|&u| u != 0) && c.1 == 0 && c.2 == 0)
            || start.elapsed() > Duration::from_secs(10)
        {
            return c;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A root run with no sudo variables: nothing says who to become.
fn as_plain_root(program: &str) -> Command {
    let mut c = Command::new(program);
    c.env_remove("SUDO_UID").env_remove("SUDO_GID").env_remove("SUDO_USER");
    c
}

#[test]
fn a_replay_from_a_pipe_that_stays_open_is_read_unprivileged() {
    if let Some(why) = unavailable(&[]) {
        common::skip(&format!("privilege test: {why}"));
        return;
    }
    let udp = common::eth_ipv4_udp(5);
    let len = udp.len() as u32;
    let file = pcap_bytes(false, false, 1, &[(1_700_000_000, 0, &udp, len), (1_700_000_001, 0, &udp, len)]);
    let first = 24 + 16 + udp.len();
    let mut child = as_plain_root(bin_path())
        .args(["-r", "-", "--headless", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The header and one packet; the pipe stays open, so the run is still reading.
    stdin.write_all(&file[..first]).unwrap();
    let (uids, prm, eff) = wait_unprivileged(&child);
    stdin.write_all(&file[first..]).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(uids.iter().all(|&u| u != 0) && uids.len() == 4, "uids while reading: {uids:?}");
    assert_eq!((prm, eff), (0, 0), "capabilities while reading");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["packets"], 2);
}

#[test]
fn a_live_capture_as_plain_root_runs_as_nobody() {
    if let Some(why) = unavailable(&[]) {
        common::skip(&format!("privilege test: {why}"));
        return;
    }
    let lab = Lab::new();
    let mut cmd = as_plain_root("ip");
    cmd.args(["netns", "exec", &lab.ns[1], bin_path(), "-i", &lab.dev[1], "--headless", "--json"]);
    let (child, err) = spawn_until(cmd, "running as nobody", Duration::from_secs(10));
    let (uids, prm, eff) = wait_unprivileged(&child);
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let err = err.join().unwrap();
    assert!(uids.iter().all(|&u| u == 65534), "uids while capturing: {uids:?} {err}");
    assert_eq!((prm, eff), (0, 0), "capabilities while capturing");
    assert!(out.status.success(), "{err}");
}

#[test]
fn minus_z_root_keeps_root_with_one_warning() {
    if let Some(why) = unavailable(&[]) {
        common::skip(&format!("privilege test: {why}"));
        return;
    }
    let out = as_plain_root(bin_path())
        .args(["-r", common::sample().to_str().unwrap(), "--headless", "--json", "-Z", "root"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("warning: -Z root"), "{err}");
}

#[test]
fn file_capabilities_are_gone_once_capturing() {
    if let Some(why) = unavailable(&["setcap", "setpriv"]) {
        common::skip(&format!("capability test: {why}"));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("ntop-rs");
    std::fs::copy(bin_path(), &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let set = Command::new("setcap").args(["cap_net_raw,cap_net_admin+eip", bin.to_str().unwrap()]).output().unwrap();
    assert!(set.status.success(), "setcap: {}", String::from_utf8_lossy(&set.stderr));
    let lab = Lab::new();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &lab.ns[1], "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]);
    cmd.args([bin.to_str().unwrap(), "-i", &lab.dev[1], "--headless", "--json"]);
    let (child, err) = spawn_until(cmd, "listening on", Duration::from_secs(10));
    let (uids, prm, eff) = wait_unprivileged(&child);
    interrupt(&child);
    let out = child.wait_with_output().unwrap();
    let err = err.join().unwrap();
    assert!(out.status.success(), "{err}");
    assert!(uids.iter().all(|&u| u == 65534), "{uids:?}");
    assert_eq!((prm, eff), (0, 0), "CapPrm and CapEff once capturing: {err}");
}

#[test]
fn outputs_named_on_the_command_line_are_written_after_the_drop() {
    if let Some(why) = unavailable(&[]) {
        common::skip(&format!("privilege test: {why}"));
        return;
    }
    // A root-only directory: nobody cannot write it, so a helper that kept root does.
    let dir = tempfile::tempdir().unwrap();
    let alerts = dir.path().join("alerts.ndjson");
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap");
    let out = as_plain_root(bin_path())
        .args(["-r", demo.to_str().unwrap(), "--headless", "--json", "--no-outliers"])
        .args(["--alerts", alerts.to_str().unwrap(), "--dump-alerts", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pcaps: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".pcap"))
        .collect();
    assert!(!pcaps.is_empty(), "alert pcaps written");
    use std::os::unix::fs::PermissionsExt;
    for f in pcaps.iter().map(|e| e.path()).chain([alerts.clone()]) {
        assert_eq!(std::fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600, "{f:?}");
    }
    assert!(std::fs::read_to_string(&alerts).unwrap().lines().count() > 5);
}

#[test]
fn a_root_run_appends_to_the_alerts_an_earlier_root_run_wrote() {
    if let Some(why) = unavailable(&[]) {
        common::skip(&format!("privilege test: {why}"));
        return;
    }
    // A directory the user the run becomes (nobody) can write: the first run gives it
    // the file, and the second, started as root again, must still append to it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    let alerts = dir.path().join("alerts.ndjson");
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap");
    let run = || {
        as_plain_root(bin_path())
            .args(["-r", demo.to_str().unwrap(), "--headless", "--no-outliers", "--no-progress"])
            .args(["--alerts", alerts.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let once = std::fs::read_to_string(&alerts).unwrap().lines().count();
    assert!(once > 5, "{once} reports");
    let second = run();
    assert!(second.status.success(), "second run: {}", String::from_utf8_lossy(&second.stderr));
    assert_eq!(std::fs::read_to_string(&alerts).unwrap().lines().count(), 2 * once, "both runs kept");
}
