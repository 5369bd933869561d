//! The sinks that keep what a run found (the Records issue): each implements
//! [`crate::pipeline::Sink`] and is fed by the one pipeline runner, live or on replay,
//! headless or in the TUI.

pub mod csv;
pub mod db;
pub mod events;
pub mod metrics;

use serde_json::Value;

/// One JSON value as a CSV cell: strings as they are, numbers and booleans as JSON writes
/// them, null as an empty cell, lists joined with `;`, objects as JSON text.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(";"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_like_the_json() {
        let v = serde_json::json!({"a": null, "b": "x,y", "c": 1.5, "d": [1, 2], "e": {"k": 1}, "f": true});
        let cells: Vec<String> = ["a", "b", "c", "d", "e", "f"].iter().map(|k| cell(&v[k])).collect();
        assert_eq!(cells, ["", "x,y", "1.5", "1;2", "{\"k\":1}", "true"]);
    }
}
