//! Entrata's JSON-RPC-style envelope: the request (`auth`, `requestId`, `method{name,
//! version, params}`), the `{"response": {...}}` answer with `result` or `error{code,
//! message}`, and the loose parameter types (numbers as strings, comma lists).

use serde::Deserialize;
use serde_json::{Value, json};

/// A request envelope.
#[derive(Debug, Deserialize)]
pub struct RequestEnvelope {
    /// `{"type": "apikey"}` on the API-key gateway.
    #[serde(default)]
    pub auth: Option<Value>,
    /// Echoed back as a string.
    #[serde(default, rename = "requestId")]
    pub request_id: Option<Value>,
    /// The call.
    pub method: MethodCall,
}

/// `method` of the envelope.
#[derive(Debug, Deserialize)]
pub struct MethodCall {
    /// Method name, e.g. `getLeads`.
    pub name: String,
    /// `r1`, `r2`, … (optional).
    #[serde(default)]
    pub version: Option<String>,
    /// Parameters.
    #[serde(default)]
    pub params: Value,
}

impl RequestEnvelope {
    /// `requestId` as the string Entrata echoes.
    pub fn request_id(&self) -> Option<String> {
        match &self.request_id {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Whether `auth.type` is `apikey`.
    pub fn is_apikey_auth(&self) -> bool {
        self.auth
            .as_ref()
            .and_then(|a| a.get("type"))
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("apikey"))
    }
}

/// An error answered inside the envelope (HTTP 200 unless said otherwise).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct MethodError {
    /// `error.code`.
    pub code: u16,
    /// `error.message`.
    pub message: String,
}

impl MethodError {
    /// An error with this code and message.
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// `{"response": {"requestId", "code": 200, "result"}}`.
pub fn success(request_id: Option<&str>, result: Value) -> Value {
    let mut response = json!({ "code": 200, "result": result });
    if let Some(id) = request_id {
        response["requestId"] = json!(id);
    }
    json!({ "response": response })
}

/// `{"response": {"requestId", "error": {"code", "message"}}}`.
pub fn failure(request_id: Option<&str>, error: &MethodError) -> Value {
    let mut response = json!({ "error": { "code": error.code, "message": error.message } });
    if let Some(id) = request_id {
        response["requestId"] = json!(id);
    }
    json!({ "response": response })
}

/// Entrata's wrapped lists: a single element arrives as an object, not a list.
pub fn one_or_many(mut items: Vec<Value>) -> Value {
    if items.len() == 1 {
        items.pop().unwrap_or(Value::Null)
    } else {
        Value::Array(items)
    }
}

/// A parameter as a string, whether sent as a string or a number; blank is absent.
pub fn param_str(params: &Value, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A numeric id parameter (string or number).
pub fn param_id(params: &Value, key: &str) -> Result<Option<u64>, MethodError> {
    match param_str(params, key) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| MethodError::new(400, format!("Invalid {key}."))),
    }
}

/// A required numeric id parameter.
pub fn required_id(params: &Value, key: &str) -> Result<u64, MethodError> {
    param_id(params, key)?.ok_or_else(|| MethodError::new(400, format!("{key} is required.")))
}

/// A comma-separated list of ids (`"1,2"`, `1`, or `[1, "2"]`).
pub fn param_ids(params: &Value, key: &str) -> Result<Option<Vec<u64>>, MethodError> {
    let raw: Vec<String> = match params.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect(),
        Some(_) => match param_str(params, key) {
            None => return Ok(None),
            Some(s) => s.split(',').map(str::to_owned).collect(),
        },
    };
    raw.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| MethodError::new(400, format!("Invalid {key}.")))
        })
        .collect::<Result<Vec<u64>, _>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_accepted_as_strings_numbers_and_comma_lists() {
        let params = json!({ "a": "12", "b": 13, "c": "1, 2,3", "d": [4, "5"], "e": "x" });
        assert_eq!(param_id(&params, "a"), Ok(Some(12)));
        assert_eq!(param_id(&params, "b"), Ok(Some(13)));
        assert_eq!(param_ids(&params, "c"), Ok(Some(vec![1, 2, 3])));
        assert_eq!(param_ids(&params, "d"), Ok(Some(vec![4, 5])));
        assert!(param_id(&params, "e").is_err());
        assert!(required_id(&params, "missing").is_err());
    }

    #[test]
    fn a_single_element_list_becomes_an_object() {
        assert_eq!(one_or_many(vec![json!({"a": 1})]), json!({"a": 1}));
        assert_eq!(one_or_many(vec![json!(1), json!(2)]), json!([1, 2]));
        assert_eq!(one_or_many(vec![]), json!([]));
    }

    #[test]
    fn the_request_id_is_echoed_as_a_string() {
        let e: RequestEnvelope =
            serde_json::from_value(json!({"requestId": 15, "method": {"name": "x"}}))
                .expect("parses");
        assert_eq!(e.request_id().as_deref(), Some("15"));
        assert_eq!(
            failure(Some("15"), &MethodError::new(401, "no"))["response"]["error"]["code"],
            401
        );
    }
}
