//! The full run result as pretty-printed JSON (the `model` types' serde form).

use crate::model::RunResult;

/// Pretty JSON of the whole run, newline-terminated.
pub fn json(run: &RunResult) -> String {
    match serde_json::to_string_pretty(run) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        // The model has only string-keyed maps, so this cannot happen; keep the output valid JSON anyway.
        Err(e) => {
            format!("{{\n  \"error\": {}\n}}\n", serde_json::Value::String(format!("cannot serialise the run: {e}")))
        }
    }
}
