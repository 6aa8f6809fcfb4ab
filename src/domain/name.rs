//! Validated names: protocol ids (`NNNN-slug`) and step ids (`NN-slug`).
//!
//! Names end up in paths, branch names and git argv, and some come from a model, so the only
//! way to get a [`ProtocolId`] or [`StepId`] is through validation here.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Longest name accepted: keeps paths and ref names well under every platform limit.
pub const MAX_NAME_LEN: usize = 64;

/// The JSON Schema pattern of a step id: the shape [`StepId::parse`] checks, which the
/// schemas in `schemas/` must use verbatim (a test compares them), so a name the validator
/// accepts is never one a schema refuses. (The schema cannot say everything the validator
/// does: `..`, `.lock`, reserved device names and the length stay the validator's.)
pub const STEP_ID_PATTERN: &str = "^[0-9]{2}-[a-z0-9][a-z0-9._-]*$";

/// The JSON Schema pattern of a protocol id; see [`STEP_ID_PATTERN`].
pub const PROTOCOL_ID_PATTERN: &str = "^[0-9]{4}-[a-z0-9][a-z0-9._-]*$";

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("name is empty")]
    Empty,
    /// The name is longer than [`MAX_NAME_LEN`].
    #[error("name `{0}` is longer than {MAX_NAME_LEN} characters")]
    TooLong(String),
    /// The name contains a character outside `[a-z0-9._-]` (control characters, slashes, ...).
    #[error("name `{name}` contains {what}; use lowercase letters, digits, `-`, `_` and `.`")]
    BadChar {
        /// The refused name, with control characters escaped.
        name: String,
        /// A description of the offending character.
        what: String,
    },
    /// The name starts with something other than a letter or digit (e.g. `-` or `.`).
    #[error("name `{0}` must start with a lowercase letter or a digit")]
    BadStart(String),
    /// The name contains `..`.
    #[error("name `{0}` contains `..`")]
    DotDot(String),
    /// The name ends in `.lock`, which git reserves for lock files.
    #[error("name `{0}` ends in `.lock`, which git reserves")]
    LockSuffix(String),
    /// A Windows device name (`con`, `nul`, `com1`...), which cannot be a file there.
    #[error("name `{0}` is reserved on Windows")]
    Reserved(String),
    /// The name does not follow the required shape.
    #[error("name `{name}` is not of the form {shape}")]
    Shape {
        /// The refused name.
        name: String,
        /// The expected shape, e.g. `NNNN-slug`.
        shape: &'static str,
    },
    /// Two names that differ only by case (they collide on case-insensitive file systems).
    #[error("names `{0}` and `{1}` collide when case is ignored")]
    CaseCollision(String, String),
}

/// Checks the rules shared by every name godzilla puts into a path or a ref.
pub fn check_component(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong(
            name.chars().take(MAX_NAME_LEN).collect(),
        ));
    }
    let mut dots = false;
    for c in name.chars() {
        dots |= c == '.';
        let ok = c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
        if !ok {
            let what = match c {
                '/' | '\\' => format!("a path separator `{c}`"),
                c if c.is_control() => format!("a control character {}", c.escape_default()),
                c if c.is_ascii_uppercase() => format!("an uppercase letter `{c}`"),
                c => format!("the character `{}`", c.escape_default()),
            };
            return Err(NameError::BadChar {
                name: name.escape_default().to_string(),
                what,
            });
        }
    }
    let first = name.as_bytes()[0];
    if !(first.is_ascii_lowercase() || first.is_ascii_digit()) {
        return Err(NameError::BadStart(name.to_owned()));
    }
    // The dot rules, for the names that have one (ids seldom do; every event names two).
    if dots && name.contains("..") {
        return Err(NameError::DotDot(name.to_owned()));
    }
    if dots && name.ends_with(".lock") {
        return Err(NameError::LockSuffix(name.to_owned()));
    }
    if dots && name.ends_with('.') {
        return Err(NameError::Shape {
            name: name.to_owned(),
            shape: "a name not ending in `.`",
        });
    }
    let stem = name.split_once('.').map_or(name, |(stem, _)| stem);
    const RESERVED: &[&str] = &["con", "prn", "aux", "nul"];
    let is_port = (stem.starts_with("com") || stem.starts_with("lpt"))
        && stem.len() == 4
        && stem.as_bytes()[3].is_ascii_digit();
    if RESERVED.contains(&stem) || is_port {
        return Err(NameError::Reserved(name.to_owned()));
    }
    Ok(())
}

/// Refuses a set of names in which two differ only by case.
pub fn check_unique_casefold<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<(), NameError> {
    let mut seen: std::collections::HashMap<String, &str> = std::collections::HashMap::new();
    for name in names {
        if let Some(prev) = seen.insert(name.to_lowercase(), name) {
            return Err(NameError::CaseCollision(prev.to_owned(), name.to_owned()));
        }
    }
    Ok(())
}

