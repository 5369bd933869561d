//! The configuration file: unknown keys are errors naming the key and its line, flags
//! win over the file, `--print-config` reads back the same, the default file is found
//! under $XDG_CONFIG_HOME, and a password in a file others can read is warned about.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn demo() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.pcap").to_str().unwrap().to_string()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn printed(args: &[&str]) -> String {
    let out = common::run(&[args, &["--print-config"]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn unknown_keys_and_sections_are_named_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    for (text, needle) in [
        ("[detection]\nscan-ports = 20\nscan-portz = 3\n", "c.toml:3: unknown key 'scan-portz' in [detection]"),
        ("# a comment\n[detecton]\nscan-ports = 3\n", "c.toml:2: unknown section [detecton]"),
        ("[keys]\nfly = \"f\"\n", "c.toml:2: unknown key 'fly' in [keys]"),
        ("[colours]\ntcp = \"mauve\"\n", "c.toml:2: [colours] tcp must be one of"),
        ("[capture]\nconfig = \"other.toml\"\n", "c.toml:2: unknown key 'config' in [capture]"),
        ("[detection]\nno-detect = \"yes\"\n", "c.toml:2: no-detect is a switch"),
        ("[capture]\ntop = [\n", "c.toml:"),
        ("top = 3\n", "'top' is not a section"),
        ("[capture]\ntop = 2\ntop = 3\n", "c.toml:3:"),
    ] {
        let file = write(dir.path(), "c.toml", text);
        let out = common::run(&["--config", file.to_str().unwrap(), "-r", &demo(), "--headless"]);
        common::assert_one_line_error(&out, needle);
    }
    let out = common::run(&["--config", "/nonexistent/c.toml", "-r", &demo(), "--headless"]);
    common::assert_one_line_error(&out, "--config /nonexistent/c.toml");
}

#[test]
fn the_file_sets_what_flags_do_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        &format!("[capture]\nread = \"{}\"\ntop = 2\n[detection]\nno-detect = true\nscan-ports-fast = 20\n", demo()),
    );
    let f = file.to_str().unwrap();
    let summary = |extra: &[&str]| -> serde_json::Value {
        let out = common::run(&[&["--config", f, "--headless", "--json"][..], extra].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let s = summary(&[]);
    assert_eq!(s["source"], demo(), "read from the file");
    assert_eq!(s["alerts_total"], 0, "no-detect from the file");
    assert_eq!(s["hosts"].as_array().unwrap().len(), 2, "top from the file");
    let s = summary(&["--top", "4"]);
    assert_eq!(s["hosts"].as_array().unwrap().len(), 4, "the flag wins");
    assert!(printed(&["--config", f, "--scan-ports-fast", "5"]).contains("scan-ports-fast = \"5\""));
    // A file's setting that conflicts with a flag given gives way to it.
    let p = printed(&["--config", f, "-i", "lo"]);
    assert!(p.contains("interface = \"lo\"") && p.contains("# read = (not set)"), "{p}");
    // The other way round: the file's interface gives way to -r.
    let live = write(dir.path(), "live.toml", "[capture]\ninterface = \"eth0\"\ntop = 2\n");
    let out = common::run(&["--config", live.to_str().unwrap(), "-r", &demo(), "--headless", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = common::run(&["--no-config", "--config", f]);
    assert!(!out.status.success());
}

#[test]
fn print_config_reads_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "c.toml",
        "[capture]\nspeed = \"max\"\n[detection]\nsyn-flood = 500\n[delivery]\nmail-to = [\"a@example.com\", \"b@example.com\"]\nsmtp = \"smtp://u@h\"\nsmtp-password = \"pw\"\n[keys]\nquit = \"x\"\n[colours]\ntcp = \"lightblue\"\n",
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let first = printed(&["--config", file.to_str().unwrap(), "--udp-flood", "900"]);
    for line in [
        "speed = \"max\"",
        "syn-flood = \"500\"",
        "udp-flood = \"900\"",
        "mail-to = [\"a@example.com\", \"b@example.com\"]",
        "smtp-password = \"pw\"",
        "quit = \"x\"",
        "tcp = \"lightblue\"",
        "[outliers]",
        "learn = \"120\"",
    ] {
        assert!(first.contains(line), "{line} in:\n{first}");
    }
    let again = write(dir.path(), "again.toml", &first);
    std::fs::set_permissions(&again, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(printed(&["--config", again.to_str().unwrap()]), first, "it reads back the same");
    // A printed configuration runs as the flags it stands for.
    let plain = write(dir.path(), "plain.toml", &printed(&["--syn-flood", "500", "--udp-flood", "900"]));
    let alerts = |args: &[&str]| -> serde_json::Value {
        let out = common::run(&[args, &["-r", &demo(), "--headless", "--json"]].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["alerts"].clone()
    };
    let by_file = alerts(&["--config", plain.to_str().unwrap()]);
    assert_eq!(alerts(&["--syn-flood", "500", "--udp-flood", "900"]), by_file);
    assert_ne!(alerts(&[]), by_file, "the settings matter on the demo");
}

#[test]
fn the_default_file_and_a_readable_password() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("ntop-rs")).unwrap();
    let file =
        write(&dir.path().join("ntop-rs"), "config.toml", "[capture]\ntop = 1\n[delivery]\nsmtp-password = \"pw\"\n");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = |extra: &[&str]| {
        common::bin()
            .env("XDG_CONFIG_HOME", dir.path())
            .args([&["-r", &demo(), "--headless", "--json"][..], extra].concat())
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["hosts"].as_array().unwrap().len(), 1, "the default file is read");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds a password and others can read it: chmod 600"), "{err}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(&[]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("others can read"));
    let out = run(&["--no-config"]);
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["hosts"].as_array().unwrap().len(), 8, "--no-config reads none");
}

#[test]
fn odd_command_lines_never_panic() {
    for args in [
        &["--top", "abc"][..],
        &["--config"],
        &["--no-config", "--no-config"],
        &["--config", "/dev/null", "--print-config", "--bogus"],
        &["--print-config", "--top"],
        &["--", "--config", "x"],
        &["-r"],
        &["--notify-min"],
        &["--config", "/etc"],
    ] {
        let out = common::run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
