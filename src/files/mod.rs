//! Output files, written safely: the one place that creates or rewrites a file.
//!
//! ntop-rs often runs as root (or was root when it started), in directories that others
//! can write (`/tmp`, a shared dump directory). So every output:
//! - never follows a symlink at the target, and never writes through a hard link;
//! - never truncates a file it did not create in this run: a stream (`--alerts`) appends
//!   to an existing regular file of ours, and a new file (a dump) takes a new name;
//! - is created mode 0600;
//! - is rewritten (`--model`) atomically, through a randomly named temporary file in the
//!   same directory and a rename, so a reader never sees half a file.
//!
//! Directories are opened once, when the run starts ([`OutDir::open`]), and every file is
//! made relative to that descriptor. When ntop-rs gives up root after opening its input,
//! [`OutDir::keep_writing_as_root`] hands the directory to a small helper process that
//! stays root and only ever creates or replaces files in it, so a root service writes
//! where it was told while the process that parses packets has no privileges.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixStream;

mod helper;
use helper::{Op, ask, close_all_but, serve};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Why an output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// A symlink sits where the file would go.
    #[error("{0}: refusing to write through a symbolic link")]
    Symlink(String),
    /// Something that is not a regular file of ours sits there.
    #[error("{path}: {why}; refusing to write to it")]
    Unsafe {
        /// Where.
        path: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A directory named for output is not one.
    #[error("{0}: not a directory")]
    NotADirectory(String),
    /// A directory named for output does not exist.
    #[error("{0}: no such directory")]
    NoSuchDirectory(String),
    /// The system refused.
    #[error("cannot write {path}: {reason}")]
    Io {
        /// Where.
        path: String,
        /// Why, in words.
        reason: String,
    },
}

impl FileError {
    /// Why, without the path: the reason of an I/O failure, else the whole message.
    pub fn reason(self) -> String {
        match self {
            FileError::Io { reason, .. } => reason,
            other => other.to_string(),
        }
    }
}

/// A short reason for an I/O error, without the "(os error N)" tail.
pub fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            s.split(" (os error").next().unwrap_or(&s).to_lowercase()
        }
    }
}

fn io_err(path: &Path, e: &io::Error) -> FileError {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return FileError::Symlink(path.display().to_string());
    }
    FileError::Io { path: path.display().to_string(), reason: io_reason(e) }
}

/// Opens `path` for a stream of records (NDJSON alerts): created 0600 when absent,
/// appended to when it is a regular file of ours with one link; a FIFO or a character
/// device (`/dev/null`, a terminal) is written as it is. Refuses a symlink at `path`, a
/// hard-linked file and another user's file: ours are those of the user we run as and,
/// for a run about to drop root, those of `run_as`, the user it becomes (an earlier run's
/// file, given to that user). Also says whether this call created it.
pub fn open_stream(path: &Path, run_as: Option<u32>) -> Result<(File, bool), FileError> {
    let create = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path);
    match create {
        Ok(f) => return Ok((f, true)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err(path, &e)),
    }
    let file = std::fs::OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| io_err(path, &e))?;
    let meta = file.metadata().map_err(|e| io_err(path, &e))?;
    let unsafe_file = |why| Err(FileError::Unsafe { path: path.display().to_string(), why });
    let kind = meta.mode() & libc::S_IFMT;
    if kind == libc::S_IFIFO || kind == libc::S_IFCHR {
        clear_nonblock(&file);
        return Ok((file, false));
    }
    if kind != libc::S_IFREG {
        return unsafe_file("not a regular file");
    }
    if meta.nlink() > 1 {
        return unsafe_file("it has other hard links");
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() && Some(meta.uid()) != run_as {
        return unsafe_file("it belongs to another user");
    }
    clear_nonblock(&file);
    Ok((file, false))
}

/// O_NONBLOCK only kept the open of a FIFO without a reader from hanging.
fn clear_nonblock(file: &File) {
    // SAFETY: fcntl on a descriptor we own, with flags read from it.
    unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
}

/// A directory that outputs go into, opened when the run starts. Cheap to clone.
#[derive(Clone, Debug)]
pub struct OutDir(Arc<DirInner>);

#[derive(Debug)]
struct DirInner {
    path: PathBuf,
    fd: OwnedFd,
    /// Set once a root helper writes for us.
    helper: Mutex<Option<UnixStream>>,
}

/// A file name inside an [`OutDir`]: one component, no `/`, not `.` or `..`.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && !name.contains(['/', '\0']) && name != "." && name != ".."
}

