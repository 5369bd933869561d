//! Dropping root after the capture device is open, as tcpdump does (`-Z`).
//!
//! Opening a device needs root (or `cap_net_raw`); nothing after that does. When ntop-rs
//! runs as root it switches to the user named by `-Z`, or else to the user who invoked
//! `sudo` (from `SUDO_UID`/`SUDO_GID`), before it reads a single packet.

use std::ffi::CString;

use nix::unistd::{Gid, Uid, User, geteuid, initgroups, setresgid, setresuid};

/// Errors while giving up privileges.
#[derive(Debug, thiserror::Error)]
pub enum PrivError {
    /// The named user does not exist.
    #[error("cannot drop privileges: no user '{0}'")]
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

/// Switches to `user` (or the sudo caller) if running as root; returns who we became.
pub fn drop_privileges(user: Option<&str>) -> Result<Option<String>, PrivError> {
    if !geteuid().is_root() {
        return Ok(None);
    }
    let target = match user {
        Some(name) => User::from_name(name)
            .map_err(|e| PrivError::Refused { user: name.into(), reason: e.to_string() })?
            .ok_or_else(|| PrivError::NoSuchUser(name.into()))?,
        None => match sudo_caller() {
            Some(u) => u,
            None => return Ok(None),
        },
    };
    let refused =
        |what: &str, e: nix::Error| PrivError::Refused { user: target.name.clone(), reason: format!("{what}: {e}") };
    let name = CString::new(target.name.as_bytes()).map_err(|_| PrivError::NoSuchUser(target.name.clone()))?;
    initgroups(&name, target.gid).map_err(|e| refused("initgroups", e))?;
    setresgid(target.gid, target.gid, target.gid).map_err(|e| refused("setresgid", e))?;
    setresuid(target.uid, target.uid, target.uid).map_err(|e| refused("setresuid", e))?;
    if !target.uid.is_root() && setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0)).is_ok() {
        return Err(PrivError::Refused { user: target.name, reason: "root could be regained".into() });
    }
    Ok(Some(target.name))
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
