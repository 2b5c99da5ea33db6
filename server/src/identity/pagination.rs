//! Listing pools and users a page at a time, sans-IO.
//!
//! A page is asked for with `id` / `name` filters (exact id, case-insensitive substring of the
//! name), `sort` (`id` or `name`), `order` (`asc` or `desc`), `limit` (default 20, 1..=100)
//! and at most one cursor: `after` (the page starts after that item) or `before` (it ends
//! before it). A cursor is an item id; the item's place in the sorted list is (sort key, id),
//! so ties in names are stable. The answer carries `next` and `previous` cursors, `null` at
//! either end. Every bad parameter is named in the error.

use std::collections::HashMap;

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Id,
    Name,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    After(String),
    Before(String),
}

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub id: Option<String>,
    pub name: Option<String>,
    pub sort: SortKey,
    pub descending: bool,
    pub limit: usize,
    pub cursor: Option<Cursor>,
}

/// A bad parameter: its name and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterError {
    pub parameter: &'static str,
    pub problem: String,
}

impl std::fmt::Display for ParameterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.parameter, self.problem)
    }
}

fn bad(parameter: &'static str, problem: impl Into<String>) -> ParameterError {
    ParameterError { parameter, problem: problem.into() }
}

const KNOWN: [&str; 7] = ["id", "name", "sort", "order", "limit", "before", "after"];

impl PageRequest {
    pub fn parse(query: &HashMap<String, String>) -> Result<PageRequest, ParameterError> {
        let mut unknown: Vec<&str> = query.keys().map(String::as_str).filter(|k| !KNOWN.contains(k)).collect();
        unknown.sort_unstable();
        if let Some(first) = unknown.first() {
            return Err(ParameterError {
                parameter: "query",
                problem: format!("unknown parameter {first:?}; the list takes {}", KNOWN.join(", ")),
            });
        }
        let sort = match query.get("sort").map(String::as_str) {
            None | Some("id") => SortKey::Id,
            Some("name") => SortKey::Name,
            Some(other) => return Err(bad("sort", format!("{other:?} is not a sort key; use id or name"))),
        };
        let descending = match query.get("order").map(String::as_str) {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => return Err(bad("order", format!("{other:?} is not an order; use asc or desc"))),
        };
        let limit = match query.get("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| bad("limit", format!("{v:?} is not a number from 1 to {MAX_LIMIT}")))?,
        };
        let cursor = match (query.get("before"), query.get("after")) {
            (Some(_), Some(_)) => return Err(bad("before", "before and after cannot be combined; page one way at a time")),
            (Some(b), None) if !b.is_empty() => Some(Cursor::Before(b.clone())),
            (None, Some(a)) if !a.is_empty() => Some(Cursor::After(a.clone())),
            (Some(_), None) => return Err(bad("before", "must name an item id")),
            (None, Some(_)) => return Err(bad("after", "must name an item id")),
            (None, None) => None,
        };
        Ok(PageRequest {
            id: query.get("id").cloned(),
            name: query.get("name").cloned(),
            sort,
            descending,
            limit,
            cursor,
        })
    }
}

/// What a listed item offers to paging.
pub trait Listed {
    fn id(&self) -> &str;
    fn name(&self) -> &str;
}

/// One page and the cursors around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
    pub previous: Option<String>,
}