/// Splits `NNN..-rest` into the number and the slug, requiring exactly `digits` digits.
fn split_numbered<'a>(
    name: &'a str,
    digits: usize,
    shape: &'static str,
) -> Result<(u32, &'a str), NameError> {
    let shape_err = || NameError::Shape {
        name: name.to_owned(),
        shape,
    };
    let (num, slug) = name.split_once('-').ok_or_else(shape_err)?;
    if num.len() != digits || !num.bytes().all(|b| b.is_ascii_digit()) || slug.is_empty() {
        return Err(shape_err());
    }
    // The slug starts like a name does: `01-.a` or `01--a` is not a step.
    if !slug
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(NameError::BadStart(name.to_owned()));
    }
    let number = num.parse().map_err(|_| shape_err())?;
    Ok((number, slug))
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $digits:expr, $shape:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $ty(String);

        impl $ty {
            /// Validates `name` and wraps it.
            pub fn parse(name: &str) -> Result<Self, NameError> {
                Self::validate(name)?;
                Ok(Self(name.to_owned()))
            }

            fn validate(name: &str) -> Result<(), NameError> {
                check_component(name)?;
                split_numbered(name, $digits, $shape).map(drop)
            }

            /// The leading number.
            pub fn number(&self) -> u32 {
                // Validated at construction, so the split cannot fail.
                split_numbered(&self.0, $digits, $shape).map(|(n, _)| n).unwrap_or(0)
            }

            /// The part after the number.
            pub fn slug(&self) -> &str {
                &self.0[$digits + 1..]
            }

            /// The name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $ty {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                // Kept rather than copied: every event line holds two ids (#13).
                let s = String::deserialize(d)?;
                Self::validate(&s).map_err(serde::de::Error::custom)?;
                Ok(Self(s))
            }
        }
    };
}

name_type!(
    /// A protocol id: four digits, a dash and a slug, e.g. `0007-add-login`.
    ProtocolId,
    4,
    "NNNN-slug (four digits, a dash, a slug)"
);
name_type!(
    /// A step id: two digits, a dash and a slug, e.g. `01-setup`; also the step file's stem.
    StepId,
    2,
    "NN-slug (two digits, a dash, a slug)"
);

/// What a short form of an id (`2`, `0002`, `sentence`, `0002-sen`) matched among known ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdMatch<T> {
    /// Exactly one.
    One(T),
    /// Several; the user must say more.
    Ambiguous(Vec<T>),
    /// None; the closest known id, when one is close enough to be a typo.
    None(Option<T>),
}

/// Resolves what a person typed against known ids, each given as `(id, number, slug)`: the
/// full id, the bare number (`2` or `0002`), the slug, or a unique prefix of the id or the
/// slug. An exact id, number or slug beats a prefix.
pub fn resolve_short<T: Clone + AsRef<str>>(typed: &str, known: &[(T, u32, &str)]) -> IdMatch<T> {
    let typed = typed.trim();
    let exact: Vec<T> = known
        .iter()
        .filter(|(id, number, slug)| {
            id.as_ref() == typed
                || *slug == typed
                || (!typed.is_empty()
                    && typed.bytes().all(|b| b.is_ascii_digit())
                    && typed.parse::<u64>().ok() == Some(u64::from(*number)))
        })
        .map(|(id, _, _)| id.clone())
        .collect();
    let found = if exact.is_empty() && !typed.is_empty() {
        known
            .iter()
            .filter(|(id, _, slug)| id.as_ref().starts_with(typed) || slug.starts_with(typed))
            .map(|(id, _, _)| id.clone())
            .collect()
    } else {
        exact
    };
    match found.len() {
        1 => IdMatch::One(found.into_iter().next().unwrap_or_else(|| unreachable!())),
        0 => IdMatch::None(closest(typed, known)),
        _ => IdMatch::Ambiguous(found),
    }
}

/// The known id nearest to `typed` by edit distance (on the id or its slug), if it is within
/// a third of the length: close enough to be a typo.
fn closest<T: Clone + AsRef<str>>(typed: &str, known: &[(T, u32, &str)]) -> Option<T> {
    known
        .iter()
        .map(|(id, _, slug)| {
            let d = edit_distance(typed, id.as_ref()).min(edit_distance(typed, slug));
            (d, id)
        })
        .filter(|(d, _)| *d <= typed.chars().count().div_ceil(3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, id)| id.clone())
}

