//! "Submit application": create an application and send the `oa.application.events`
//! webhook to ingest with the configured authentication.
//!
//! Entrata does not publish that webhook's payload. [`application_event`] is the one place
//! that defines ours (see the README's assumptions); change it there.

use super::model::Application;
use super::seed::{PHONE_TYPES, Shape};
use super::{EntrataState, lock};
use crate::calls::now_ms;
use crate::control::ControlError;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The default `eventType` of a submitted application.
pub const SUBMITTED: &str = "ApplicationSubmitted";

/// Options of `POST /_control/applications`; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubmitOptions {
    /// Property (default: the first seeded property).
    pub property_id: Option<u64>,
    /// Number of customers, 1–4 (default: drawn from the seed).
    pub applicants: Option<usize>,
    /// Explicit customer types, primary first, e.g. `["Primary", "Guarantor"]`.
    pub customer_types: Option<Vec<String>>,
    /// No customer has an email.
    pub without_email: bool,
    /// Every customer has an email (by default a few are left out at random, as in real data).
    pub every_email: bool,
    /// The primary's email is one Payscore says does not exist.
    pub nonexistent_email: bool,
    /// Base rent, e.g. `"1650.00"`.
    pub rent: Option<String>,
    /// The last customer has no first name.
    pub last_without_first_name: bool,
    /// `eventType` of the webhook (default `ApplicationSubmitted`).
    pub event_type: Option<String>,
    /// Send the webhook (default true).
    pub send_webhook: Option<bool>,
    /// A lead with no applicant lease yet: `getLeases` never returns it, the prospect's
    /// `lease.leaseId` is empty, the answer's `lease_id` is 0 and the webhook has no
    /// `leaseId`. Uploads by `applicationId` or `applicantId` still work.
    pub without_lease: bool,
    /// No base rent anywhere: no `Base`/`Monthly` scheduled charge in the lease, and empty
    /// `desiredUnit.initialRent`, `marketRent` and `desiredMaxRent` in the lead. Excludes
    /// `rent`.
    pub without_rent: bool,
    /// Every customer has this phone number, exactly as given (`"0000000000"`, `"+44 20
    /// 7946 0958"`, `"7946 0958"`, …); by default phones are drawn from the seed.
    pub phone: Option<String>,
    /// Every customer's phone type: `mobile` (the lead's `cellPhoneNumber`), `personal`
    /// (`personalPhoneNumber`) or `work` (`officePhoneNumber`); by default drawn per customer.
    pub phone_type: Option<String>,
    /// Every customer's phone `countryCode` in the lease (default `"1"`).
    pub phone_country_code: Option<String>,
    /// Every customer also has this work number: first in the lease's `phones.phone[]`
    /// (`phoneType` `work`) and the lead's `officePhoneNumber`.
    pub work_phone: Option<String>,
}

impl SubmitOptions {
    /// The options that contradict each other or name an unknown phone type.
    fn check(&self) -> Result<(), ControlError> {
        if self.without_rent && self.rent.is_some() {
            return Err(ControlError::BadRequest(
                "rent and without_rent exclude each other".into(),
            ));
        }
        if let Some(phone_type) = &self.phone_type
            && !PHONE_TYPES.contains(&phone_type.as_str())
        {
            return Err(ControlError::BadRequest(format!(
                "phone_type must be one of {}",
                PHONE_TYPES.join(", ")
            )));
        }
        Ok(())
    }
}

/// What ingest answered to one webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestDelivery {
    /// The application.
    pub application_id: u64,
    /// Destination.
    pub url: String,
    /// The raw body sent.
    pub payload: String,
    /// When, Unix milliseconds.
    pub at_ms: u64,
    /// 1 for the first attempt, 2 for the first retry, …
    pub attempt: u32,
    /// Ingest's status.
    pub status: Option<u16>,
    /// Ingest's body (first 1 KiB).
    pub body: Option<String>,
    /// Transport error, when there was no answer.
    pub error: Option<String>,
}

/// The answer of `POST /_control/applications`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmittedApplication {
    /// Property.
    pub property_id: u64,
    /// Application (lead) id.
    pub application_id: u64,
    /// Applicant lease id; 0 when the application has no lease (`without_lease`).
    pub lease_id: u64,
    /// Customer ids, primary first.
    pub applicant_ids: Vec<u64>,
    /// The webhook delivery, when one was sent.
    pub webhook: Option<IngestDelivery>,
}

/// The assumed `oa.application.events` payload (flat JSON); no `leaseId` while the
/// application has no lease.
pub fn application_event(event_type: &str, app: &Application, at_ms: u64) -> Value {
    let mut event = json!({
        "webhookType": "oa.application.events",
        "eventId": uuid::Uuid::now_v7().to_string(),
        "eventType": event_type,
        "eventDateTime": iso8601(at_ms),
        "propertyId": app.property_id,
        "applicationId": app.application_id,
        "leaseId": app.lease_id,
        "applicantIds": app.customers.iter().map(|c| c.id).collect::<Vec<_>>(),
    });
    if app.lease().is_none()
        && let Some(fields) = event.as_object_mut()
    {
        fields.remove("leaseId");
    }
    event
}

