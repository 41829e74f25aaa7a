//! Query parameters of `GET /Users` and `POST /Users/.search` (RFC 7644 §3.4.2, §3.4.3):
//! filter, 1-based pagination, attribute projection.

use serde_json::Value;

use crate::error::ScimError;
use crate::filter::Filter;
use crate::resource::{Projection, list_response};
use crate::schema::{MAX_RESULTS, get_ci};

/// `count` when the client sends none.
pub const DEFAULT_COUNT: usize = 100;

/// A parsed list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// The checked filter, if any.
    pub filter: Option<Filter>,
    /// 1-based index of the first result (values below 1 become 1).
    pub start_index: usize,
    /// Page size: default [`DEFAULT_COUNT`], negative becomes 0, capped at [`MAX_RESULTS`].
    pub count: usize,
    /// `attributes` / `excludedAttributes`.
    pub projection: Projection,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            filter: None,
            start_index: 1,
            count: DEFAULT_COUNT,
            projection: Projection::all(),
        }
    }
}

fn parse_int(name: &str, raw: &str) -> Result<i64, ScimError> {
    raw.trim()
        .parse::<i64>()
        .map_err(|_| ScimError::invalid_value(format!("'{name}' must be an integer")))
}

fn clamp_start(v: i64) -> usize {
    usize::try_from(v.max(1)).unwrap_or(usize::MAX)
}

fn clamp_count(v: i64) -> usize {
    usize::try_from(v.max(0))
        .unwrap_or(usize::MAX)
        .min(MAX_RESULTS)
}

impl ListQuery {
    /// From URL query pairs (names case-insensitive; `sortBy`/`sortOrder` ignored since sorting
    /// is not supported). Bad filter: 400 `invalidFilter`; non-integer numbers: `invalidValue`.
    pub fn from_query<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ScimError> {
        let mut q = ListQuery::default();
        let mut attributes = None;
        let mut excluded = None;
        for (k, v) in params {
            if k.eq_ignore_ascii_case("filter") {
                q.filter = Some(Filter::parse(v)?);
            } else if k.eq_ignore_ascii_case("startIndex") {
                q.start_index = clamp_start(parse_int("startIndex", v)?);
            } else if k.eq_ignore_ascii_case("count") {
                q.count = clamp_count(parse_int("count", v)?);
            } else if k.eq_ignore_ascii_case("attributes") {
                attributes = Some(v);
            } else if k.eq_ignore_ascii_case("excludedAttributes") {
                excluded = Some(v);
            }
        }
        q.projection = Projection::parse(attributes, excluded)?;
        Ok(q)
    }

    /// `startIndex` and `count` (either may be absent) as 1-based start and clamped count.
    pub fn paging(start: Option<&str>, count: Option<&str>) -> Result<(usize, usize), ScimError> {
        let start = start
            .map(|v| parse_int("startIndex", v).map(clamp_start))
            .transpose()?
            .unwrap_or(1);
        let count = count
            .map(|v| parse_int("count", v).map(clamp_count))
            .transpose()?
            .unwrap_or(DEFAULT_COUNT);
        Ok((start, count))
    }

    /// From a `/.search` body (`SearchRequest`); numbers may be JSON numbers or strings.
    pub fn from_search_body(body: &Value) -> Result<Self, ScimError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("the request body must be a JSON object"))?;
        let mut q = ListQuery::default();
        let int = |name: &str| -> Result<Option<i64>, ScimError> {
            match get_ci(obj, name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
                    ScimError::invalid_value(format!("'{name}' must be an integer"))
                }),
                Some(Value::String(s)) => parse_int(name, s).map(Some),
                Some(_) => Err(ScimError::invalid_value(format!(
                    "'{name}' must be an integer"
                ))),
            }
        };
        if let Some(v) = int("startIndex")? {
            q.start_index = clamp_start(v);
        }
        if let Some(v) = int("count")? {
            q.count = clamp_count(v);
        }
        match get_ci(obj, "filter") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => q.filter = Some(Filter::parse(s)?),
            Some(_) => return Err(ScimError::invalid_filter("'filter' must be a string")),
        }
        q.projection = Projection::from_search_body(body)?;
        Ok(q)
    }

    /// The page of `items` (all matches, in stable order) this query asks for.
    pub fn page<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let start = self.start_index.saturating_sub(1).min(items.len());
        let end = start.saturating_add(self.count).min(items.len());
        items.get(start..end).unwrap_or_default()
    }

    /// The ListResponse for a page of resources (projection applied here) out of `total`.
    pub fn response(&self, page: &[Value], total: usize) -> Value {
        let resources = page.iter().map(|r| self.projection.apply(r)).collect();
        list_response(resources, total, self.start_index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_clamping() {
        let q = ListQuery::from_query([]).unwrap();
        assert_eq!((q.start_index, q.count), (1, DEFAULT_COUNT));
        let q = ListQuery::from_query([("startIndex", "0"), ("count", "-5")]).unwrap();
        assert_eq!((q.start_index, q.count), (1, 0));
        let q = ListQuery::from_query([("STARTINDEX", "101"), ("Count", "1000")]).unwrap();
        assert_eq!((q.start_index, q.count), (101, MAX_RESULTS));
        let e = ListQuery::from_query([("count", "ten")]).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        let e = ListQuery::from_query([("filter", "userName eq")]).unwrap_err();
        assert_eq!(e.scim_type, Some("invalidFilter"));
    }

    #[test]
    fn okta_import_paging_is_one_based_and_stable() {
        let items: Vec<i32> = (1..=250).collect();
        let q = ListQuery::from_query([("startIndex", "1"), ("count", "100")]).unwrap();
        assert_eq!(q.page(&items).first(), Some(&1));
        assert_eq!(q.page(&items).len(), 100);
        let q = ListQuery::from_query([("startIndex", "201"), ("count", "100")]).unwrap();
        assert_eq!(q.page(&items), &items[200..]);
        let q = ListQuery::from_query([("startIndex", "900")]).unwrap();
        assert!(q.page(&items).is_empty());
        let q = ListQuery::from_query([("count", "0")]).unwrap();
        assert!(q.page(&items).is_empty());
    }

    #[test]
    fn empty_filter_result_is_a_list_response_with_integers() {
        let q = ListQuery::from_query([("filter", "userName eq \"x\"")]).unwrap();
        let v = q.response(&[], 0);
        assert_eq!(
            v,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []
            })
        );
    }

    #[test]
    fn search_body() {
        let q = ListQuery::from_search_body(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "emails[type eq \"work\"]",
            "attributes": ["userName", "emails.value"],
            "startIndex": 2, "count": "10"
        }))
        .unwrap();
        assert_eq!((q.start_index, q.count), (2, 10));
        assert!(q.filter.is_some());
        let out = q.response(
            &[
                json!({"id": "1", "schemas": [], "userName": "a", "displayName": "A",
                "emails": [{"value": "a@x", "type": "work"}]}),
            ],
            5,
        );
        assert_eq!(out["totalResults"], 5);
        assert_eq!(
            out["Resources"][0],
            json!({"id": "1", "schemas": [], "userName": "a", "emails": [{"value": "a@x"}]})
        );
        assert!(ListQuery::from_search_body(&json!({"filter": 3})).is_err());
        assert!(ListQuery::from_search_body(&json!([])).is_err());
    }
}