/// Levenshtein distance.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Turns free text into a slug usable in a name: lowercase ASCII words joined by `-`.
pub fn slugify(text: &str, max_len: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= max_len {
            break;
        }
    }
    out.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_ids_resolve_by_number_slug_and_prefix() {
        use super::{IdMatch, resolve_short};
        let known = [
            ("0001-add-login", 1, "add-login"),
            ("0002-sentence", 2, "sentence"),
            ("0012-add-logout", 12, "add-logout"),
        ];
        let one = |t| match resolve_short(t, &known) {
            IdMatch::One(id) => Some(id),
            IdMatch::Ambiguous(_) | IdMatch::None(_) => None,
        };
        assert_eq!(one("2"), Some("0002-sentence"));
        assert_eq!(one("0002"), Some("0002-sentence"));
        assert_eq!(one("12"), Some("0012-add-logout"));
        assert_eq!(one("sentence"), Some("0002-sentence"));
        assert_eq!(one("sent"), Some("0002-sentence"));
        assert_eq!(one("0002-se"), Some("0002-sentence"));
        assert_eq!(one("0001-add-login"), Some("0001-add-login"));
        assert_eq!(one("add-logi"), Some("0001-add-login"));
        assert!(matches!(resolve_short("add", &known), IdMatch::Ambiguous(v) if v.len() == 2));
        assert!(matches!(resolve_short("00", &known), IdMatch::Ambiguous(v) if v.len() == 3));
        assert_eq!(
            resolve_short("sentense", &known),
            IdMatch::None(Some("0002-sentence"))
        );
        assert_eq!(resolve_short("7", &known), IdMatch::None(None));
        assert_eq!(resolve_short("zzzzzzzz", &known), IdMatch::None(None));
    }

    use super::*;

    #[test]
    fn accepts_good_names() {
        assert_eq!(ProtocolId::parse("0001-add-login").unwrap().number(), 1);
        assert_eq!(ProtocolId::parse("0042-x").unwrap().slug(), "x");
        assert_eq!(StepId::parse("03-write_tests.v2").unwrap().number(), 3);
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "",
            "../x",
            "0001-..",
            "0001-a/b",
            "0001-a\\b",
            "-0001-a",
            "0001-a.lock",
            "0001-A",
            "0001-a\u{7}",
            "0001-",
            "001-a",
            "00001-a",
            "abcd-a",
            "0001-a b",
            "0001-a.",
            "0001-.a",
            "0001--a",
            "0001-_a",
        ] {
            assert!(ProtocolId::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("0001-{}", "a".repeat(MAX_NAME_LEN));
        assert!(matches!(
            ProtocolId::parse(&long),
            Err(NameError::TooLong(_))
        ));
        assert!(matches!(
            check_component("con"),
            Err(NameError::Reserved(_))
        ));
        assert!(matches!(
            check_component("com1.md"),
            Err(NameError::Reserved(_))
        ));
    }

    /// One rule: every name the validator accepts matches the pattern the schemas use, and the
    /// schemas use exactly these patterns.
    #[test]
    fn validator_and_schemas_share_one_rule() {
        let step = regex::Regex::new(STEP_ID_PATTERN).unwrap();
        let protocol = regex::Regex::new(PROTOCOL_ID_PATTERN).unwrap();
        let alphabet = ["a", "0", ".", "-", "_", "z9", "..", "A", "/", " "];
        let mut names = Vec::new();
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    names.push(format!("{a}{b}{c}"));
                }
            }
        }
        for slug in &names {
            let s = format!("01-{slug}");
            assert_eq!(
                StepId::parse(&s).is_ok(),
                step.is_match(&s) && check_component(&s).is_ok(),
                "{s:?}"
            );
            let p = format!("0001-{slug}");
            assert_eq!(
                ProtocolId::parse(&p).is_ok(),
                protocol.is_match(&p) && check_component(&p).is_ok(),
                "{p:?}"
            );
        }
        let spec: serde_json::Value =
            serde_json::from_str(include_str!("../../schemas/spec.schema.json")).unwrap();
        assert_eq!(
            spec["properties"]["protocol"]["pattern"],
            PROTOCOL_ID_PATTERN
        );
        assert_eq!(
            spec["properties"]["steps"]["items"]["properties"]["id"]["pattern"],
            STEP_ID_PATTERN
        );
        let planning: serde_json::Value =
            serde_json::from_str(include_str!("../../schemas/planning.schema.json")).unwrap();
        assert_eq!(
            planning["properties"]["steps"]["items"]["properties"]["filename"]["pattern"],
            format!("{}\\.md$", STEP_ID_PATTERN.trim_end_matches('$'))
        );
    }

    #[test]
    fn case_collisions_are_refused() {
        assert!(check_unique_casefold(["01-a", "02-b"]).is_ok());
        assert!(matches!(
            check_unique_casefold(["01-Readme", "01-README"]),
            Err(NameError::CaseCollision(..))
        ));
    }

    #[test]
    fn slugify_makes_valid_slugs() {
        assert_eq!(slugify("Add Login (OAuth)!", 40), "add-login-oauth");
        assert_eq!(slugify("  ", 40), "");
    }
}
