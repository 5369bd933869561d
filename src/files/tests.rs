//! Tests of the safe-file helper.

use std::os::unix::fs::PermissionsExt;

use super::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn streams_are_created_private_and_appended_never_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alerts.ndjson");
    open_stream(&path, None).unwrap().0.write_all(b"one\n").unwrap();
    assert_eq!(mode(&path), 0o600);
    open_stream(&path, None).unwrap().0.write_all(b"two\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    open_stream(Path::new("/dev/null"), None).unwrap().0.write_all(b"x").unwrap();
}

#[test]
fn a_planted_symlink_or_hard_link_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let link = dir.path().join("alerts");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    assert!(matches!(open_stream(&link, None), Err(FileError::Symlink(_))), "{:?}", open_stream(&link, None));
    let model = OutFile::open(&link).unwrap();
    assert!(matches!(model.replace(b"model"), Err(FileError::Symlink(_))));
    let hard = dir.path().join("hard");
    std::fs::hard_link(&victim, &hard).unwrap();
    assert!(matches!(open_stream(&hard, None), Err(FileError::Unsafe { .. })));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
}

#[test]
fn replace_is_atomic_and_private_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = OutDir::open(dir.path()).unwrap();
    let path = out.replace("model.json", b"first").unwrap();
    out.replace("model.json", b"second").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
    assert_eq!(mode(&path), 0o600);
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // A directory in the way is not replaced.
    std::fs::create_dir(dir.path().join("d")).unwrap();
    assert!(out.replace("d", b"x").is_err());
}

#[test]
fn new_files_take_new_names_and_never_leave_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = OutDir::open(dir.path()).unwrap();
    let a = out.create_unique("dump", "pcap", b"a").unwrap();
    let b = out.create_unique("dump", "pcap", b"b").unwrap();
    assert!(b.ends_with("dump-2.pcap"), "{b:?}");
    assert_eq!(std::fs::read(&a).unwrap(), b"a");
    assert_eq!(mode(&b), 0o600);
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("x.pcap")).unwrap();
    assert!(out.create_unique("x", "pcap", b"no").unwrap().ends_with("x-2.pcap"));
    for bad in ["../escape", "a/b", "..", ""] {
        assert!(out.replace(bad, b"no").is_err(), "{bad}");
    }
}

#[test]
fn a_helper_process_writes_for_us() {
    let dir = tempfile::tempdir().unwrap();
    let out = OutDir::open(dir.path()).unwrap();
    // Tests run on many threads, but the helper child only makes system calls.
    out.keep_writing_as_root().unwrap();
    let p = out.create_unique("via-helper", "pcap", b"bytes").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"bytes");
    out.replace("m.json", b"{}").unwrap();
    assert!(out.replace("../x", b"no").is_err());
    assert_eq!(std::fs::read(dir.path().join("m.json")).unwrap(), b"{}");
}

#[test]
fn streamed_files_take_new_names_and_vanish_when_empty_or_failed() {
    let dir = tempfile::tempdir().unwrap();
    streamed(&OutDir::open(dir.path()).unwrap(), dir.path());
}

#[test]
fn streamed_files_through_the_helper_behave_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let out = OutDir::open(dir.path()).unwrap();
    // Tests run on many threads, but the helper child only makes system calls.
    out.keep_writing_as_root().unwrap();
    streamed(&out, dir.path());
    // Larger than a chunk: sent in several pieces, arrives whole.
    let big: Vec<u8> = (0..3_500_000u32).map(|i| (i % 251) as u8).collect();
    let (p, _) = out.create_unique_with("big", "pcap", |w| w.write_all(&big).map(|()| Some(()))).unwrap().unwrap();
    assert!(std::fs::read(p).unwrap() == big);
}

fn streamed(out: &OutDir, dir: &Path) {
    let write = |bytes: &'static [u8]| {
        move |w: &mut dyn Write| -> io::Result<Option<usize>> {
            w.write_all(bytes)?;
            Ok(Some(bytes.len()))
        }
    };
    let (a, n) = out.create_unique_with("d", "pcap", write(b"first")).unwrap().unwrap();
    let (b, _) = out.create_unique_with("d", "pcap", write(b"second")).unwrap().unwrap();
    assert_eq!((n, a.file_name().unwrap(), b.file_name().unwrap()), (5, "d.pcap".as_ref(), "d-2.pcap".as_ref()));
    assert_eq!((std::fs::read(&a).unwrap(), mode(&b)), (b"first".to_vec(), 0o600));
    let none = out.create_unique_with("e", "pcap", |w| w.write_all(b"x").map(|()| None::<()>)).unwrap();
    let failed = out.create_unique_with("f", "pcap", |w| {
        w.write_all(b"half")?;
        Err::<Option<()>, _>(io::Error::other("disk full"))
    });
    assert!(none.is_none());
    assert!(matches!(failed, Err(FileError::Io { ref reason, .. }) if reason == "disk full"), "{failed:?}");
    let mut left: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    left.sort();
    assert_eq!(left, ["d-2.pcap", "d.pcap"], "nothing left of the empty or failed ones");
    std::os::unix::fs::symlink("/etc/passwd", dir.join("g.pcap")).unwrap();
    let (g, _) = out.create_unique_with("g", "pcap", write(b"x")).unwrap().unwrap();
    assert_eq!(g.file_name().unwrap(), "g-2.pcap", "a planted link is a taken name, never followed");
}