/// The page of `all` that `request` asks for. A cursor naming no item is an error (it was
/// deleted, or never existed): paging restarts rather than silently skipping.
pub fn page<T: Listed + Clone>(all: &[T], request: &PageRequest) -> Result<Page<T>, ParameterError> {
    let key = |item: &T| -> (String, String) {
        let primary = match request.sort {
            SortKey::Id => item.id().to_owned(),
            SortKey::Name => item.name().to_lowercase(),
        };
        (primary, item.id().to_owned())
    };
    let mut sorted: Vec<&T> = all
        .iter()
        .filter(|i| request.id.as_deref().is_none_or(|id| i.id() == id))
        .filter(|i| request.name.as_deref().is_none_or(|n| i.name().to_lowercase().contains(&n.to_lowercase())))
        .collect();
    sorted.sort_by_key(|i| key(i));
    if request.descending {
        sorted.reverse();
    }
    let position = |id: &str, parameter: &'static str| {
        sorted
            .iter()
            .position(|i| i.id() == id)
            .ok_or_else(|| bad(parameter, format!("{id:?} is not an item of this list (deleted, or outside the filter)")))
    };
    let (start, end) = match &request.cursor {
        None => (0, request.limit.min(sorted.len())),
        Some(Cursor::After(id)) => {
            let at = position(id, "after")? + 1;
            (at, (at + request.limit).min(sorted.len()))
        }
        Some(Cursor::Before(id)) => {
            let at = position(id, "before")?;
            (at.saturating_sub(request.limit), at)
        }
    };
    let items: Vec<T> = sorted[start..end].iter().map(|i| (*i).clone()).collect();
    let next = (end < sorted.len()).then(|| items.last().map(|i| i.id().to_owned())).flatten();
    let previous = (start > 0).then(|| items.first().map(|i| i.id().to_owned())).flatten();
    Ok(Page { items, next, previous })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Item(String, String);
    impl Listed for Item {
        fn id(&self) -> &str {
            &self.0
        }
        fn name(&self) -> &str {
            &self.1
        }
    }

    fn items(n: usize) -> Vec<Item> {
        (0..n).map(|i| Item(format!("id-{i:03}"), format!("name {}", (n - i) % 7))).collect()
    }

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn req(pairs: &[(&str, &str)]) -> PageRequest {
        PageRequest::parse(&q(pairs)).expect("valid")
    }

    #[test]
    fn bad_parameters_are_named() {
        for (pairs, parameter) in [
            (vec![("sort", "age")], "sort"),
            (vec![("order", "up")], "order"),
            (vec![("limit", "0")], "limit"),
            (vec![("limit", "101")], "limit"),
            (vec![("limit", "ten")], "limit"),
            (vec![("before", "a"), ("after", "b")], "before"),
            (vec![("page", "2")], "query"),
        ] {
            assert_eq!(PageRequest::parse(&q(&pairs)).expect_err("bad").parameter, parameter, "{pairs:?}");
        }
        assert_eq!(req(&[]).limit, DEFAULT_LIMIT);
    }

    #[test]
    fn edges_empty_list_last_page_and_a_cursor_at_the_end() {
        let empty: Vec<Item> = Vec::new();
        assert_eq!(page(&empty, &req(&[])).expect("page"), Page { items: vec![], next: None, previous: None });
        let all = items(5);
        let first = page(&all, &req(&[("limit", "2")])).expect("page");
        assert_eq!((first.items.len(), first.next.as_deref(), first.previous.as_deref()), (2, Some("id-001"), None));
        let last = page(&all, &req(&[("limit", "2"), ("after", "id-003")])).expect("page");
        assert_eq!((last.items.len(), last.next.as_deref(), last.previous.as_deref()), (1, None, Some("id-004")));
        let beyond = page(&all, &req(&[("after", "id-004")])).expect("page");
        assert_eq!((beyond.items.len(), beyond.next, beyond.previous.as_deref()), (0, None, None));
        let back = page(&all, &req(&[("limit", "2"), ("before", "id-004")])).expect("page");
        assert_eq!(back.items.iter().map(|i| i.0.as_str()).collect::<Vec<_>>(), ["id-002", "id-003"]);
        assert_eq!((back.next.as_deref(), back.previous.as_deref()), (Some("id-003"), Some("id-002")));
        assert_eq!(page(&all, &req(&[("after", "gone")])).expect_err("unknown cursor").parameter, "after");
    }

    #[test]
    fn filters_sort_and_order() {
        let all = items(10);
        let named = page(&all, &req(&[("name", "NAME 3")])).expect("page");
        assert!(named.items.iter().all(|i| i.1 == "name 3"));
        let by_id = page(&all, &req(&[("id", "id-007")])).expect("page");
        assert_eq!(by_id.items, vec![all[7].clone()]);
        let desc = page(&all, &req(&[("order", "desc"), ("limit", "1")])).expect("page");
        assert_eq!(desc.items[0].0, "id-009");
        let by_name = page(&all, &req(&[("sort", "name"), ("limit", "100")])).expect("page");
        let keys: Vec<(String, String)> = by_name.items.iter().map(|i| (i.1.clone(), i.0.clone())).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    proptest! {
        /// Walking forward with `next` visits every item exactly once, in order, whatever the
        /// sort, order and page size; walking back with `previous` does too.
        #[test]
        fn cursors_visit_every_item_once(n in 0usize..60, limit in 1usize..15, by_name: bool, desc: bool) {
            let all = items(n);
            let mut base = vec![("limit", limit.to_string())];
            if by_name { base.push(("sort", "name".into())); }
            if desc { base.push(("order", "desc".into())); }
            let request = |extra: Option<(&str, &str)>| {
                let mut pairs: Vec<(&str, &str)> = base.iter().map(|(k, v)| (*k, v.as_str())).collect();
                pairs.extend(extra);
                req(&pairs)
            };
            let whole = page(&all, &PageRequest { limit: MAX_LIMIT, ..request(None) }).expect("page");
            let mut seen = Vec::new();
            let mut current = page(&all, &request(None)).expect("page");
            let mut last_page;
            loop {
                seen.extend(current.items.iter().map(|i| i.0.clone()));
                last_page = current.clone();
                match current.next.clone() {
                    Some(c) => current = page(&all, &request(Some(("after", &c)))).expect("page"),
                    None => break,
                }
            }
            if n <= MAX_LIMIT {
                prop_assert_eq!(&seen, &whole.items.iter().map(|i| i.0.clone()).collect::<Vec<_>>());
            }
            prop_assert_eq!(seen.len(), n);
            let mut back = Vec::new();
            let mut current = last_page;
            loop {
                back.splice(0..0, current.items.iter().map(|i| i.0.clone()));
                match current.previous.clone() {
                    Some(c) => current = page(&all, &request(Some(("before", &c)))).expect("page"),
                    None => break,
                }
            }
            prop_assert_eq!(back, seen);
        }
    }
}
