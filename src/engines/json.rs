//! Reading engines' answers: the JSON in a final message, JSON-lines streams, fenced answers.

/// The JSON value in a final message: the whole text, or the last fenced ```json block.
pub fn extract_json(text: &str) -> Option<serde_json::Value> {
    let trimmed = text.trim();
    if let Ok(v) = serde_json::from_str(trimmed) {
        return Some(v);
    }
    let mut found = None;
    let mut rest = trimmed;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        let body_start = after.find('\n').map_or(after.len(), |i| i + 1);
        let body = &after[body_start..];
        let Some(end) = body.find("```") else { break };
        if let Ok(v) = serde_json::from_str(body[..end].trim()) {
            found = Some(v);
        }
        rest = &body[end + 3..];
    }
    found
}

/// Strips one code fence wrapped around a whole answer (```` ```markdown ... ``` ````), or
/// takes the one markdown-tagged block out of prose around it; other answers are returned
/// as they are (trimmed).
pub fn strip_fences(answer: &str) -> &str {
    let t = answer.trim();
    let lines: Vec<&str> = t.lines().collect();
    if lines.len() >= 2
        && lines[0].trim_start().starts_with("```")
        && lines[lines.len() - 1].trim() == "```"
    {
        let start = t.find('\n').map_or(t.len(), |i| i + 1);
        let end = t.rfind("```").unwrap_or(t.len());
        return t[start..end.max(start)].trim();
    }
    // "Here is the refined step:\n```markdown\n...\n```\nLet me know" — the tagged block is
    // the answer. Only a markdown-tagged fence qualifies: a step may quote code itself.
    for tag in ["```markdown", "```md"] {
        if let Some(open) = t.find(tag) {
            let body_start = t[open..].find('\n').map_or(t.len(), |i| open + i + 1);
            if let Some(close) = t[body_start..].rfind("\n```") {
                return t[body_start..body_start + close].trim();
            }
        }
    }
    t
}

/// Each line of `text` that parses as a JSON object, in order. Anything else (banners, a torn
/// last line, garbage) is skipped: the adapters decide what a missing event means.
pub fn json_lines(text: &str) -> impl Iterator<Item = serde_json::Value> + '_ {
    text.lines().filter_map(|line| {
        let line = line.trim();
        if !line.starts_with('{') {
            return None;
        }
        serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .filter(serde_json::Value::is_object)
    })
}

/// A JSON number as u64 (missing, negative or fractional values count as 0).
pub(crate) fn num(v: &serde_json::Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        .unwrap_or(0)
}
