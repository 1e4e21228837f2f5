//! A JSON value with its location, for errors that say where.
//!
//! HAR files come from browsers, proxies and hand edits, so every value
//! read from one is untrusted: [`At`] pairs a value with its path from the
//! root (`log.entries[2]._webSocketMessages[5].opcode`) and every accessor
//! fails with that path and what was expected, never with a panic.

use serde_json::Value;

/// A value inside a JSON document and the path that leads to it.
#[derive(Clone)]
pub struct At<'a> {
    /// The value (`Null` for a missing key).
    pub value: &'a Value,
    path: String,
}

static NULL: Value = Value::Null;

impl<'a> At<'a> {
    /// The document's root.
    pub fn root(value: &'a Value) -> At<'a> {
        At { value, path: String::new() }
    }

    /// The path of this value from the root, as JavaScript would write it.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// An error at this value.
    pub fn error(&self, message: impl std::fmt::Display) -> String {
        if self.path.is_empty() { format!("{message}") } else { format!("{}: {message}", self.path) }
    }

    /// The member `name` (`Null` if absent or if this is not an object).
    pub fn get(&self, name: &str) -> At<'a> {
        let path = if self.path.is_empty() { name.to_owned() } else { format!("{}.{name}", self.path) };
        At { value: self.value.get(name).unwrap_or(&NULL), path }
    }

    /// True when the value is missing or `null`.
    pub fn is_null(&self) -> bool {
        self.value.is_null()
    }

    /// The elements of an array, each with its index.
    pub fn items(&self) -> Result<Vec<At<'a>>, String> {
        let list = self.value.as_array().ok_or_else(|| self.expected("an array"))?;
        Ok(list.iter().enumerate().map(|(i, value)| At { value, path: format!("{}[{i}]", self.path) }).collect())
    }

    /// Like [`items`](Self::items), an empty list when missing or `null`.
    pub fn items_or_empty(&self) -> Result<Vec<At<'a>>, String> {
        if self.is_null() { Ok(Vec::new()) } else { self.items() }
    }

    /// A string.
    pub fn str(&self) -> Result<&'a str, String> {
        self.value.as_str().ok_or_else(|| self.expected("a string"))
    }

    /// A string, or `None` when missing or `null`.
    pub fn opt_str(&self) -> Result<Option<&'a str>, String> {
        if self.is_null() { Ok(None) } else { self.str().map(Some) }
    }

    /// A finite number.
    pub fn f64(&self) -> Result<f64, String> {
        self.value.as_f64().filter(|f| f.is_finite()).ok_or_else(|| self.expected("a number"))
    }

    /// A non-negative integer.
    pub fn u64(&self) -> Result<u64, String> {
        self.value.as_u64().ok_or_else(|| self.expected("a non-negative integer"))
    }

    /// An error saying what was expected here and what was found.
    pub fn expected(&self, what: &str) -> String {
        let found = match self.value {
            Value::Null => "nothing (missing or null)".to_owned(),
            Value::Bool(b) => format!("{b}"),
            Value::Number(n) => format!("the number {n}"),
            Value::String(_) => "a string".to_owned(),
            Value::Array(_) => "an array".to_owned(),
            Value::Object(_) => "an object".to_owned(),
        };
        self.error(format!("expected {what}, found {found}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_the_path_and_what_was_expected() {
        let doc = json!({"log": {"entries": [{}, {"time": "x"}]}});
        let root = At::root(&doc);
        let log = root.get("log");
        let list = log.get("entries").items().unwrap();
        assert_eq!(list[1].get("time").f64().unwrap_err(), "log.entries[1].time: expected a number, found a string");
        assert_eq!(
            list[0].get("x").str().unwrap_err(),
            "log.entries[0].x: expected a string, found nothing (missing or null)"
        );
        assert_eq!(log.items().err().unwrap(), "log: expected an array, found an object");
        assert_eq!(root.path(), "");
    }
}
