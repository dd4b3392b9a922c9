//! The screening job: one Payscore screening group per submitted Entrata application.
//!
//! 1. Read the delivery (unreadable → dead letter `unreadable_delivery`, body intact).
//! 2. Ignore events that do not trigger and properties that are not enabled.
//! 3. Look the group up by `correlation_id` in Payscore, the ledger: if it exists, this is a
//!    repeated webhook (`duplicate`).
//! 4. Read the application and property in Entrata; build the request.
//! 5. Create the group; when the create's outcome is unknown (timeout, 5xx, broken
//!    connection), look it up again before anything else, so that a create Payscore performed
//!    but did not answer never becomes a second group.
//! 6. Forward a delayed report check (published and confirmed before the ack).

use crate::address::{e164, state_name};
use crate::clients::entrata::EntrataClient;
use crate::clients::payscore::{PayscoreClient, PayscoreError};
use crate::config::WorkerConfig;
use crate::consumer::Handler;
use crate::jobs::classify::{entrata_failure, payscore_failure, wait_for_schedule};
use crate::jobs::delivery::{self, ApplicationEvent};
use crate::jobs::report_check::{self, ReportCheck};
use crate::metrics::WorkerMetrics;
use crate::outcome::{DeadReason, FollowUp, Job, Outcome};
use serde_json::{Value, json};
use shared::amqp::WorkQueue;
use std::sync::Arc;
use tracing::Instrument;

/// The screening job.
#[derive(Debug)]
pub struct ScreeningJob {
    /// Configuration.
    pub config: Arc<WorkerConfig>,
    /// Entrata.
    pub entrata: Arc<EntrataClient>,
    /// Payscore.
    pub payscore: Arc<PayscoreClient>,
    /// Metrics.
    pub metrics: WorkerMetrics,
}

impl Handler for ScreeningJob {
    fn queue(&self) -> WorkQueue {
        WorkQueue::Screenings
    }

    fn key(&self, job: &Job) -> Option<String> {
        delivery::read(&job.body, &self.config.payload_paths)
            .ok()
            .map(|e| e.correlation_id())
    }

    async fn handle(&self, job: &Job) -> Outcome {
        let event = match delivery::read(&job.body, &self.config.payload_paths) {
            Ok(event) => event,
            Err(why) => return Outcome::dead(DeadReason::UnreadableDelivery, why.to_string()),
        };
        let span = tracing::info_span!(
            "screening",
            message_id = %job.message_id,
            property_id = %event.property_id,
            application_id = %event.application_id,
            attempt = job.attempt,
        );
        self.screen(job, &event).instrument(span).await
    }
}

