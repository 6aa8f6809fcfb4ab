use std::collections::BTreeMap;

use serde_json::Value;

use super::parse::trigger_outcome;
use super::prompts::{apply_to_path, apply_tokens};
use super::tokenizer::strip_export;
use crate::domain::spec::Outcome;
use crate::services::import::line_column;

fn prepared(text: &str) -> String {
    strip_export(text).unwrap().literal
}

#[test]
fn export_wrappers_are_blanked_in_place() {
    let text = "// c\nmodule.exports = [\n  {id: 'a'},\n];\n";
    let out = prepared(text);
    assert_eq!(out.len(), text.len());
    assert_eq!(out, "// c\n                 [\n  {id: 'a'},\n] \n");
    assert!(
        prepared("export default {a: 1}")
            .trim_start()
            .starts_with('{')
    );
    let named = "'use strict';\nconst agents = [1, 2];\nmodule.exports = agents;\n";
    let v: Value = json5::from_str(&prepared(named)).unwrap();
    assert_eq!(v, serde_json::json!([1, 2]));
    assert_eq!(prepared("[1]"), "[1]");
}

#[test]
fn element_offsets_skip_strings_and_comments() {
    let text = "module.exports = [\n  // '[{'\n  {a: ']'},\n  \"x,y\", /* , */ 3,\n]";
    let p = strip_export(text).unwrap();
    let positions: Vec<_> = p.elements.iter().map(|&o| line_column(text, o)).collect();
    assert_eq!(positions, vec![(3, 3), (4, 3), (4, 18)]);
}

#[test]
fn javascript_expressions_and_trailing_code_are_refused_with_positions() {
    let err = strip_export("const path = require('node:path');\n").unwrap_err();
    assert_eq!(err.0, 13);
    assert!(err.1.contains("not evaluated"), "{}", err.1);
    let err = strip_export("module.exports = [];\nconsole.log(1);").unwrap_err();
    assert_eq!(
        line_column("module.exports = [];\nconsole.log(1);", err.0),
        (2, 1)
    );
    let err = strip_export("/* never closed").unwrap_err();
    assert_eq!(err.0, 0);
    let deep = format!("module.exports = {}{}", "[".repeat(100), "]".repeat(100));
    assert!(strip_export(&deep).unwrap_err().1.contains("nested deeper"));
}

#[test]
fn placeholders_apply_in_one_pass() {
    let ph: BTreeMap<String, String> = [
        ("PROMPTS".to_owned(), "prompts/templates".to_owned()),
        ("name".to_owned(), "{{PROMPTS}}".to_owned()),
    ]
    .into();
    assert_eq!(
        apply_to_path("{{PROMPTS}}/a.md", &ph),
        "prompts/templates/a.md"
    );
    assert_eq!(
        apply_to_path("${PROMPTS}/a.md", &ph),
        "prompts/templates/a.md"
    );
    assert_eq!(
        apply_to_path("<PROMPTS>/a.md", &ph),
        "prompts/templates/a.md"
    );
    assert_eq!(apply_to_path("PROMPTS/a.md", &ph), "prompts/templates/a.md");
    assert_eq!(apply_to_path("other/a.md", &ph), "other/a.md");
    // No re-expansion, and `<KEY>` is left alone in text.
    assert_eq!(
        apply_tokens("{{ name }} <PROMPTS> {{UNKNOWN}}", &ph, false),
        "{{PROMPTS}} <PROMPTS> {{UNKNOWN}}"
    );
}

#[test]
fn trigger_outcome_defaults_to_fail() {
    let mut w = Vec::new();
    assert_eq!(trigger_outcome("t", &[], &mut w), Outcome::Fail);
    assert_eq!(
        trigger_outcome("t", &["success".into()], &mut w),
        Outcome::Pass
    );
    assert_eq!(
        trigger_outcome("t", &["qa_failed".into()], &mut w),
        Outcome::Fail
    );
    assert!(w.is_empty());
    assert_eq!(
        trigger_outcome("t", &["needs_more".into()], &mut w),
        Outcome::Fail
    );
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("needs_more"));
}
