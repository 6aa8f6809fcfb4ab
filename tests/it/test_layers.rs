//! The one-way service graph (DESIGN.md §3): `cli` -> `services::orchestrator` -> step services
//! -> `services::platform` -> adapters, `git`, `domain` -> bottom file modules. This test reads
//! every `crate::` path under `src/` (in `use` statements, brace groups expanded, and inline) and
//! fails on an import that points up a layer or closes a cycle between modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layers from the bottom (0) up. A module may use its own layer's modules (as long as no cycle
/// forms) and any lower layer, never a higher one. The first matching prefix wins, so longer
/// prefixes come first.
const LAYERS: &[(&str, u8)] = &[
    ("cli", 5),
    // The demo drives the orchestrator (init, create, run) with replayed engines, like a user.
    ("services::demo", 4),
    ("services::orchestrator", 4),
    // The worker is a job adapter: it takes a job off the queue and calls the step services, as
    // the orchestrator does, so it sits beside it and nothing below may call it.
    ("services::worker", 4),
    ("services::platform", 2),
    ("services", 3),
    ("engines", 1),
    ("git", 1),
    ("forge", 1),
    ("domain", 1),
    ("config", 1),
    ("context", 1),
    ("report", 1),
    ("process", 0),
    ("fault", 0),
    ("fsio", 0),
    ("digest", 0),
    // What kind of failure an error is: every layer's errors say theirs.
    ("error_kind", 0),
];

/// The unit a path belongs to: `services::X` and `services::platform::X` are units of their own,
/// everything else is its top-level module.
fn unit_of(path: &[&str]) -> Option<String> {
    let unit: Vec<&str> = match path {
        ["services", "platform", x, ..] => vec!["services", "platform", x],
        ["services", "platform"] => vec!["services", "platform"],
        ["services", x, ..] => vec!["services", x],
        ["services"] => vec!["services"],
        [x, ..] => vec![x],
        [] => return None,
    };
    Some(unit.join("::"))
}

fn layer_of(unit: &str) -> Option<u8> {
    LAYERS
        .iter()
        .find(|(prefix, _)| unit == *prefix || unit.starts_with(&format!("{prefix}::")))
        .map(|&(_, layer)| layer)
}

/// The unit a source file (relative to `src/`) defines.
fn file_unit(rel: &str) -> Option<String> {
    let rel = rel.strip_suffix(".rs")?;
    let mut parts: Vec<&str> = rel.split('/').collect();
    if parts.last() == Some(&"mod") {
        parts.pop();
    }
    if matches!(parts.as_slice(), ["lib" | "main"]) {
        return None;
    }
    unit_of(&parts)
}

/// Expands `use crate::a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim().trim_end_matches("::");
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let base = join(prefix, head);
        let mut depth = 0;
        let mut start = 0;
        for (i, ch) in inner.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&base, &inner[start..i], out);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&base, &inner[start..], out);
    } else {
        let item = tree.split(" as ").next().unwrap_or("").trim();
        if !item.is_empty() && item != "self" {
            out.push(join(prefix, item));
        } else if item == "self" {
            out.push(prefix.to_owned());
        }
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a}::{b}"),
    }
}

/// Every `crate::` path a source text names, outside its unit-test module.
fn crate_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // A file's trailing `#[cfg(test)] mod tests` builds its fixtures the way a user would (init,
    // create a protocol), from the top; it is not part of the shipped graph.
    let text = match text.find("\n#[cfg(test)]\nmod ") {
        Some(i) => &text[..i],
        None => text,
    };
    // Comments may name modules freely.
    let code: String = text
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        let before = rest[..i].trim_end();
        if before.ends_with("use") || before.ends_with("use ::") {
            let end = after.find(';').unwrap_or(after.len());
            expand("", &after[..end], &mut out);
            rest = &after[end..];
        } else {
            let end = after
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(after.len());
            out.push(after[..end].trim_end_matches(':').to_owned());
            rest = &after[end..];
        }
    }
    out
}

