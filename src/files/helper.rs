//! The root helper: a process forked before privileges are dropped that keeps root and
//! does one thing, creating or replacing files in one directory, asked over a socket.
//! Requests are checked again here (plain names only), so a compromised parser can do no
//! more through it than write new files in the directory it was given.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use super::{FileError, create_unique_at, do_op, io_reason, unlink_at, valid_name};

/// What a helper is asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    CreateUnique = 1,
    Replace = 2,
    /// Creates a new file (as `CreateUnique`) and keeps it open for `Append`s.
    Begin = 3,
    /// Appends to the file `Begin` opened.
    Append = 4,
    /// Ends it: name `keep` syncs and keeps it, anything else removes it.
    End = 5,
}

/// The helper's loop: one request at a time until the parent hangs up.
pub(super) fn serve(dir: i32, path: &Path, mut stream: UnixStream) {
    // The file being streamed (`Begin` … `End`) and its name.
    let mut open: Option<(std::fs::File, String)> = None;
    loop {
        let Ok((op, name, bytes)) = read_request(&mut stream) else { return };
        let answer = if matches!(op, Op::Begin | Op::Append | Op::End) {
            stream_op(dir, path, op, &name, &bytes, &mut open)
        } else if valid_name(&name) {
            do_op(dir, path, op, &name, &bytes)
                .map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
                .map_err(FileError::reason)
        } else {
            Err("not a plain file name".into())
        };
        if write_answer(&mut stream, &answer).is_err() {
            return;
        }
    }
}

/// One step of a streamed file: create it, append to it, or keep or remove it.
fn stream_op(
    dir: i32,
    path: &Path,
    op: Op,
    name: &str,
    bytes: &[u8],
    open: &mut Option<(std::fs::File, String)>,
) -> Result<String, String> {
    match op {
        Op::Begin if !valid_name(name) => Err("not a plain file name".into()),
        Op::Begin => {
            let (file, _, taken) = create_unique_at(dir, path, name).map_err(FileError::reason)?;
            *open = Some((file, taken.clone()));
            Ok(taken)
        }
        Op::Append => match open {
            Some((file, _)) => file.write_all(bytes).map(|()| String::new()).map_err(|e| io_reason(&e)),
            None => Err("nothing open".into()),
        },
        Op::End => match open.take() {
            Some((file, taken)) if name == "keep" => file.sync_all().map(|()| taken).map_err(|e| io_reason(&e)),
            Some((file, taken)) => {
                drop(file);
                unlink_at(dir, &taken).map(|()| taken).map_err(|e| io_reason(&e))
            }
            None => Err("nothing open".into()),
        },
        Op::CreateUnique | Op::Replace => Err("not a step of a streamed file".into()),
    }
}

fn read_request(stream: &mut UnixStream) -> io::Result<(Op, String, Vec<u8>)> {
    let mut head = [0u8; 13];
    stream.read_exact(&mut head)?;
    let op = match head[0] {
        1 => Op::CreateUnique,
        2 => Op::Replace,
        3 => Op::Begin,
        4 => Op::Append,
        5 => Op::End,
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

/// Streams a file through the helper: what is written is sent in chunks of a megabyte.
pub(super) struct Chunks<'a> {
    pub(super) stream: &'a mut UnixStream,
    pub(super) buf: Vec<u8>,
}

impl Chunks<'_> {
    const CHUNK: usize = 1 << 20;

    fn send(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            ask(self.stream, Op::Append, "", &self.buf)?.map_err(io::Error::other)?;
            self.buf.clear();
        }
        Ok(())
    }
}

impl Write for Chunks<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= Self::CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
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
