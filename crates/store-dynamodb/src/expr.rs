//! Expression building: every attribute name and value goes through a placeholder, so reserved
//! words (`name`, `status`, …) and free-form values are always safe.

use crate::item::Item;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// Placeholders of one request's expressions.
#[derive(Debug, Default, Clone)]
pub struct Expr {
    /// `#a0` → attribute name.
    pub names: HashMap<String, String>,
    /// `:v0` → value.
    pub values: HashMap<String, AttributeValue>,
}

impl Expr {
    /// No placeholders yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A placeholder for an attribute name (reused for the same name).
    pub fn name(&mut self, attr: &str) -> String {
        if let Some((k, _)) = self.names.iter().find(|(_, v)| v.as_str() == attr) {
            return k.clone();
        }
        let k = format!("#a{}", self.names.len());
        self.names.insert(k.clone(), attr.to_owned());
        k
    }

    /// A placeholder for a value.
    pub fn val(&mut self, v: AttributeValue) -> String {
        let k = format!(":v{}", self.values.len());
        self.values.insert(k.clone(), v);
        k
    }

    /// `SET a = :a, …` for every attribute of `attrs` except the key, plus `REMOVE` for `remove`.
    pub fn set_all(&mut self, attrs: &Item, remove: &[&str]) -> String {
        let mut names: Vec<&String> = attrs
            .keys()
            .filter(|k| k.as_str() != crate::keys::PK && k.as_str() != crate::keys::SK)
            .collect();
        names.sort();
        let sets: Vec<String> = names
            .into_iter()
            .filter_map(|k| attrs.get(k).map(|v| (k, v)))
            .map(|(k, v)| {
                let n = self.name(k);
                let v = self.val(v.clone());
                format!("{n} = {v}")
            })
            .collect();
        let removes: Vec<String> = remove
            .iter()
            .filter(|r| !attrs.contains_key(**r))
            .map(|r| self.name(r))
            .collect();
        let mut out = String::new();
        if !sets.is_empty() {
            out.push_str("SET ");
            out.push_str(&sets.join(", "));
        }
        if !removes.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str("REMOVE ");
            out.push_str(&removes.join(", "));
        }
        out
    }

    /// Names, if any.
    pub fn names_opt(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    /// Values, if any.
    pub fn values_opt(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::s;

    #[test]
    fn set_all_skips_keys_and_removes_unset() {
        let mut e = Expr::new();
        let item: Item = HashMap::from([
            ("PK".to_owned(), s("a")),
            ("SK".to_owned(), s("b")),
            ("name".to_owned(), s("x")),
        ]);
        let u = e.set_all(&item, &["name", "phone"]);
        assert_eq!(u, "SET #a0 = :v0 REMOVE #a1");
        assert_eq!(e.names.get("#a1").map(String::as_str), Some("phone"));
    }
}
