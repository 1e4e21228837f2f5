//! Autobahn's case selection and numbering (§1.1 of the reference).
//!
//! Contract, matching the fuzzingserver exactly:
//! - A pattern containing `*` matches IDs that *start* with it, `*` standing
//!   for any run of characters and `.` for itself (so `7.1*` also matches
//!   `7.13.1`). A pattern without `*` matches only the identical ID.
//! - Selected = matched by some `cases` pattern, minus those matched by some
//!   `exclude` pattern, deduplicated, sorted by the integer tuple of the ID.
//! - `case=N` is 1-based into the selected list, so excluding a case shifts
//!   every later number; [`CaseList::number_of`] is the `casetuple` lookup.

use std::collections::BTreeSet;

/// True if `pattern` selects `id` under Autobahn's rules.
pub fn matches(pattern: &str, id: &str) -> bool {
    if pattern.contains('*') {
        // Anchored at the start only: an implicit `*` at the end.
        glob(pattern.as_bytes(), id.as_bytes(), true)
    } else {
        pattern == id
    }
}

/// Wildcard match of `pattern` against `text`; `open_end` allows trailing
/// text after the pattern.
fn glob(pattern: &[u8], text: &[u8], open_end: bool) -> bool {
    match pattern.split_first() {
        None => open_end || text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..], open_end)),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..], open_end),
    }
}

/// The integer tuple an ID sorts by; a part that is not a number sorts as
/// `u32::MAX` (Autobahn IDs are always numeric).
pub fn case_key(id: &str) -> Vec<u32> {
    id.split('.').map(|part| part.parse().unwrap_or(u32::MAX)).collect()
}

/// The selected cases, in `case=N` order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseList {
    ids: Vec<String>,
}

impl CaseList {
    /// Selects from `all` the IDs matched by `cases` and not by `exclude`.
    pub fn select<'a>(all: impl IntoIterator<Item = &'a str>, cases: &[&str], exclude: &[&str]) -> CaseList {
        let any = |patterns: &[&str], id: &str| patterns.iter().any(|p| matches(p, id));
        let chosen: BTreeSet<&str> = all.into_iter().filter(|id| any(cases, id) && !any(exclude, id)).collect();
        let mut ids: Vec<String> = chosen.into_iter().map(str::to_owned).collect();
        ids.sort_by_key(|id| case_key(id));
        CaseList { ids }
    }

    /// The selected IDs in order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// The ID that `case=n` runs (1-based); `None` outside `1..=len`.
    pub fn by_number(&self, n: usize) -> Option<&str> {
        n.checked_sub(1).and_then(|i| self.ids.get(i)).map(String::as_str)
    }

    /// The `case=N` number of `id` (the `casetuple` lookup).
    pub fn number_of(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|x| x == id).map(|i| i + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: [&str; 10] = ["7.13.2", "7.1.1", "10.1.1", "7.1.6", "9.8.6", "7.13.1", "5.10", "5.9", "7.3.1", "12.1.1"];

    fn selected(cases: &[&str], exclude: &[&str]) -> Vec<String> {
        CaseList::select(IDS, cases, exclude).ids().to_vec()
    }

    #[test]
    fn wildcard_is_start_anchored_and_dot_is_literal() {
        assert_eq!(selected(&["7.1*"], &[]), ["7.1.1", "7.1.6", "7.13.1", "7.13.2"]);
        assert!(matches("7.1.*", "7.1.1") && !matches("7.1.*", "7.13.1"));
        assert!(!matches("7.1*", "17.1.1"), "anchored at the start");
        assert!(!matches("7x1*", "7.1.1") && !matches("7.1*", "7x1.1"), "dot is literal");
        assert!(matches("*.1", "7.3.1") && matches("*.1", "7.13.2"), "open at the end");
        assert!(matches("7*1", "7.3.1x"));
    }

    #[test]
    fn pattern_without_star_is_exact() {
        assert_eq!(selected(&["7.1"], &[]), Vec::<String>::new());
        assert_eq!(selected(&["7.1.1", "7.1.1"], &[]), ["7.1.1"]);
    }

    #[test]
    fn sorting_is_by_integer_tuple() {
        assert_eq!(
            selected(&["*"], &[]),
            ["5.9", "5.10", "7.1.1", "7.1.6", "7.3.1", "7.13.1", "7.13.2", "9.8.6", "10.1.1", "12.1.1"]
        );
        assert!(case_key("9.8.6") < case_key("10.1.1"));
    }

    #[test]
    fn excluding_shifts_numbers_and_casetuple_finds_them() {
        let all = CaseList::select(IDS, &["7.*"], &[]);
        assert_eq!(all.by_number(3), Some("7.3.1"));
        let fewer = CaseList::select(IDS, &["7.*"], &["7.1.6"]);
        assert_eq!(fewer.by_number(3), Some("7.13.1"));
        assert_eq!(fewer.number_of("7.13.2"), Some(4));
        assert_eq!(fewer.number_of("7.1.6"), None);
        assert_eq!((fewer.by_number(0), fewer.by_number(5)), (None, None));
        assert_eq!(fewer.by_number(1), Some("7.1.1"));
    }
}
