//! The tokenizer for CodeMachine's `.js` config files: it finds the one literal a file exports
//! (`module.exports = [...]`, `export default [...]`, `const x = [...]; export default x`),
//! blanks the wrapper so positions stay where they were, and records where each top-level
//! array element starts. The JSON5 parser then reads the literal.

use super::MAX_NESTING;

/// The literal of a `.js` file with its export wrapper blanked out.
#[derive(Debug)]
pub(super) struct Prepared {
    pub(super) literal: String,
    /// Byte offsets of the top-level array elements.
    pub(super) elements: Vec<usize>,
}

/// Blanks the export wrapper around the literal of a `.js` file. Errors are a byte offset
/// and a message. Everything the caller might want to know the position of stays at its
/// byte offset because blanked characters become one space each (newlines are kept).
pub(super) fn strip_export(text: &str) -> Result<Prepared, (usize, String)> {
    let bytes = text.as_bytes();
    let mut blank: Vec<(usize, usize)> = Vec::new();
    let mut i = skip_trivia(text, 0)?;
    for directive in ["'use strict'", "\"use strict\""] {
        if text[i..].starts_with(directive) {
            let mut end = skip_trivia(text, i + directive.len())?;
            if bytes.get(end) == Some(&b';') {
                end += 1;
            }
            blank.push((i, end));
            i = skip_trivia(text, end)?;
        }
    }
    let mut declared: Option<&str> = None;
    if let Some(end) = match_export(text, i)? {
        blank.push((i, end));
        i = skip_trivia(text, end)?;
    } else if let Some((name, end)) = match_declaration(text, i)? {
        declared = Some(name);
        blank.push((i, end));
        i = skip_trivia(text, end)?;
    }
    match bytes.get(i) {
        Some(b'[' | b'{') => {}
        Some(_) => {
            return Err((
                i,
                "expected an array or object literal; JavaScript expressions (require, \
                 path.join, variables, function calls) are not evaluated"
                    .into(),
            ));
        }
        None => {
            return Err((
                i,
                "expected an array or object literal, found the end".into(),
            ));
        }
    }
    let scan = scan_value(text, i);
    if let Some(at) = scan.too_deep {
        return Err((at, format!("nested deeper than {MAX_NESTING} levels")));
    }
    if let Some(end) = scan.end {
        let mut j = skip_trivia(text, end)?;
        if bytes.get(j) == Some(&b';') {
            blank.push((j, j + 1));
            j = skip_trivia(text, j + 1)?;
        }
        if let Some(name) = declared {
            // `const agents = [...]; module.exports = agents;`
            if let Some(after_export) = match_export(text, j)? {
                let k = skip_trivia(text, after_export)?;
                if text[k..].starts_with(name) && !is_ident_byte(bytes.get(k + name.len())) {
                    let mut end = k + name.len();
                    blank.push((j, end));
                    j = skip_trivia(text, end)?;
                    if bytes.get(j) == Some(&b';') {
                        end = j + 1;
                        blank.push((j, end));
                        j = skip_trivia(text, end)?;
                    }
                } else {
                    return Err((k, format!("expected `{name}`, the name declared above")));
                }
            }
        }
        if j < text.len() {
            return Err((j, "unexpected content after the exported literal".into()));
        }
    }
    // When the literal is unbalanced, the parser reports where; nothing after it is blanked.
    let mut literal = String::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        let blanked = blank.iter().any(|&(s, e)| at >= s && at < e);
        literal.push(if blanked && c != '\n' { ' ' } else { c });
    }
    Ok(Prepared {
        literal,
        elements: scan.elements,
    })
}

/// `module.exports =` or `export default` at `i`: the offset after it.
pub(super) fn match_export(text: &str, i: usize) -> Result<Option<usize>, (usize, String)> {
    if text[i..].starts_with("module.exports") {
        let j = skip_trivia(text, i + "module.exports".len())?;
        if text.as_bytes().get(j) == Some(&b'=') {
            return Ok(Some(j + 1));
        }
        return Err((j, "expected `=` after `module.exports`".into()));
    }
    if text[i..].starts_with("export") && !is_ident_byte(text.as_bytes().get(i + 6)) {
        let j = skip_trivia(text, i + "export".len())?;
        if text[j..].starts_with("default") && !is_ident_byte(text.as_bytes().get(j + 7)) {
            return Ok(Some(j + "default".len()));
        }
        return Err((j, "only `export default` is supported".into()));
    }
    Ok(None)
}