impl OutDir {
    /// Opens the directory `path` (which must exist).
    pub fn open(path: &Path) -> Result<OutDir, FileError> {
        let dir = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
            Some(libc::ENOTDIR) => FileError::NotADirectory(path.display().to_string()),
            Some(libc::ENOENT) => FileError::NoSuchDirectory(path.display().to_string()),
            _ => io_err(path, &e),
        })?;
        Ok(OutDir(Arc::new(DirInner { path: path.to_path_buf(), fd: dir.into(), helper: Mutex::new(None) })))
    }

    /// The directory's path, as named.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// Writes `bytes` as a new file `stem.ext` (or `stem-2.ext`, `stem-3.ext`… when taken),
    /// mode 0600, never replacing anything; returns its path.
    pub fn create_unique(&self, stem: &str, ext: &str, bytes: &[u8]) -> Result<PathBuf, FileError> {
        self.call(Op::CreateUnique, &format!("{stem}.{ext}"), bytes)
    }

    /// Like [`create_unique`](Self::create_unique), but `write` streams the contents
    /// into the new file rather than handing over a buffer, so a large file never sits in
    /// memory whole. `write` returning `Ok(None)` (nothing worth keeping) or an error
    /// removes the file. Through the root helper (a directory the dropped user cannot
    /// write) the contents go in chunks of a megabyte.
    pub fn create_unique_with<T>(
        &self,
        stem: &str,
        ext: &str,
        write: impl FnOnce(&mut dyn Write) -> io::Result<Option<T>>,
    ) -> Result<Option<(PathBuf, T)>, FileError> {
        let name = format!("{stem}.{ext}");
        let path = self.0.path.join(&name);
        if !valid_name(&name) {
            return Err(FileError::Unsafe { path: path.display().to_string(), why: "not a plain file name" });
        }
        let mut helper = self.0.helper.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(stream) = helper.as_mut() {
            let fail = |reason: String| FileError::Io { path: path.display().to_string(), reason };
            let channel = |e: io::Error| fail(io_reason(&e));
            let taken = ask(stream, Op::Begin, &name, &[]).map_err(channel)?.map_err(fail)?;
            let mut chunks = helper::Chunks { stream, buf: Vec::new() };
            let written = write(&mut chunks).and_then(|kept| chunks.flush().map(|()| kept));
            let end = if matches!(written, Ok(Some(_))) { "keep" } else { "drop" };
            let ended = ask(stream, Op::End, end, &[]).map_err(channel)?;
            return match written {
                Ok(Some(t)) => ended.map(|_| Some((self.0.path.join(&taken), t))).map_err(fail),
                Ok(None) => Ok(None),
                Err(e) => Err(fail(io_reason(&e))),
            };
        }
        drop(helper);
        let dir = self.0.fd.as_raw_fd();
        let (file, path, taken) = create_unique_at(dir, &self.0.path, &name)?;
        let mut out = io::BufWriter::with_capacity(1 << 16, file);
        let written = write(&mut out).and_then(|kept| {
            let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
            if kept.is_some() {
                file.sync_all()?;
            }
            Ok(kept)
        });
        match written {
            Ok(Some(t)) => Ok(Some((path, t))),
            Ok(None) => {
                let _ = unlink_at(dir, &taken);
                Ok(None)
            }
            Err(e) => {
                let _ = unlink_at(dir, &taken);
                Err(io_err(&path, &e))
            }
        }
    }

    /// Replaces (or creates) the file `name` with `bytes`, atomically: a random temporary
    /// name, written and synced, then renamed over it. Refuses when a symlink or anything
    /// but a regular file sits at `name`.
    pub fn replace(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, FileError> {
        self.call(Op::Replace, name, bytes)
    }

    fn call(&self, op: Op, name: &str, bytes: &[u8]) -> Result<PathBuf, FileError> {
        let path = self.0.path.join(name);
        if !valid_name(name) {
            return Err(FileError::Unsafe { path: path.display().to_string(), why: "not a plain file name" });
        }
        let mut helper = self.0.helper.lock().unwrap_or_else(|p| p.into_inner());
        match helper.as_mut() {
            None => do_op(self.0.fd.as_raw_fd(), &self.0.path, op, name, bytes),
            Some(stream) => ask(stream, op, name, bytes)
                .map_err(|e| FileError::Io { path: path.display().to_string(), reason: io_reason(&e) })?
                .map(|written| self.0.path.join(written))
                .map_err(|reason| FileError::Io { path: path.display().to_string(), reason }),
        }
    }

    /// Before dropping root: starts a helper process that keeps root and writes this
    /// directory's files from now on (it does nothing else, and exits with us).
    pub fn keep_writing_as_root(&self) -> io::Result<()> {
        let (ours, theirs) = UnixStream::pair()?;
        let keep = [self.0.fd.as_raw_fd(), theirs.as_raw_fd()];
        // SAFETY: called before any other thread exists (the run's setup); the child only
        // makes system calls and allocates, then exits without returning.
        match unsafe { libc::fork() } {
            -1 => Err(io::Error::last_os_error()),
            0 => {
                close_all_but(&keep);
                // SAFETY: prctl with constant arguments.
                unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
                serve(self.0.fd.as_raw_fd(), &self.0.path, theirs);
                // SAFETY: ends the helper without running the parent's exit handlers.
                unsafe { libc::_exit(0) }
            }
            _ => {
                drop(theirs);
                *self.0.helper.lock().unwrap_or_else(|p| p.into_inner()) = Some(ours);
                Ok(())
            }
        }
    }
}