/// Unix milliseconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl EntrataState {
    /// Create an application as `options` say and, unless told not to, send its webhook.
    pub async fn submit(
        &self,
        options: SubmitOptions,
    ) -> Result<SubmittedApplication, ControlError> {
        options.check()?;
        let shape = Shape {
            applicants: options.applicants,
            customer_types: options.customer_types.clone(),
            without_email: options.without_email,
            every_email: options.every_email,
            primary_email: options
                .nonexistent_email
                .then(|| self.nonexistent_emails.first().cloned())
                .flatten(),
            rent: options.rent.clone(),
            last_without_first_name: options.last_without_first_name,
            without_lease: options.without_lease,
            without_rent: options.without_rent,
            phone: options.phone.clone(),
            phone_type: options.phone_type.clone(),
            phone_country_code: options.phone_country_code.clone(),
            work_phone: options.work_phone.clone(),
        };
        let app = {
            let mut data = self.write();
            let property_id = match options.property_id {
                Some(id) => id,
                None => data.properties.first().map(|p| p.id).unwrap_or_default(),
            };
            let id = data
                .add_application(property_id, &shape)
                .map(|a| a.application_id)
                .ok_or_else(|| ControlError::NotFound(format!("no property {property_id}")))?;
            // Submitted now: completed today (UTC), unlike the seeded applications.
            let (year, month, day) = shared::envelope::utc_date(shared::envelope::now_millis());
            let app = data.applications.get_mut(&id).expect("just added");
            app.created_on = format!("{month:02}/{day:02}/{year}");
            app.clone()
        };
        tracing::info!(
            property_id = app.property_id,
            application_id = app.application_id,
            "application submitted"
        );
        let webhook = if options.send_webhook.unwrap_or(true) {
            let event_type = options.event_type.as_deref().unwrap_or(SUBMITTED);
            self.send_event(&app, event_type).await
        } else {
            None
        };
        Ok(SubmittedApplication {
            property_id: app.property_id,
            application_id: app.application_id,
            lease_id: app.lease_id,
            applicant_ids: app.customers.iter().map(|c| c.id).collect(),
            webhook,
        })
    }

    /// Send the application's webhook; `None` when no ingest URL is configured. A delivery
    /// that gets no answer, a 429 or a 5xx is retried after each of the configured
    /// `webhook_retry_delays` (none by default); every attempt is recorded, the last returned.
    pub async fn send_event(&self, app: &Application, event_type: &str) -> Option<IngestDelivery> {
        let payload = application_event(event_type, app, now_ms()).to_string();
        let mut delays = self.config.webhook_retry_delays.iter();
        let mut attempt = 1;
        loop {
            let delivery = self.attempt_event(app, &payload, attempt).await?;
            let retryable = match delivery.status {
                None => true,
                Some(status) => status == 429 || status >= 500,
            };
            match delays.next() {
                Some(delay) if retryable => {
                    tokio::time::sleep(*delay).await;
                    attempt += 1;
                }
                _ => return Some(delivery),
            }
        }
    }

    /// One attempt at delivering `payload`, recorded.
    async fn attempt_event(
        &self,
        app: &Application,
        payload: &str,
        attempt: u32,
    ) -> Option<IngestDelivery> {
        let target = self
            .ingest
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let url = target.url.clone()?;
        let mut request = self
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(payload.to_owned());
        if let Some(user) = &target.username {
            let password = target.password.as_ref().map_or("", |p| p.expose());
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request = request.header("authorization", format!("Basic {encoded}"));
        }
        if let Some(token) = &target.token {
            request = request.header("x-webhook-token", token.expose());
        }
        let mut delivery = IngestDelivery {
            application_id: app.application_id,
            url,
            payload: payload.to_owned(),
            at_ms: now_ms(),
            attempt,
            status: None,
            body: None,
            error: None,
        };
        match request.send().await {
            Ok(response) => {
                delivery.status = Some(response.status().as_u16());
                let body = response.text().await.unwrap_or_default();
                delivery.body = Some(body.chars().take(1024).collect());
            }
            Err(error) => {
                delivery.error = Some(
                    if error.is_timeout() {
                        "timeout"
                    } else {
                        "transport"
                    }
                    .into(),
                )
            }
        }
        tracing::info!(
            application_id = app.application_id,
            status = delivery.status,
            attempt,
            "entrata webhook sent"
        );
        lock(&self.deliveries).push(delivery.clone());
        Some(delivery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_709_210_096_000), "2024-02-29T12:34:56Z");
    }

    #[test]
    fn contradicting_options_and_unknown_phone_types_are_refused() {
        let both = SubmitOptions {
            rent: Some("1650.00".into()),
            without_rent: true,
            ..SubmitOptions::default()
        };
        assert!(matches!(both.check(), Err(ControlError::BadRequest(_))));
        let fax = SubmitOptions {
            phone_type: Some("fax".into()),
            ..SubmitOptions::default()
        };
        assert!(matches!(fax.check(), Err(ControlError::BadRequest(_))));
        assert!(SubmitOptions::default().check().is_ok());
    }

    #[test]
    fn old_option_bodies_still_read_and_unknown_fields_are_refused() {
        let old: SubmitOptions =
            serde_json::from_value(json!({ "applicants": 2, "rent": "1650.00" })).expect("reads");
        assert!(!old.without_lease && !old.without_rent && old.phone.is_none());
        let unknown = serde_json::from_value::<SubmitOptions>(json!({ "phone_number": "1" }));
        assert!(unknown.is_err());
    }
}
