//! Layering you can see: the `use crate::` (and `super::`) edges between src/ modules.
//!
//! - decode, stats and detect import none of capture, export, ui, view, pipeline, app:
//!   what they share with them lives in the leaves (packet, units, hash, files);
//! - no top-level module imports one that imports it (directly or around a loop);
//! - within a directory, no two sibling files import each other (around a loop).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path of each source file (`src/a/b.rs` → `a::b`, `src/a/mod.rs` → `a`) and
/// the module paths it names.
fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
            if e.is_dir() {
                stack.push(e);
            } else if e.extension().is_some_and(|x| x == "rs") {
                files.push(e);
            }
        }
    }
    let module = |p: &Path| -> String {
        let rel = p.strip_prefix(&src).unwrap().with_extension("");
        let parts: Vec<String> = rel.iter().map(|c| c.to_string_lossy().into_owned()).collect();
        let parts: Vec<&str> = parts.iter().map(String::as_str).filter(|c| *c != "mod").collect();
        parts.join("::")
    };
    let modules: BTreeSet<String> = files.iter().map(|f| module(f)).collect();
    let mut out = BTreeMap::new();
    for f in &files {
        let me = module(f);
        let parent: String = me.rsplit_once("::").map_or(String::new(), |(p, _)| p.to_string());
        let is_mod_rs = f.file_name().is_some_and(|n| n == "mod.rs");
        let text: String = std::fs::read_to_string(f)
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut named = BTreeSet::new();
        for (prefix, base) in
            [("crate::", String::new()), ("super::", if is_mod_rs { parent_of(&me) } else { parent.clone() })]
        {
            let mut at = 0;
            while let Some(i) = text[at..].find(prefix) {
                let start = at + i + prefix.len();
                at = start;
                if text[..start - prefix.len()].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                    continue; // e.g. `ntop_rs::crate::` never; `xsuper::` guards
                }
                let path: String =
                    text[start..].chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
                let mut target = base.clone();
                for seg in path.split("::").filter(|s| !s.is_empty()) {
                    let next = if target.is_empty() { seg.to_string() } else { format!("{target}::{seg}") };
                    if modules.contains(&next) {
                        target = next;
                    } else {
                        break;
                    }
                }
                if !target.is_empty() && target != me {
                    named.insert(target);
                }
            }
        }
        out.insert(me, named);
    }
    out
}

fn parent_of(m: &str) -> String {
    m.rsplit_once("::").map_or(String::new(), |(p, _)| p.to_string())
}

fn top(m: &str) -> &str {
    m.split("::").next().unwrap()
}

/// A cycle in `graph`, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            return Some(path[i..].iter().cloned().chain([n.to_string()]).collect());
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_engine_layers_import_no_outer_layer() {
    let outer = ["capture", "export", "ui", "view", "pipeline", "app"];
    for (m, named) in edges() {
        if ["decode", "stats", "detect"].contains(&top(&m)) {
            let bad: Vec<&String> = named.iter().filter(|t| outer.contains(&top(t))).collect();
            assert!(bad.is_empty(), "{m} imports {bad:?}");
        }
    }
}

#[test]
fn no_module_imports_one_that_imports_it() {
    let e = edges();
    let mut tops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, named) in &e {
        let entry = tops.entry(top(m).to_string()).or_default();
        entry.extend(named.iter().map(|t| top(t).to_string()).filter(|t| t != top(m)));
    }
    assert_eq!(cycle(&tops), None, "a cycle among top-level modules");
    // Siblings: files directly in the same directory (not their mod.rs parent).
    let mut siblings: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, named) in &e {
        let parent = parent_of(m);
        let entry = siblings.entry(m.clone()).or_default();
        for t in named {
            // `a::b::c` named from `a::b::d`: the sibling is `a::b::c`'s child of `a::b`.
            let mut sib = t.clone();
            while parent_of(&sib) != parent && sib.contains("::") {
                sib = parent_of(&sib);
            }
            if parent_of(&sib) == parent && !parent.is_empty() && &sib != m && !m.starts_with(&format!("{sib}::")) {
                entry.insert(sib);
            }
        }
    }
    assert_eq!(cycle(&siblings), None, "a cycle among the files of one directory");
}