/// Does `op` on `name` relative to the directory descriptor `dir`.
fn do_op(dir: i32, dir_path: &Path, op: Op, name: &str, bytes: &[u8]) -> Result<PathBuf, FileError> {
    match op {
        Op::CreateUnique => {
            let (mut f, path, _) = create_unique_at(dir, dir_path, name)?;
            f.write_all(bytes).and_then(|()| f.sync_all()).map(|()| path.clone()).map_err(|e| io_err(&path, &e))
        }
        Op::Begin | Op::Append | Op::End => Err(FileError::Unsafe {
            path: dir_path.join(name).display().to_string(),
            why: "a streamed file goes through the helper's own steps",
        }),
        Op::Replace => {
            let path = dir_path.join(name);
            check_replaceable(dir, name, &path)?;
            let tmp = format!(".{name}.{:016x}.tmp", random());
            let tmp = if tmp.len() > 255 { format!(".ntop-rs.{:016x}.tmp", random()) } else { tmp };
            let written = create_at(dir, &tmp).and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()));
            let renamed = written.and_then(|()| rename_at(dir, &tmp, name));
            if let Err(e) = renamed {
                let _ = unlink_at(dir, &tmp);
                return Err(io_err(&path, &e));
            }
            Ok(path)
        }
    }
}

/// Creates `name` (or `stem-2.ext`, `stem-3.ext`… when taken) in `dir`, mode 0600,
/// never following or replacing anything: the file, its path and the name taken.
fn create_unique_at(dir: i32, dir_path: &Path, name: &str) -> Result<(File, PathBuf, String), FileError> {
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    for n in 1..1000 {
        let candidate = match (n, ext) {
            (1, _) => name.to_string(),
            (_, "") => format!("{stem}-{n}"),
            _ => format!("{stem}-{n}.{ext}"),
        };
        let path = dir_path.join(&candidate);
        match create_at(dir, &candidate) {
            Ok(f) => return Ok((f, path, candidate)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err(&path, &e)),
        }
    }
    Err(FileError::Io {
        path: dir_path.join(name).display().to_string(),
        reason: "a thousand files of that name exist".into(),
    })
}

/// Refuses to replace a symlink or anything but a regular file (absent is fine).
fn check_replaceable(dir: i32, name: &str, path: &Path) -> Result<(), FileError> {
    let c = CString::new(name).map_err(|_| FileError::Unsafe { path: path.display().to_string(), why: "bad name" })?;
    // SAFETY: a zeroed stat buffer filled by fstatat.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor, NUL-terminated name, a buffer of the right type.
    let r = unsafe { libc::fstatat(dir, c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    if r != 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::NotFound { Ok(()) } else { Err(io_err(path, &e)) };
    }
    match st.st_mode & libc::S_IFMT {
        libc::S_IFLNK => Err(FileError::Symlink(path.display().to_string())),
        libc::S_IFREG => Ok(()),
        _ => Err(FileError::Unsafe { path: path.display().to_string(), why: "not a regular file" }),
    }
}

fn create_at(dir: i32, name: &str) -> io::Result<File> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: valid descriptor and NUL-terminated name; the result is checked.
    let fd = unsafe { libc::openat(dir, c.as_ptr(), flags, 0o600 as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a descriptor we just opened and own.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn rename_at(dir: i32, from: &str, to: &str) -> io::Result<()> {
    let (f, t) = (CString::new(from)?, CString::new(to)?);
    // SAFETY: valid descriptor and NUL-terminated names.
    if unsafe { libc::renameat(dir, f.as_ptr(), dir, t.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn unlink_at(dir: i32, name: &str) -> io::Result<()> {
    let c = CString::new(name)?;
    // SAFETY: valid descriptor and NUL-terminated name.
    if unsafe { libc::unlinkat(dir, c.as_ptr(), 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// 64 unpredictable bits (the standard library's per-process random hash keys, mixed
/// with a counter and the clock), for temporary names nobody can plant in advance.
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    h.finish()
}

/// One file that is rewritten whole (`--model`): its directory, opened when the run
/// starts, and its name.
#[derive(Clone, Debug)]
pub struct OutFile {
    dir: OutDir,
    name: String,
}

impl OutFile {
    /// Opens the directory of `path` (which must exist; the file need not).
    pub fn open(path: &Path) -> Result<OutFile, FileError> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| valid_name(n))
            .ok_or_else(|| FileError::Unsafe { path: path.display().to_string(), why: "not a file name" })?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        Ok(OutFile { dir: OutDir::open(parent)?, name: name.to_string() })
    }

    /// The file's path.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join(&self.name)
    }

    /// Replaces the file with `bytes` atomically ([`OutDir::replace`]).
    pub fn replace(&self, bytes: &[u8]) -> Result<PathBuf, FileError> {
        self.dir.replace(&self.name, bytes)
    }

    /// Its directory (to hand to a root helper).
    pub fn dir(&self) -> &OutDir {
        &self.dir
    }
}

#[cfg(test)]
mod tests;
