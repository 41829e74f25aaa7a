//! Input rules shared by the use cases, each in one place.

use crate::email::normalize_domain;
use crate::error::{Error, Result};
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

/// A trimmed display name of 1..=max characters without control characters.
pub fn display_name(field: &'static str, raw: &str, max: usize) -> Result<String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(field_error(field, "must not be empty"));
    }
    if name.chars().count() > max {
        return Err(field_error(
            field,
            &format!("must be at most {max} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(field_error(field, "must not contain control characters"));
    }
    Ok(name.to_owned())
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
            let ok = p.len() <= MAX_PHONE_LEN
                && p.chars().filter(char::is_ascii_digit).count() >= 3
                && p.chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c));
            if ok {
                Ok(Some(p.to_owned()))
            } else {
                Err(field_error("phone", "is not a phone number"))
            }
        }
    }
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
    Error::invalid("invalid_assignment", e.to_string()).with_details(json!({ "field": field }))
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
    Error::invalid("validation_error", format!("`{field}` {problem}"))
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
        assert_eq!(
            domains(
                "d",
                &["B\u{fc}cher.example".into(), "xn--bcher-kva.example".into()]
            )
            .unwrap(),
            vec!["xn--bcher-kva.example"]
        );
    }
}