/// Unit-level edges `from -> to` of a set of files (path relative to `src/`, text).
fn edges(files: &[(String, String)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in files {
        let Some(from) = file_unit(rel) else { continue };
        for path in crate_paths(text) {
            let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
            if let Some(to) = unit_of(&parts)
                && to != from
                // `use crate::services::{a, b}` names the parent too: not an edge of its own.
                && !from.starts_with(&format!("{to}::"))
            {
                graph.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    graph
}

/// Upward imports and cycles, one line each.
fn violations(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut found = Vec::new();
    for (from, tos) in graph {
        for to in tos {
            match (layer_of(from), layer_of(to)) {
                (Some(a), Some(b)) if b > a => {
                    found.push(format!("upward: {from} (layer {a}) uses {to} (layer {b})"));
                }
                (None, _) => found.push(format!("unknown layer: {from}")),
                (_, None) => found.push(format!("unknown layer: {to} (used by {from})")),
                _ => {}
            }
        }
    }
    // Cycles: a depth-first search reporting each back edge with the path that closes it.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<String>,
    ) {
        if done.contains(node) {
            return;
        }
        if let Some(pos) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[pos..].to_vec();
            cycle.push(node.to_owned());
            found.push(format!("cycle: {}", cycle.join(" -> ")));
            return;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, stack, done, found);
        }
        stack.pop();
        done.insert(node.to_owned());
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, graph, &mut Vec::new(), &mut done, &mut found);
    }
    found.sort();
    found.dedup();
    found
}

fn source_files(root: &Path) -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(|e| e.path());
        for entry in entries {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.file_name().is_some_and(|n| n == "tests.rs") {
                // A unit-test module in its own file (`#[cfg(test)] mod tests;`): skipped like
                // the trailing one, see `crate_paths`.
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out
}

/// Violations on today's tree that the layering work (issue 12) removes. The test fails when a
/// new one appears and when one listed here is gone (so the list only shrinks).
const KNOWN: &[&str] = &[];

#[test]
fn services_form_a_one_way_graph() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&edges(&source_files(&src)));
    let new: Vec<_> = found
        .iter()
        .filter(|v| !KNOWN.contains(&v.as_str()))
        .collect();
    let gone: Vec<_> = KNOWN
        .iter()
        .filter(|k| !found.iter().any(|f| f == *k))
        .collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "layer violations (see DESIGN.md §3 and tests/it/test_layers.rs LAYERS)\nnew:\n  {}\nno longer present (remove from KNOWN):\n  {}",
        new.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  "),
        gone.iter().map(|s| **s).collect::<Vec<_>>().join("\n  ")
    );
}

#[test]
fn the_check_catches_an_upward_import_and_a_cycle() {
    let files = |extra: &str| {
        vec![
            (
                "cli/mod.rs".to_owned(),
                "use crate::services::orchestrator;".to_owned(),
            ),
            (
                "services/orchestrator/mod.rs".to_owned(),
                "use crate::services::{execution, platform::storage};".to_owned(),
            ),
            ("services/execution.rs".to_owned(), extra.to_owned()),
            (
                "services/platform/storage.rs".to_owned(),
                "use crate::domain;".to_owned(),
            ),
        ]
    };
    // Clean: every arrow points down.
    assert_eq!(
        violations(&edges(&files("use crate::git::notes;"))),
        Vec::<String>::new()
    );
    // A step service reaching up into the orchestrator is upward and closes a cycle.
    let found = violations(&edges(&files(
        "fn f() { crate::services::orchestrator::locate(); }",
    )));
    assert!(
        found.contains(
            &"upward: services::execution (layer 3) uses services::orchestrator (layer 4)"
                .to_owned()
        ),
        "{found:?}"
    );
    assert!(found.iter().any(|v| v.starts_with("cycle: ")), "{found:?}");
    // Storage (platform) reaching into a step service: upward.
    let mut f = files("");
    f.push((
        "engines/replay.rs".to_owned(),
        "use crate::services::platform::storage::write_atomic;".to_owned(),
    ));
    let found = violations(&edges(&f));
    assert!(
        found.contains(
            &"upward: engines (layer 1) uses services::platform::storage (layer 2)".to_owned()
        ),
        "{found:?}"
    );
    // Nor does a unit-test module.
    assert!(
        crate_paths("use crate::domain;\n#[cfg(test)]\nmod tests {\n    use crate::cli;\n}\n")
            .iter()
            .eq(["domain"].iter())
    );
    // Comments do not count.
    assert!(
        crate_paths("// crate::cli::x\nuse crate::domain::{a, b::{c as d}};")
            .iter()
            .eq(["domain::a", "domain::b::c"].iter())
    );
}
