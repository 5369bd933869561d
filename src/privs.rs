//! Giving up privileges once the input is open: packets are never parsed as root.
//!
//! Opening a capture device needs root or `cap_net_raw`/`cap_net_admin`; opening a file
//! may need root; nothing after that does. So, once the device or file is open (and the
//! output files named on the command line too), ntop-rs:
//! - as root, switches to the user named by `-Z`, else the user who ran `sudo` (from
//!   `SUDO_UID`/`SUDO_GID`), else the unprivileged account `nobody`, the way Debian's
//!   tcpdump drops to its own user; `-Z root` keeps root, with a warning;
//! - as any user, clears every capability it holds (effective, permitted, inheritable,
//!   ambient), so a binary given file capabilities keeps none while it parses traffic;
//! - sets `no_new_privs`, so nothing it could run would gain privileges back.

use std::ffi::CString;
use std::path::Path;

use nix::unistd::{Gid, Uid, User, geteuid, initgroups, setresgid, setresuid};

/// The unprivileged account used when neither `-Z` nor sudo names one.
pub const FALLBACK_USER: &str = "nobody";

/// Errors while giving up privileges.
#[derive(Debug, thiserror::Error)]
pub enum PrivError {
    /// The named user does not exist.
    #[error("cannot drop privileges: no user '{0}' (name another with -Z USER, or keep root with -Z root)")]
    NoSuchUser(String),
    /// A system call refused.
    #[error("cannot drop privileges to '{user}': {reason}")]
    Refused {
        /// Target user.
        user: String,
        /// What failed.
        reason: String,
    },
}

/// Who the run becomes once its input is open.
#[derive(Clone, Debug)]
pub enum Plan {
    /// Not root: stay who we are, without capabilities.
    Unprivileged,
    /// Root, and `-Z root` asked to stay so.
    KeepRoot,
    /// Root: become this user.
    Become(User),
}

impl Plan {
    /// The user name the run ends up as, for messages.
    pub fn name(&self) -> String {
        match self {
            Plan::Unprivileged => {
                User::from_uid(geteuid()).ok().flatten().map_or_else(|| format!("uid {}", geteuid()), |u| u.name)
            }
            Plan::KeepRoot => "root".into(),
            Plan::Become(u) => u.name.clone(),
        }
    }
}

/// Decides who to become: `-Z USER`, else the sudo caller, else [`FALLBACK_USER`].
pub fn plan(user: Option<&str>) -> Result<Plan, PrivError> {
    if !geteuid().is_root() {
        return Ok(Plan::Unprivileged);
    }
    if user == Some("root") {
        return Ok(Plan::KeepRoot);
    }
    let lookup = |name: &str| {
        User::from_name(name)
            .map_err(|e| PrivError::Refused { user: name.into(), reason: e.to_string() })?
            .ok_or_else(|| PrivError::NoSuchUser(name.into()))
    };
    let target = match user {
        Some(name) => lookup(name)?,
        None => match sudo_caller() {
            Some(u) => u,
            None => lookup(FALLBACK_USER)?,
        },
    };
    if target.uid.is_root() {
        return Ok(Plan::KeepRoot);
    }
    Ok(Plan::Become(target))
}

/// Carries out `plan`: switches user (root) and clears every capability.
pub fn apply(plan: &Plan) -> Result<(), PrivError> {
    if let Plan::Become(target) = plan {
        become_user(target)?;
    }
    if !matches!(plan, Plan::KeepRoot) {
        clear_capabilities().map_err(|reason| PrivError::Refused { user: plan.name(), reason })?;
        // SAFETY: prctl with constant arguments.
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    }
    Ok(())
}

fn become_user(target: &User) -> Result<(), PrivError> {
    let refused =
        |what: &str, e: nix::Error| PrivError::Refused { user: target.name.clone(), reason: format!("{what}: {e}") };
    let name = CString::new(target.name.as_bytes()).map_err(|_| PrivError::NoSuchUser(target.name.clone()))?;
    initgroups(&name, target.gid).map_err(|e| refused("initgroups", e))?;
    setresgid(target.gid, target.gid, target.gid).map_err(|e| refused("setresgid", e))?;
    setresuid(target.uid, target.uid, target.uid).map_err(|e| refused("setresuid", e))?;
    if setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).is_ok() {
        return Err(PrivError::Refused { user: target.name.clone(), reason: "root could be regained".into() });
    }
    Ok(())
}

/// Empties the effective, permitted and inheritable sets and the ambient set.
fn clear_capabilities() -> Result<(), String> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header { version: VERSION_3, pid: 0 };
    let data = [Data { effective: 0, permitted: 0, inheritable: 0 }; 2];
    // SAFETY: PR_CAP_AMBIENT_CLEAR_ALL takes no pointers; capset reads a v3 header and
    // two data structs, as declared above.
    unsafe {
        libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        if libc::syscall(libc::SYS_capset, &mut header as *mut Header, data.as_ptr()) != 0 {
            return Err(format!("capset: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Whether `user` can create files in `dir`: asked of the kernel by a short-lived child
/// that becomes the user (called as root, before any thread is started).
pub fn can_write(user: &User, dir: &Path) -> bool {
    let Ok(path) = CString::new(dir.as_os_str().as_encoded_bytes()) else { return false };
    // SAFETY: single-threaded at this point of the run; the child only makes system
    // calls and leaves with _exit.
    match unsafe { libc::fork() } {
        -1 => false,
        0 => {
            let ok = become_user(user).is_ok()
                // SAFETY: a NUL-terminated path.
                && unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) } == 0;
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
        pid => {
            let mut status = 0;
            // SAFETY: waiting for the child we just forked.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
        }
    }
}

/// Gives a file this run created to `user` (the owner it would have had if the user had
/// created it).
pub fn give(file: &std::fs::File, user: &User) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: fchown on a descriptor we own.
    if unsafe { libc::fchown(file.as_raw_fd(), user.uid.as_raw(), user.gid.as_raw()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The user who ran `sudo`, when we are its child and that user is not root.
fn sudo_caller() -> Option<User> {
    let uid: u32 = std::env::var("SUDO_UID").ok()?.parse().ok()?;
    if uid == 0 {
        return None;
    }
    let mut user = User::from_uid(Uid::from_raw(uid)).ok()??;
    if let Some(gid) = std::env::var("SUDO_GID").ok().and_then(|g| g.parse().ok()) {
        user.gid = Gid::from_raw(gid);
    }
    Some(user)
}
