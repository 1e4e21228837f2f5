//! Files of generated cases: one scenario `template` and a `grid` of
//! parameter rows, one case per row (Autobahn generates 12.x/13.x from
//! such tables; `scenarios/12/12.1.yaml` holds 12.1.1–12.1.18).
//!
//! Contract: [`parse_file`] reads a plain scenario file as one case and a
//! grid file as one case per row, in row order. Every row names its `id`,
//! so a case is found by grepping for its ID. In the template, a string
//! that is exactly `${name}` becomes the row's value with its type (a
//! number stays a number); `${name}` inside a longer string is replaced by
//! the value's text. An unknown name, a row of the wrong width, or a
//! template that sets `id` itself is an error naming the file and the row.
//! Each generated case is then checked like any scenario file.

use std::path::Path;

use serde::Deserialize;
use serde_yaml::{Mapping, Value};

use super::{Scenario, ScenarioError, from_yaml};

/// A grid file: the parameter table and the template it fills.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GridFile {
    grid: Grid,
    template: Mapping,
}

/// The parameter table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Grid {
    /// Column names; one must be `id`.
    columns: Vec<String>,
    /// One list of values per case, in column order.
    rows: Vec<Vec<Value>>,
}

/// True if `text` is a grid file (it has a top-level `grid` key).
pub fn is_grid(text: &str) -> bool {
    text.lines().any(|line| line.starts_with("grid:"))
}

/// The cases of one scenario file: one for a plain file, one per row for a
/// grid file.
pub fn parse_file(text: &str, origin: &Path) -> Result<Vec<Scenario>, ScenarioError> {
    if !is_grid(text) {
        return Scenario::parse(text, origin).map(|s| vec![s]);
    }
    let error = |message: String| ScenarioError { file: origin.to_path_buf(), position: None, message };
    let file: GridFile = from_yaml(text).map_err(|e| ScenarioError::yaml(origin, &e))?;
    let Some(id_column) = file.grid.columns.iter().position(|c| c == "id") else {
        return Err(error("grid.columns: expected an `id` column".into()));
    };
    if file.template.contains_key("id") {
        return Err(error("template: expected no `id` (each row gives its own)".into()));
    }
    let mut out = Vec::new();
    for (i, row) in file.grid.rows.iter().enumerate() {
        let at = format!("grid.rows[{i}]");
        if row.len() != file.grid.columns.len() {
            let want = file.grid.columns.len();
            return Err(error(format!("{at}: expected {want} values ({:?}), got {}", file.grid.columns, row.len())));
        }
        let params: Vec<(&str, &Value)> = file.grid.columns.iter().map(String::as_str).zip(row).collect();
        let id = scalar_text(&row[id_column]).ok_or_else(|| error(format!("{at}: expected the id to be text")))?;
        let mut template = Value::Mapping(file.template.clone());
        fill(&mut template, &params).map_err(|m| error(format!("{at} ({id}): {m}")))?;
        if let Value::Mapping(map) = &mut template {
            map.insert("id".into(), Value::String(id.clone()));
        }
        let scenario: Scenario = serde_yaml::with::singleton_map_recursive::deserialize(template)
            .map_err(|e| error(format!("{at} ({id}): {e}")))?;
        scenario.check().map_err(|(field, m)| error(format!("{at} ({id}): {field}: {m}")))?;
        out.push(scenario);
    }
    Ok(out)
}

/// Replaces every `${name}` in `value`'s strings (see the module docs).
fn fill(value: &mut Value, params: &[(&str, &Value)]) -> Result<(), String> {
    match value {
        Value::String(s) => {
            if let Some(name) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')).filter(|n| !n.contains('}')) {
                *value = lookup(params, name)?.clone();
                return Ok(());
            }
            *s = substitute(s, params)?;
        }
        Value::Sequence(items) => items.iter_mut().try_for_each(|v| fill(v, params))?,
        Value::Mapping(map) => map.iter_mut().try_for_each(|(_, v)| fill(v, params))?,
        Value::Tagged(tagged) => fill(&mut tagged.value, params)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

fn substitute(text: &str, params: &[(&str, &Value)]) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').ok_or_else(|| format!("expected `}}` after `${{` in {text:?}"))? + start;
        let name = &rest[start + 2..end];
        let value = lookup(params, name)?;
        out.push_str(&scalar_text(value).ok_or_else(|| format!("expected ${{{name}}} to be a number or text"))?);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup<'a>(params: &[(&str, &'a Value)], name: &str) -> Result<&'a Value, String> {
    let names: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
    params
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("unknown parameter ${{{name}}}, expected one of {names:?}"))
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRID: &str = r#"
grid:
  columns: [id, len, secs]
  rows:
    - ["1.2.1", 16, 60]
    - ["1.2.2", 64, 120]
template:
  description: "Send ${len} octets, wait ${secs} secs."
  expectation: "Echo."
  actions:
    - frame: {opcode: text, payload: {repeat: {text: "*", len: "${len}"}}}
    - kill_after: ${secs}
  expect:
    events: {OK: []}
    close: {closed_by_me: true, codes: [1000], require_clean: true}
"#;

    #[test]
    fn each_row_is_a_case_with_its_values_filled_in() {
        let cases = parse_file(GRID, Path::new("g.yaml")).unwrap();
        assert_eq!(cases.len(), 2);
        assert_eq!((cases[1].id.as_str(), cases[1].description.as_str()), ("1.2.2", "Send 64 octets, wait 120 secs."));
        let steps = cases[0].plan();
        assert!(matches!(&steps[0], crate::scenario::Step::Send(s) if s.log.payload.len() == 16));
        assert_eq!(steps[1], crate::scenario::Step::KillAfter(60.0));
    }

    #[test]
    fn bad_grids_name_the_file_and_row() {
        let err = |text: &str| parse_file(text, Path::new("g.yaml")).unwrap_err().to_string();
        let wide = GRID.replace(r#"["1.2.2", 64, 120]"#, r#"["1.2.2", 64]"#);
        assert!(err(&wide).starts_with("g.yaml: grid.rows[1]: expected 3 values"), "{}", err(&wide));
        let unknown = GRID.replace("${secs} secs", "${sec} secs");
        assert!(err(&unknown).contains("grid.rows[0] (1.2.1): unknown parameter ${sec}"), "{}", err(&unknown));
        let no_id = GRID.replace("[id, len, secs]", "[name, len, secs]");
        assert!(err(&no_id).contains("expected an `id` column"));
        let bad_id = GRID.replace(r#""1.2.1""#, r#""../x""#);
        assert!(err(&bad_id).contains("is not a case ID"), "{}", err(&bad_id));
        let bad_value = GRID.replace("16, 60", "16, -1");
        assert!(err(&bad_value).contains("kill_after"), "{}", err(&bad_value));
    }
}
