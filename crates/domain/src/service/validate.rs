//! Input rules shared by the use cases, each in one place.

use crate::email::normalize_domain;
use crate::error::{Error, ErrorCode, Result};
use crate::role::{Assignment, AssignmentError, normalize_assignments};
use serde_json::json;

/// Longest organization or pool name.
pub const MAX_NAME_LEN: usize = 100;
/// Longest person name.
pub const MAX_PERSON_NAME_LEN: usize = 200;
/// Longest phone number.
pub const MAX_PHONE_LEN: usize = 32;
/// Most allowed domains on a link or in settings.
pub const MAX_DOMAINS: usize = 50;

/// Why a name is refused ([`check_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameProblem {
    /// Nothing but whitespace.
    #[error("must not be empty")]
    Empty,
    /// Longer than allowed.
    #[error("must be at most {0} characters")]
    TooLong(usize),
    /// A control character (CR, LF, NUL, ESC, ...) or a line or paragraph separator.
    #[error("must not contain control characters")]
    Control,
    /// A bidirectional formatting character (override, embedding, isolate or mark).
    #[error("must not contain bidirectional formatting characters (U+202A-U+202E, U+2066-U+2069)")]
    Bidi,
}

/// Whether `c` is a bidirectional formatting character (Unicode `Bidi_Control`): the embeddings
/// and overrides U+202A-U+202E, the isolates U+2066-U+2069, and the marks U+061C, U+200E, U+200F.
/// They can make text display in another order than it is stored (`\u{202E}gpj.exe`).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` is refused in names: a control character (Unicode `Cc`), a line or paragraph
/// separator (U+2028, U+2029), or a bidirectional formatting character ([`is_bidi_control`]).
pub fn is_forbidden_in_name(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || is_bidi_control(c)
}

/// The rule for names and other one-line text: trimmed, 1..=max characters, none of them
/// refused by [`is_forbidden_in_name`]. Returns the trimmed text.
pub fn check_name(raw: &str, max: usize) -> std::result::Result<&str, NameProblem> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.chars().count() > max {
        return Err(NameProblem::TooLong(max));
    }
    if name.chars().any(is_bidi_control) {
        return Err(NameProblem::Bidi);
    }
    if name.chars().any(is_forbidden_in_name) {
        return Err(NameProblem::Control);
    }
    Ok(name)
}

/// A person name from a source that cannot be refused (the token's `name` claim), made to
/// follow [`check_name`]: whitespace (CR, LF and tab included) collapsed to single spaces, other
/// refused characters removed, cut to [`MAX_PERSON_NAME_LEN`] characters; `None` when nothing
/// is left.
pub fn clean_person_name(raw: &str) -> Option<String> {
    let mut out = String::new();
    let mut space = false;
    for c in raw.chars() {
        if c.is_whitespace() || matches!(c, '\u{2028}' | '\u{2029}') {
            space = true;
        } else if !is_forbidden_in_name(c) {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    let out: String = out.chars().take(MAX_PERSON_NAME_LEN).collect();
    let out = out.trim_end();
    (!out.is_empty()).then(|| out.to_owned())
}

/// A trimmed display name of 1..=max characters that passes [`check_name`].
pub fn display_name(field: &'static str, raw: &str, max: usize) -> Result<String> {
    check_name(raw, max)
        .map(str::to_owned)
        .map_err(|p| field_error(field, &p.to_string()))
}

/// An optional person name: empty becomes `None`.
pub fn optional_person_name(raw: Option<&str>) -> Result<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(n) => display_name("name", n, MAX_PERSON_NAME_LEN).map(Some),
    }
}

/// An optional phone number: digits, spaces and `+-().`, 3..=32 characters.
pub fn optional_phone(raw: Option<&str>) -> Result<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(p) => {
            if is_phone(p) {
                Ok(Some(p.to_owned()))
            } else {
                Err(field_error("phone", "is not a phone number"))
            }
        }
    }
}

/// The phone rule: digits, spaces and `+-().`, at least 3 digits, at most [`MAX_PHONE_LEN`]
/// characters (after trimming).
pub fn is_phone(raw: &str) -> bool {
    let p = raw.trim();
    p.len() <= MAX_PHONE_LEN
        && p.chars().filter(char::is_ascii_digit).count() >= 3
        && p.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}

/// A number within `min..=max`.
pub fn in_range(field: &'static str, value: u32, min: u32, max: u32) -> Result<u32> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(field_error(
            field,
            &format!("must be between {min} and {max}"),
        ))
    }
}

/// Assignments in normal form, or a 400 naming the problem.
pub fn assignments(field: &'static str, list: &[Assignment]) -> Result<Vec<Assignment>> {
    normalize_assignments(list).map_err(|e| assignment_error(field, &e))
}

