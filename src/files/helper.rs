//! The root helper: a process forked before privileges are dropped that keeps root and
//! does one thing, creating or replacing files in one directory, asked over a socket.
//! Requests are checked again here (plain names only), so a compromised parser can do no
//! more through it than write new files in the directory it was given.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use super::{FileError, do_op, valid_name};

/// What a helper is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    CreateUnique = 1,
    Replace = 2,
}

/// The helper's loop: one request at a time until the parent hangs up.
pub(super) fn serve(dir: i32, path: &Path, mut stream: UnixStream) {
    loop {
        let Ok((op, name, bytes)) = read_request(&mut stream) else { return };
        let answer = if valid_name(&name) {
            do_op(dir, path, op, &name, &bytes)
                .map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
                .map_err(|e| match e {
                    FileError::Io { reason, .. } => reason,
                    other => other.to_string(),
                })
        } else {
            Err("not a plain file name".into())
        };
        if write_answer(&mut stream, &answer).is_err() {
            return;
        }
    }
}

fn read_request(stream: &mut UnixStream) -> io::Result<(Op, String, Vec<u8>)> {
    let mut head = [0u8; 13];
    stream.read_exact(&mut head)?;
    let op = match head[0] {
        1 => Op::CreateUnique,
        2 => Op::Replace,
        _ => return Err(io::Error::other("bad request")),
    };
    let name_len = u32::from_le_bytes(head[1..5].try_into().unwrap_or_default()) as usize;
    let len = u64::from_le_bytes(head[5..13].try_into().unwrap_or_default());
    if name_len > 255 || len > (1 << 40) {
        return Err(io::Error::other("bad request"));
    }
    let mut name = vec![0; name_len];
    stream.read_exact(&mut name)?;
    let mut bytes = vec![0; len as usize];
    stream.read_exact(&mut bytes)?;
    Ok((op, String::from_utf8_lossy(&name).into_owned(), bytes))
}

fn write_answer(stream: &mut UnixStream, answer: &Result<String, String>) -> io::Result<()> {
    let (ok, text) = match answer {
        Ok(t) => (1u8, t),
        Err(t) => (0u8, t),
    };
    let mut msg = vec![ok];
    msg.extend_from_slice(&(text.len() as u32).to_le_bytes());
    msg.extend_from_slice(text.as_bytes());
    stream.write_all(&msg)
}

/// Sends one request to the helper; the outer error is the channel's, the inner one the
/// helper's answer.
pub(super) fn ask(stream: &mut UnixStream, op: Op, name: &str, bytes: &[u8]) -> io::Result<Result<String, String>> {
    let mut head = vec![op as u8];
    head.extend_from_slice(&(name.len() as u32).to_le_bytes());
    head.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    head.extend_from_slice(name.as_bytes());
    stream.write_all(&head)?;
    stream.write_all(bytes)?;
    let mut status = [0u8; 5];
    stream.read_exact(&mut status)?;
    let len = u32::from_le_bytes(status[1..5].try_into().unwrap_or_default()) as usize;
    let mut text = vec![0; len.min(4096)];
    stream.read_exact(&mut text)?;
    let text = String::from_utf8_lossy(&text).into_owned();
    Ok(if status[0] == 1 { Ok(text) } else { Err(text) })
}

/// Closes every descriptor but `keep` (the helper holds nothing else of ours).
pub(super) fn close_all_but(keep: &[i32]) {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else { return };
    let fds: Vec<i32> = entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    for fd in fds {
        if !keep.contains(&fd) && fd > 2 {
            // SAFETY: closing descriptors in a freshly forked single-threaded child.
            unsafe { libc::close(fd) };
        }
    }
}