/// `const|let|var NAME =` at `i`: the name and the offset after `=`.
pub(super) fn match_declaration(
    text: &str,
    i: usize,
) -> Result<Option<(&str, usize)>, (usize, String)> {
    let bytes = text.as_bytes();
    for keyword in ["const", "let", "var"] {
        if text[i..].starts_with(keyword) && !is_ident_byte(bytes.get(i + keyword.len())) {
            let start = skip_trivia(text, i + keyword.len())?;
            let mut end = start;
            while is_ident_byte(bytes.get(end)) {
                end += 1;
            }
            if end == start || bytes[start].is_ascii_digit() {
                return Err((start, format!("expected a name after `{keyword}`")));
            }
            let eq = skip_trivia(text, end)?;
            if bytes.get(eq) != Some(&b'=') {
                return Err((eq, "expected `=`".into()));
            }
            return Ok(Some((&text[start..end], eq + 1)));
        }
    }
    Ok(None)
}

pub(super) fn is_ident_byte(b: Option<&u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'$')
}

/// Skips whitespace and comments from `i`; an unterminated block comment is an error.
pub(super) fn skip_trivia(text: &str, mut i: usize) -> Result<usize, (usize, String)> {
    let bytes = text.as_bytes();
    loop {
        match bytes.get(i) {
            Some(b) if b.is_ascii_whitespace() => i += 1,
            Some(b'/') if bytes.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(text.len(), |n| i + n);
            }
            Some(b'/') if bytes.get(i + 1) == Some(&b'*') => match text[i + 2..].find("*/") {
                Some(n) => i = i + 2 + n + 2,
                None => return Err((i, "unterminated `/*` comment".into())),
            },
            // A byte-order mark is whitespace to JavaScript.
            Some(0xEF) if text[i..].starts_with('\u{feff}') => i += 3,
            _ => return Ok(i),
        }
    }
}

/// What a bracket-matching pass over a literal found.
pub(super) struct Scan {
    /// Offset just past the literal's closing bracket, if it closes.
    end: Option<usize>,
    /// The bracket that first went deeper than [`MAX_NESTING`]; the scan stops there.
    too_deep: Option<usize>,
    elements: Vec<usize>,
}

/// Matches brackets from the opening one at `start`, skipping strings and comments, and
/// records where each top-level element of an array starts. It does not validate: the
/// JSON5 parser does that and reports positions.
pub(super) fn scan_value(text: &str, start: usize) -> Scan {
    let bytes = text.as_bytes();
    let is_array = bytes[start] == b'[';
    let mut scan = Scan {
        end: None,
        too_deep: None,
        elements: Vec::new(),
    };
    let mut depth = 0usize;
    let mut expect_element = false;
    let mut i = start;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if b == b'/' && matches!(bytes.get(i + 1), Some(b'/' | b'*')) {
            match skip_trivia(text, i) {
                Ok(j) => i = j,
                Err(_) => return scan,
            }
            continue;
        }
        if depth == 1 && expect_element && !matches!(b, b']' | b'}' | b',') {
            if is_array {
                scan.elements.push(i);
            }
            expect_element = false;
        }
        match b {
            b'"' | b'\'' | b'`' => {
                let mut j = i + 1;
                while j < bytes.len() && bytes[j] != b {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                if j >= bytes.len() {
                    return scan;
                }
                i = j + 1;
                continue;
            }
            b'[' | b'{' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    scan.too_deep = Some(i);
                    return scan;
                }
                if depth == 1 {
                    expect_element = true;
                }
            }
            b']' | b'}' | b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    scan.end = Some(i + 1);
                    return scan;
                }
            }
            b',' if depth == 1 => expect_element = true,
            _ => {}
        }
        i += 1;
    }
    scan
}
