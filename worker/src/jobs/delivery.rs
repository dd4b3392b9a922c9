//! Reading an Entrata `oa.application.events` delivery. Entrata does not publish the payload,
//! so the fields are looked up along configurable dotted paths (`ENTRATA_*_PATHS`), keys
//! matched without case, first match wins.

use crate::config::{PayloadPaths, normalise_event};
use crate::json;
use serde_json::Value;

/// What the screening job needs from a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationEvent {
    /// Entrata property id.
    pub property_id: String,
    /// Entrata application id.
    pub application_id: String,
    /// The event type as sent (`None` when the payload has none).
    pub event_type: Option<String>,
}

impl ApplicationEvent {
    /// `entrata:<propertyId>:<applicationId>`, the Payscore `correlation_id`.
    pub fn correlation_id(&self) -> String {
        format!("entrata:{}:{}", self.property_id, self.application_id)
    }

    /// Whether the event starts a screening (`*` in the list matches anything).
    pub fn triggers(&self, triggers: &[String]) -> bool {
        triggers.iter().any(|t| t == "*")
            || self
                .event_type
                .as_deref()
                .is_some_and(|e| triggers.contains(&normalise_event(e)))
    }
}

/// Why a delivery cannot be read (said in `x-last-error`; never the body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    /// Not JSON.
    #[error("body is not JSON")]
    NotJson,
    /// A required field is missing.
    #[error("no {0} found along the configured paths")]
    Missing(&'static str),
    /// An id with characters that cannot be an Entrata id.
    #[error("{0} is not a plausible id")]
    BadId(&'static str),
}

/// Read a delivery.
pub fn read(body: &[u8], paths: &PayloadPaths) -> Result<ApplicationEvent, Unreadable> {
    let value: Value = serde_json::from_slice(body).map_err(|_| Unreadable::NotJson)?;
    let find = |list: &[String]| list.iter().find_map(|p| json::text(json::at(&value, p)));
    let id = |list: &[String], name: &'static str| {
        let v = find(list).ok_or(Unreadable::Missing(name))?;
        let plausible = v.len() <= 64
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if plausible {
            Ok(v)
        } else {
            Err(Unreadable::BadId(name))
        }
    };
    Ok(ApplicationEvent {
        property_id: id(&paths.property_id, "property id")?,
        application_id: id(&paths.application_id, "application id")?,
        event_type: find(&paths.event_type),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> PayloadPaths {
        let split = |s: &str| s.split(',').map(str::to_owned).collect();
        PayloadPaths {
            property_id: split("propertyId,property_id,property.id,data.propertyId"),
            application_id: split("applicationId,application_id,application.id,data.applicationId"),
            event_type: split("eventType,event_type,event,type,data.eventType"),
        }
    }

    #[test]
    fn flat_nested_and_differently_spelled_payloads_are_read() {
        let flat = br#"{"eventType":"ApplicationSubmitted","propertyId":100,"applicationId":"77"}"#;
        let nested = br#"{"data":{"eventType":"application.submitted","propertyId":"100","applicationId":77}}"#;
        let snake =
            br#"{"event_type":"Application Submitted","property":{"id":100},"application_id":77}"#;
        for body in [&flat[..], &nested[..], &snake[..]] {
            let e = read(body, &paths()).expect("readable");
            assert_eq!(e.correlation_id(), "entrata:100:77");
            assert!(e.triggers(&["applicationsubmitted".into()]), "{e:?}");
        }
    }

    #[test]
    fn unreadable_deliveries_say_why() {
        assert_eq!(read(b"<xml/>", &paths()), Err(Unreadable::NotJson));
        assert_eq!(
            read(br#"{"propertyId":1}"#, &paths()),
            Err(Unreadable::Missing("application id"))
        );
        assert_eq!(
            read(br#"{"propertyId":"1; drop","applicationId":2}"#, &paths()),
            Err(Unreadable::BadId("property id"))
        );
    }

    #[test]
    fn events_outside_the_list_do_not_trigger_unless_star() {
        let e = read(
            br#"{"eventType":"ApplicationCancelled","propertyId":1,"applicationId":2}"#,
            &paths(),
        )
        .expect("ok");
        assert!(!e.triggers(&["applicationsubmitted".into()]));
        assert!(e.triggers(&["*".into()]));
    }
}
