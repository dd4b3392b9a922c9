//! Tolerant reading of vendor JSON: Entrata wraps lists (`customers.customer[]`) that may
//! arrive as a single object, writes ids as strings or numbers, mixes camelCase and
//! PascalCase, and tucks values under `@attributes`. These helpers read what is there without
//! a schema that would break on the next quirk.

use serde_json::Value;

/// The value at a dotted path (`a.b.c`), keys matched without case, looking inside
/// `@attributes` as well.
pub fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, key| field(v, key))
}

/// One field of an object, matched without case, or from its `@attributes`.
pub fn field<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let object = value.as_object()?;
    if let Some(v) = object.get(key) {
        return Some(v);
    }
    if let Some((_, v)) = object.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
        return Some(v);
    }
    object
        .get("@attributes")
        .and_then(|attributes| field(attributes, key))
}

/// A list that may be an array, a single object, or absent.
pub fn list(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

/// The items of a wrapped list such as `customers.customer`.
pub fn wrapped<'a>(value: &'a Value, outer: &str, inner: &str) -> Vec<&'a Value> {
    let container = field(value, outer);
    match container {
        Some(Value::Array(_)) => list(container),
        Some(c) => list(field(c, inner)),
        None => Vec::new(),
    }
}

/// A string or number as a trimmed, non-empty string.
pub fn text(value: Option<&Value>) -> Option<String> {
    let s = match value? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Object(o) => return text(o.get("@value")),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// A decimal amount written as a string (`"1650.00"`) or a number.
pub fn amount(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().replace([',', '$'], "").parse().ok(),
        _ => None,
    }
}

/// Whether any string in `value` equals `name`
/// (used on Entrata's document list, whose shape is not documented).
pub fn mentions(value: &Value, name: &str) -> bool {
    match value {
        Value::String(s) => s == name,
        Value::Array(items) => items.iter().any(|v| mentions(v, name)),
        Value::Object(map) => map.values().any(|v| mentions(v, name)),
        _ => false,
    }
}

/// How many documents a page of a document list holds: the length of its longest array
/// (the list's shape is not documented).
pub fn count_items(value: &Value) -> usize {
    match value {
        Value::Array(items) => items
            .len()
            .max(items.iter().map(count_items).max().unwrap_or(0)),
        Value::Object(map) => map.values().map(count_items).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_may_be_single_objects() {
        let v = json!({"customers": {"customer": {"id": 1}}});
        assert_eq!(wrapped(&v, "customers", "customer").len(), 1);
        let v = json!({"customers": {"customer": [{"id": 1}, {"id": 2}]}});
        assert_eq!(wrapped(&v, "customers", "customer").len(), 2);
        assert!(wrapped(&json!({}), "customers", "customer").is_empty());
    }

    #[test]
    fn ids_may_be_strings_or_numbers_and_keys_any_case() {
        assert_eq!(
            text(at(&json!({"PropertyID": 42}), "propertyId")),
            Some("42".into())
        );
        assert_eq!(
            text(at(&json!({"a": {"b": " x "}}), "a.b")),
            Some("x".into())
        );
        assert_eq!(
            text(at(
                &json!({"@attributes": {"AddressType": "Primary"}}),
                "AddressType"
            )),
            Some("Primary".into())
        );
        assert_eq!(text(Some(&json!(""))), None);
    }

    #[test]
    fn amounts_read_strings_and_numbers() {
        assert_eq!(amount(Some(&json!("1650.00"))), Some(1650.0));
        assert_eq!(amount(Some(&json!("$1,650.50"))), Some(1650.5));
        assert_eq!(amount(Some(&json!(900))), Some(900.0));
        assert_eq!(amount(Some(&json!(null))), None);
    }
}
