//! Network-namespace labs: two namespaces joined by a veth pair, removed on drop.
//!
//! Traffic in a lab goes only to the lab's own addresses (10.77.N.1 and 10.77.N.2).

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStderr, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Why a lab cannot run here, if it cannot (not root, or a tool missing).
pub fn unavailable(tools: &[&str]) -> Option<String> {
    if !nix_is_root() {
        return Some("not running as root".into());
    }
    for tool in tools.iter().chain(&["ip"]) {
        let found =
            Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

/// Runs a lab script (`scripts/NAME`) with the built binary and a fresh output directory,
/// as `scripts/NAME BIN OUT_DIR`.
pub fn run_script(name: &str) -> Output {
    let out_dir = tempfile::tempdir().expect("temporary directory");
    let script = format!("{}/scripts/{name}", env!("CARGO_MANIFEST_DIR"));
    Command::new("bash")
        .args([script.as_str(), super::bin_path(), out_dir.path().to_str().unwrap()])
        .output()
        .unwrap_or_else(|e| panic!("running scripts/{name}: {e}"))
}

fn nix_is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Two namespaces, `a` (10.77.N.1 on `va`) and `b` (10.77.N.2 on `vb`).
pub struct Lab {
    /// Namespace names.
    pub ns: [String; 2],
    /// Interface names inside them.
    pub dev: [String; 2],
    /// Addresses of the two ends.
    pub ip: [String; 2],
}

static NEXT: AtomicU32 = AtomicU32::new(0);

fn sh(args: &[&str]) -> Output {
    let out = Command::new(args[0]).args(&args[1..]).output().expect("command runs");
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

impl Lab {
    /// Creates the namespaces and the link, with IPv6 off (no background chatter).
    pub fn new() -> Lab {
        let n = (std::process::id() % 200) * 50 + NEXT.fetch_add(1, Ordering::Relaxed) % 50;
        let tag = format!("{}{}", std::process::id(), NEXT.load(Ordering::Relaxed));
        let lab = Lab {
            ns: [format!("ntl{tag}a"), format!("ntl{tag}b")],
            dev: [format!("va{n}"), format!("vb{n}")],
            ip: [format!("10.77.{}.1", n % 250), format!("10.77.{}.2", n % 250)],
        };
        for ns in &lab.ns {
            sh(&["ip", "netns", "add", ns]);
        }
        lab.connect();
        lab
    }

    /// Creates the veth pair between the namespaces, with addresses, up; IPv6 off.
    pub fn connect(&self) {
        sh(&[
            "ip",
            "link",
            "add",
            &self.dev[0],
            "netns",
            &self.ns[0],
            "type",
            "veth",
            "peer",
            "name",
            &self.dev[1],
            "netns",
            &self.ns[1],
        ]);
        for i in 0..2 {
            let (ns, dev) = (&self.ns[i], &self.dev[i]);
            sh(&["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
            sh(&["ip", "-n", ns, "addr", "add", &format!("{}/24", self.ip[i]), "dev", dev]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
    }

    /// Deletes the veth pair (both ends vanish).
    pub fn disconnect(&self) {
        sh(&["ip", "-n", &self.ns[0], "link", "del", &self.dev[0]]);
    }

    /// A command run inside namespace `i`.
    pub fn cmd(&self, i: usize, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns[i], program]);
        c
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in &self.ns {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// Spawns `cmd` with piped stderr and waits until a stderr line contains `ready`.
/// Returns the child and the rest of its stderr (read on a thread into a string).
pub fn spawn_until(mut cmd: Command, ready: &str, timeout: Duration) -> (Child, std::thread::JoinHandle<String>) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let stderr: ChildStderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let ready = ready.to_string();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let mut signalled = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !signalled && line.contains(&ready) {
                let _ = tx.send(());
                signalled = true;
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let start = Instant::now();
    if rx.recv_timeout(timeout).is_err() {
        let _ = child.kill();
        let err = reader.join().unwrap_or_default();
        panic!("not ready after {:?} ({}s): {err}", timeout, start.elapsed().as_secs());
    }
    (child, reader)
}

/// Sends SIGINT to a child.
pub fn interrupt(child: &Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
}