impl ScreeningJob {
    async fn screen(&self, job: &Job, event: &ApplicationEvent) -> Outcome {
        if !event.triggers(&self.config.trigger_events) {
            return Outcome::Ignored("event type does not trigger a screening");
        }
        let Some(settings) = self.config.properties.get(&event.property_id) else {
            return Outcome::Ignored("property not enabled");
        };
        let correlation_id = event.correlation_id();
        match self.payscore.find_group(&correlation_id).await {
            Ok(Some(group_id)) => {
                tracing::info!(message_id = %job.message_id, group_id = %group_id, "screening group already exists");
                // A repeated webhook: the delivery that created the group forwarded its report
                // check. Only a retried or redelivered one (or a quick retry of this one) may
                // come after a create whose check was never forwarded.
                let forward = job.attempt > 0 || job.redelivered || job.tries > 0;
                return Outcome::Duplicate(forward.then(|| self.report_check(&group_id)));
            }
            Ok(None) => {}
            Err(error) => return payscore_failure(error, "lookup"),
        }
        let application = match self
            .entrata
            .application(&event.property_id, &event.application_id)
            .await
        {
            Ok(Some(application)) => application,
            Ok(None) => {
                return Outcome::dead(
                    DeadReason::ApplicationNotFound,
                    format!(
                        "Entrata has no application {} at property {}",
                        event.application_id, event.property_id
                    ),
                );
            }
            Err(error) => return entrata_failure(error),
        };
        let address = match self.entrata.property(&event.property_id).await {
            Ok(Some(address)) => address,
            Ok(None) => {
                return Outcome::dead(
                    DeadReason::PropertyAddressInvalid,
                    format!(
                        "Entrata returned no address for property {}",
                        event.property_id
                    ),
                );
            }
            Err(error) => return entrata_failure(error),
        };
        let Some(state) = state_name(&address.state) else {
            return Outcome::dead(
                DeadReason::PropertyAddressInvalid,
                format!(
                    "property {} has a state Payscore cannot take",
                    event.property_id
                ),
            );
        };
        let invited: Vec<_> = application
            .customers
            .iter()
            .filter(|c| match &c.customer_type {
                Some(t) => settings
                    .invite_customer_types
                    .iter()
                    .any(|i| i.eq_ignore_ascii_case(t)),
                // A lead without types: its customers are the applicants.
                None => true,
            })
            .collect();
        let without_email = invited.iter().filter(|c| c.email.is_none()).count();
        if invited.is_empty() || without_email > 0 {
            return Outcome::dead(
                DeadReason::NoApplicantEmail,
                format!(
                    "{without_email} of {} applicants to invite have no email address in Entrata",
                    invited.len()
                ),
            );
        }
        let applicants: Vec<Value> = invited
            .iter()
            .map(|c| {
                let mut a = json!({
                    "applicant_first_name": c.first_name,
                    "applicant_last_name": c.last_name,
                    "applicant_email": c.email,
                });
                if let Some(phone) = c
                    .phone
                    .as_deref()
                    .and_then(|p| e164(p, self.config.phone_country_code))
                {
                    a["applicant_phone_number"] = json!(phone);
                }
                a
            })
            .collect();
        let mut property = json!({
            "street_address": address.street,
            "city": address.city,
            "state": state,
            "zip_code": address.postal_code,
        });
        if let Some(unit) = &application.unit {
            property["unit"] = json!(unit);
        }
        let mut body = json!({
            "applicants": applicants,
            "property": property,
            "is_decision_maker_paying": settings.is_decision_maker_paying,
            "decision_maker_display_name": settings.decision_maker_display_name,
            "webhook_url": format!("{}/webhooks/payscore", self.config.public_base_url),
            "correlation_id": correlation_id,
        });
        if let Some(rent) = application.monthly_rent {
            body["monthly_rent"] = json!(rent);
        }
        if let Some(threshold) = settings.income_multiplier_threshold {
            body["income_multiplier_threshold"] = json!(threshold);
        }
        match self.payscore.create_group(&body).await {
            Ok(group_id) => self.created(job, &group_id, invited.len()),
            Err(PayscoreError::Rejected { status }) => Outcome::dead(
                DeadReason::PayscoreRejected,
                format!("Payscore answered {status} to the screening group request"),
            ),
            Err(error @ (PayscoreError::Call(_) | PayscoreError::Malformed(_)))
                if error.outcome_unknown() =>
            {
                // Payscore may have created the group without telling us: it is the ledger.
                match self.payscore.find_group(&correlation_id).await {
                    Ok(Some(group_id)) => self.created(job, &group_id, invited.len()),
                    _ => wait_for_schedule(payscore_failure(error, "create_group")),
                }
            }
            Err(PayscoreError::Conflict) => {
                // Payscore already has a group for this application (a create from an earlier
                // attempt that landed after it gave up, or another worker's): adopt it.
                match self.payscore.find_group(&correlation_id).await {
                    Ok(Some(group_id)) => {
                        tracing::info!(message_id = %job.message_id, group_id = %group_id, "create answered 409; adopting the existing screening group");
                        self.created(job, &group_id, invited.len())
                    }
                    Ok(None) => payscore_failure(PayscoreError::Conflict, "create_group"),
                    // Same wait as for the 409 itself: a quick retry would only meet it again.
                    Err(error) => wait_for_schedule(payscore_failure(error, "lookup after 409")),
                }
            }
            Err(error) => payscore_failure(error, "create_group"),
        }
    }

    fn created(&self, job: &Job, group_id: &str, applicants: usize) -> Outcome {
        if let Some(received) = job.received_at_ms {
            let seconds = (shared::envelope::now_millis() - received).max(0) as f64 / 1000.0;
            self.metrics.end_to_end.observe(seconds);
        }
        tracing::info!(message_id = %job.message_id, group_id, applicants, "screening group created");
        Outcome::Done(Some(self.report_check(group_id)))
    }

    fn report_check(&self, group_id: &str) -> FollowUp {
        let check = ReportCheck {
            screening_group_id: group_id.to_owned(),
            check: 1,
            group_created_at_ms: shared::envelope::now_millis(),
        };
        FollowUp {
            queue: WorkQueue::Reports,
            delay: self.config.report_check_first_delay,
            kind: report_check::KIND,
            body: serde_json::to_vec(&check).expect("serialisable"),
        }
    }
}