/// The 400 for a malformed assignment list.
pub fn assignment_error(field: &'static str, e: &AssignmentError) -> Error {
    Error::invalid(ErrorCode::InvalidAssignment, e.to_string())
        .with_details(json!({ "field": field }))
}

/// Email domains in their IDNA ASCII form ([`normalize_domain`], the email rule), without
/// duplicates.
pub fn domains(field: &'static str, list: &[String]) -> Result<Vec<String>> {
    if list.len() > MAX_DOMAINS {
        return Err(field_error(
            field,
            &format!("must have at most {MAX_DOMAINS} entries"),
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for d in list {
        let Some(d) = normalize_domain(d) else {
            let shown: String = d.trim().chars().take(64).collect();
            return Err(field_error(
                field,
                &format!("`{shown}` is not a domain name"),
            ));
        };
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

/// 400 `validation_error` about one field.
pub fn field_error(field: &'static str, problem: &str) -> Error {
    Error::invalid(ErrorCode::ValidationError, format!("`{field}` {problem}"))
        .with_details(json!({ "field": field }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_phones() {
        assert_eq!(display_name("name", "  Acme ", 100).unwrap(), "Acme");
        assert!(display_name("name", "   ", 100).is_err());
        assert!(display_name("name", "a\u{0007}b", 100).is_err());
        assert_eq!(
            optional_phone(Some("+1 (555) 010-2000"))
                .unwrap()
                .as_deref(),
            Some("+1 (555) 010-2000")
        );
        assert!(optional_phone(Some("call me")).is_err());
        assert_eq!(
            domains("d", &["@Example.com".into(), "example.com".into()]).unwrap(),
            vec!["example.com"]
        );
        assert!(domains("d", &["nodot".into()]).is_err());
        assert!(is_phone(" +1 (555) 010-2000 "));
        assert!(!is_phone("not-a-phone"));
        assert!(!is_phone("12"));
        assert_eq!(
            domains(
                "d",
                &["B\u{fc}cher.example".into(), "xn--bcher-kva.example".into()]
            )
            .unwrap(),
            vec!["xn--bcher-kva.example"]
        );
    }

    #[test]
    fn the_name_rule() {
        assert_eq!(check_name("  Ada Lovelace ", 200), Ok("Ada Lovelace"));
        assert_eq!(
            check_name("Zoë Ørsted-İpek 李", 200),
            Ok("Zoë Ørsted-İpek 李")
        );
        assert_eq!(check_name(" \t ", 200), Err(NameProblem::Empty));
        assert_eq!(
            check_name(&"x".repeat(201), 200),
            Err(NameProblem::TooLong(200))
        );
        assert_eq!(
            check_name(&"é".repeat(200), 200),
            Ok("é".repeat(200).as_str())
        );
        for bad in [
            "a\u{0}b",
            "a\u{1b}[31mb",
            "a\rb",
            "a\nb",
            "a\u{7f}b",
            "a\u{85}b",
            "a\u{2028}b",
        ] {
            assert_eq!(check_name(bad, 200), Err(NameProblem::Control), "{bad:?}");
        }
        for bad in [
            "a\u{202E}b",
            "a\u{202A}b",
            "a\u{2066}b",
            "a\u{2069}b",
            "a\u{200F}b",
            "a\u{61C}b",
        ] {
            assert_eq!(check_name(bad, 200), Err(NameProblem::Bidi), "{bad:?}");
        }
        let e = display_name("name", "evil\u{202E}txt.exe", 100).unwrap_err();
        assert!(e.to_string().contains("bidirectional"), "{e}");
    }

    #[test]
    fn cleaning_token_names() {
        let cases = [
            (
                " Ada\u{0}\u{1b}\r\nLove\u{202E}lace\u{2066}\u{2069}\t Jr ",
                Some("Ada Lovelace Jr"),
            ),
            ("Ada\u{2028}Lovelace", Some("Ada Lovelace")),
            ("\u{0}\u{202A}\r\n ", None),
            ("", None),
            ("Zoë  İpek", Some("Zoë İpek")),
        ];
        for (raw, want) in cases {
            assert_eq!(clean_person_name(raw).as_deref(), want, "{raw:?}");
        }
        let long = format!("{} y", "x".repeat(199));
        assert_eq!(clean_person_name(&long), Some("x".repeat(199)));
        assert_eq!(clean_person_name(&"é".repeat(300)), Some("é".repeat(200)));
        for raw in ["a\u{202E}\u{0}b\r\nc", &"x ".repeat(300)] {
            let cleaned = clean_person_name(raw).unwrap();
            assert_eq!(
                check_name(&cleaned, MAX_PERSON_NAME_LEN),
                Ok(cleaned.as_str())
            );
        }
    }
}
