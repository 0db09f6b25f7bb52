//! JSON text, compiled here once: the tool's own crate builds at `opt-level = 0` for quick
//! builds, and serde's generic serialisation instantiated there is several times slower (the
//! release intent, written twice per bump, carries whole files). Callers on a hot path use these.

use serde_json::Value;

/// Compact JSON text of a value (a `Value` always serialises: its keys are strings).
pub fn text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Indented JSON text of a value.
pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Parses JSON text.
pub fn parse(s: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_escapes() {
        let v = serde_json::json!({"a": "line\n\"quoted\"\t\u{1}", "b": [1, 2.5, null, true]});
        assert_eq!(parse(&text(&v)).unwrap(), v);
        assert_eq!(parse(&pretty(&v)).unwrap(), v);
        assert_eq!(text(&serde_json::json!({"k": "v"})), r#"{"k":"v"}"#);
        assert!(parse("{").is_err());
    }
}
