//! The screening job: one Payscore screening group per submitted Entrata application.
//!
//! 1. Read the delivery (unreadable → dead letter `unreadable_delivery`, body intact).
//! 2. Ignore events that do not trigger and properties that are not enabled.
//! 3. Claim the application in the ledger (fleet-wide: another replica's job on the same
//!    application makes this one wait, spending no attempt).
//! 4. The ledger knows the group: a repeated webhook (`duplicate`). It knows an intent to
//!    create without a group: an earlier create's outcome is unknown, resolved by the Payscore
//!    lookup (`PAYSCORE_LOOKUP`; with `none`, dead letter `create_outcome_unknown`).
//! 5. Read the application and property in Entrata; build the request.
//! 6. Record the intent (fenced by the claim), create the group, record its id. When the
//!    create's outcome is unknown (timeout, 5xx, broken connection) the intent stays, and the
//!    lookup resolves it before anything else.
//! 7. Forward a delayed report check (published and confirmed before the ack).

use crate::address::{e164, state_code, state_name};
use crate::clients::entrata::{Address, Application, Customer, EntrataClient};
use crate::clients::payscore::v2::{
    ApplicantV2, CreateApplicantGroupRequest, PropertyV2, VerificationV2,
};
use crate::clients::payscore::{
    ApplicantRequest, CreateGroupRequest, PayscoreClient, PayscoreError, PropertyRequest,
};
use crate::config::{Lookup, WorkerConfig};
use crate::consumer::Handler;
use crate::jobs::classify::{entrata_failure, payscore_failure, wait_for_schedule};
use crate::jobs::delivery::{self, ApplicationEvent};
use crate::jobs::report_check::{self, ReportCheck};
use crate::ledger::claims::application_key;
use crate::ledger::records::{ApplicationRecord, ApplicationState};
use crate::ledger::{Claim, ClaimAttempt, Ledger, LedgerError};
use crate::metrics::WorkerMetrics;
use crate::outcome::{DeadReason, Failure, FollowUp, Ignore, Job, Outcome};
use crate::properties::{PayscoreApi, PropertySettings, Verification};
use shared::amqp::WorkQueue;
use std::collections::BTreeMap;
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
    /// The ledger.
    pub ledger: Ledger,
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
        job.note(|t| {
            t.property_id = Some(event.property_id.clone());
            t.application_id = Some(event.application_id.clone());
        });
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

/// A ledger failure as the outcome that waits for the ledger.
fn ledger_down(error: LedgerError) -> Outcome {
    Outcome::LedgerUnavailable(error.to_string())
}

impl ScreeningJob {
    async fn screen(&self, job: &Job, event: &ApplicationEvent) -> Outcome {
        let trigger = event.triggers(&self.config.trigger_events);
        self.metrics
            .application_event(event.event_type.as_deref(), trigger);
        let queue = WorkQueue::Screenings.as_str();
        if !trigger {
            return self.metrics.ignore(queue, Ignore::NotATrigger);
        }
        let Some(settings) = self.config.properties.get(&event.property_id) else {
            return self.metrics.ignore(queue, Ignore::PropertyNotEnabled);
        };
        let key = application_key(&event.property_id, &event.application_id);
        let claim = match self.ledger.claim(&key, &job.run_id).await {
            Ok(ClaimAttempt::Held(claim)) => claim,
            Ok(ClaimAttempt::Busy) => return Outcome::Busy,
            Err(error) => return ledger_down(error),
        };
        let outcome = self.screen_claimed(job, event, settings, &claim).await;
        claim.release().await;
        outcome
    }

    async fn screen_claimed(
        &self,
        job: &Job,
        event: &ApplicationEvent,
        settings: &PropertySettings,
        claim: &Claim,
    ) -> Outcome {
        let (property_id, application_id) = (&event.property_id, &event.application_id);
        let record = match self.ledger.application(property_id, application_id).await {
            Ok(record) => record,
            Err(error) => return ledger_down(error),
        };
        match record.state {
            ApplicationState::Created => return self.duplicate(job, &record),
            ApplicationState::Creating => {
                if let Some(outcome) = self
                    .resolve_unknown_create(job, event, &record, settings)
                    .await
                {
                    return outcome;
                }
            }
            ApplicationState::Received => {}
        }
        let request = match self.request(event, settings).await {
            Ok(request) => request,
            Err(outcome) => return outcome,
        };
        let invited = request.applicants.len();
        let request = match settings.payscore_api {
            PayscoreApi::V1 => Create::V1(request),
            PayscoreApi::V2 => {
                match applicant_group_request(
                    event,
                    settings,
                    request,
                    &self.config.verification_types,
                ) {
                    Ok(request) => Create::V2(request),
                    Err(outcome) => return outcome,
                }
            }
        };
        match self
            .ledger
            .begin_create(claim, property_id, application_id, settings.payscore_api)
            .await
        {
            Ok(true) => {}
            // The claim expired (this job was too slow to renew it) and may be another's now.
            Ok(false) => return Outcome::Busy,
            Err(error) => return ledger_down(error),
        }
        let created = match &request {
            Create::V1(request) => self.payscore.create_group(request).await,
            Create::V2(request) => self.payscore.create_applicant_group(request).await,
        };
        match created {
            Ok(group_id) => {
                let api = settings.payscore_api;
                self.record_group(job, event, &group_id, Some(invited), settings, api)
                    .await
            }
            Err(PayscoreError::Rejected { status }) => {
                if let Err(error) = self.ledger.create_failed(property_id, application_id).await {
                    return ledger_down(error);
                }
                Outcome::dead(
                    DeadReason::PayscoreRejected,
                    format!(
                        "Payscore answered {status} to the {} request",
                        request.what()
                    ),
                )
            }
            Err(PayscoreError::Conflict) => {
                // Payscore already has a group for this application (a create whose answer
                // was lost, from before the ledger knew it): adopt it.
                let api = settings.payscore_api;
                match self
                    .payscore
                    .find_group_of(&event.correlation_id(), api)
                    .await
                {
                    Ok(Some(group_id)) => {
                        tracing::info!(message_id = %job.message_id, group_id = %group_id, "create answered 409; adopting the existing screening group");
                        let api = settings.payscore_api;
                        self.record_group(job, event, &group_id, Some(invited), settings, api)
                            .await
                    }
                    Ok(None) => payscore_failure(PayscoreError::Conflict, "create_group"),
                    // Same wait as for the 409 itself: a quick retry would only meet it again.
                    Err(error) => wait_for_schedule(payscore_failure(error, "lookup after 409")),
                }
            }
            // The intent stays: the next attempt resolves it with the lookup first.
            Err(error) if error.outcome_unknown() => {
                wait_for_schedule(payscore_failure(error, "create_group"))
            }
            Err(error) => {
                if let Err(error) = self.ledger.create_failed(property_id, application_id).await {
                    return ledger_down(error);
                }
                payscore_failure(error, "create_group")
            }
        }
    }

    /// An earlier create's outcome is unknown. `Some(outcome)` ends the job; `None` means the
    /// create certainly did not happen and the job goes on to create.
    async fn resolve_unknown_create(
        &self,
        job: &Job,
        event: &ApplicationEvent,
        record: &ApplicationRecord,
        settings: &PropertySettings,
    ) -> Option<Outcome> {
        if self.config.lookup == Lookup::None {
            return Some(Outcome::dead(
                DeadReason::CreateOutcomeUnknown,
                format!(
                    "an earlier create for {} has no known outcome and PAYSCORE_LOOKUP=none: \
                     check Payscore for a group with this correlation_id",
                    event.correlation_id()
                ),
            ));
        }
        match self
            .payscore
            .find_group_of(&event.correlation_id(), record.payscore_api)
            .await
        {
            Ok(Some(group_id)) => {
                tracing::info!(message_id = %job.message_id, group_id = %group_id, "an earlier create did happen; recording its group");
                Some(
                    // As the generation the intent was made with: the property may have moved
                    // to another since.
                    self.record_group(job, event, &group_id, None, settings, record.payscore_api)
                        .await,
                )
            }
            // Payscore's lists may lag behind its creates: "not found" is believed only once
            // the earlier create is older than PAYSCORE_LOOKUP_SETTLE.
            Ok(None) if record.creating_for.unwrap_or_default() < self.config.lookup_settle => {
                Some(wait_for_schedule(Outcome::Retry(Failure::new(
                    "create_outcome_pending",
                    "an earlier create is not visible in the lookup yet",
                    None,
                ))))
            }
            Ok(None) => None,
            Err(error) => Some(payscore_failure(error, "lookup")),
        }
    }

    /// Read the application and its property in Entrata and build the create request; an
    /// `Err` is the outcome that ends the job.
    async fn request(
        &self,
        event: &ApplicationEvent,
        settings: &PropertySettings,
    ) -> Result<CreateGroupRequest, Outcome> {
        let application = match self
            .entrata
            .application(&event.property_id, &event.application_id)
            .await
        {
            Ok(Some(application)) => application,
            Ok(None) => {
                return Err(Outcome::dead(
                    DeadReason::ApplicationNotFound,
                    format!(
                        "Entrata has no application {} at property {}",
                        event.application_id, event.property_id
                    ),
                ));
            }
            Err(error) => return Err(entrata_failure(error)),
        };
        let address = match self.entrata.property(&event.property_id).await {
            Ok(Some(address)) => address,
            Ok(None) => {
                return Err(Outcome::dead(
                    DeadReason::PropertyAddressInvalid,
                    format!(
                        "Entrata returned no address for property {}",
                        event.property_id
                    ),
                ));
            }
            Err(error) => return Err(entrata_failure(error)),
        };
        build_request(
            event,
            settings,
            &application,
            &address,
            format!("{}/webhooks/payscore", self.config.public_base_url),
            self.config.phone_country_code,
            self.config.rent_required,
        )
    }

    /// Record the group of generation `api`. `applicants`: how many were invited (`None` when
    /// the group was found by the lookup).
    async fn record_group(
        &self,
        job: &Job,
        event: &ApplicationEvent,
        group_id: &str,
        applicants: Option<usize>,
        settings: &PropertySettings,
        api: PayscoreApi,
    ) -> Outcome {
        job.note(|t| t.group_id = Some(group_id.to_owned()));
        if let Err(error) = self
            .ledger
            .group_created(&event.property_id, &event.application_id, group_id, api)
            .await
        {
            // The group exists but the ledger does not say so: once the ledger is back, the
            // intent without a group is resolved by the lookup.
            return ledger_down(error);
        }
        if let Some(received) = job.received_at_ms {
            let seconds = (shared::envelope::now_millis() - received).max(0) as f64 / 1000.0;
            self.metrics.end_to_end.observe(seconds);
        }
        tracing::info!(message_id = %job.message_id, group_id, applicants = applicants.unwrap_or_default(), api = api.as_str(), "screening group created");
        let expected = applicants.map(|n| expected_reports(&settings.verifications, n));
        Outcome::Done(Some(self.report_check(
            group_id,
            shared::envelope::now_millis(),
            api,
            expected.filter(|_| api == PayscoreApi::V2),
        )))
    }

    fn duplicate(&self, job: &Job, record: &ApplicationRecord) -> Outcome {
        let group_id = record.group_id.as_deref().unwrap_or_default();
        job.note(|t| t.group_id = Some(group_id.to_owned()));
        tracing::info!(message_id = %job.message_id, group_id, "screening group already exists");
        // The job that created the group forwarded its report check, unless it died or lost
        // its connection before that was confirmed (then its delivery comes back
        // redelivered), or an operator recorded the group with `worker resolve` (then the
        // dead letter comes back replayed).
        let forward = job.redelivered || job.replayed;
        let created_at = record
            .group_recorded_at_ms
            .unwrap_or_else(shared::envelope::now_millis);
        Outcome::Duplicate(
            forward.then(|| self.report_check(group_id, created_at, record.payscore_api, None)),
        )
    }

    fn report_check(
        &self,
        group_id: &str,
        created_at_ms: i64,
        api: PayscoreApi,
        expected_reports: Option<u32>,
    ) -> FollowUp {
        let check = ReportCheck {
            screening_group_id: group_id.to_owned(),
            check: 1,
            group_created_at_ms: created_at_ms,
            api: (api == PayscoreApi::V2).then(|| api.as_str().to_owned()),
            expected_reports,
        };
        FollowUp {
            queue: WorkQueue::Reports,
            delay: self.config.report_check_first_delay,
            kind: report_check::KIND,
            body: serde_json::to_vec(&check).expect("serialisable"),
        }
    }
}

/// A create request of either generation.
enum Create {
    /// A screening group.
    V1(CreateGroupRequest),
    /// An applicant group.
    V2(CreateApplicantGroupRequest),
}

impl Create {
    fn what(&self) -> &'static str {
        match self {
            Create::V1(_) => "screening group",
            Create::V2(_) => "applicant group",
        }
    }
}

/// How many reports an applicant group will have: one per household verification (income,
/// asset) and one identity report per applicant.
fn expected_reports(verifications: &[Verification], applicants: usize) -> u32 {
    verifications
        .iter()
        .map(|v| match v {
            Verification::Identity => applicants as u32,
            Verification::Income | Verification::Asset => 1,
        })
        .sum()
}

/// The v2 create request for what [`build_request`] checked and built: the same people,
/// each asked for the property's verifications by their configured wire names, the rent in
/// cents, the state as its USPS code, the property's name. Pure.
fn applicant_group_request(
    event: &ApplicationEvent,
    settings: &PropertySettings,
    v1: CreateGroupRequest,
    wire_names: &BTreeMap<Verification, String>,
) -> Result<CreateApplicantGroupRequest, Outcome> {
    let Some(state) = state_code(&v1.property.state) else {
        return Err(Outcome::dead(
            DeadReason::PropertyAddressInvalid,
            format!(
                "property {} has a state Payscore cannot take",
                event.property_id
            ),
        ));
    };
    let verifications: Vec<VerificationV2> = settings
        .verifications
        .iter()
        .map(|v| VerificationV2 {
            kind: wire_names
                .get(v)
                .cloned()
                .unwrap_or_else(|| format!("{}_verification", v.as_str())),
        })
        .collect();
    Ok(CreateApplicantGroupRequest {
        applicants: v1
            .applicants
            .into_iter()
            .map(|a| ApplicantV2 {
                first_name: a.applicant_first_name,
                last_name: a.applicant_last_name,
                email: a.applicant_email,
                phone_number: a.applicant_phone_number,
                verifications: verifications.clone(),
            })
            .collect(),
        property: PropertyV2 {
            name: settings.property_name.clone(),
            street_address: v1.property.street_address,
            city: v1.property.city,
            state: state.to_owned(),
            zip_code: v1.property.zip_code,
            unit: v1.property.unit,
        },
        decision_maker_display_name: v1.decision_maker_display_name,
        monthly_rent: v1
            .monthly_rent
            .map(|dollars| (dollars * 100.0).round() as i64),
        webhook_url: v1.webhook_url,
        is_invitation_disabled: false,
        correlation_id: v1.correlation_id,
    })
}

/// Entrata's customer types; a property inviting all of them needs no type to decide.
const ALL_CUSTOMER_TYPES: [&str; 4] = ["Primary", "Co-Applicant", "Guarantor", "Occupant"];

/// Which of the application's customers the property invites, or the dead letter that stops
/// the application: a customer without a type cannot be placed unless the household is one
/// person (the applicant) or the property invites every type.
fn invited<'a>(
    settings: &PropertySettings,
    application: &'a Application,
) -> Result<Vec<&'a Customer>, Outcome> {
    let invites = |t: &str| {
        settings
            .invite_customer_types
            .iter()
            .any(|i| i.eq_ignore_ascii_case(t))
    };
    let everyone = ALL_CUSTOMER_TYPES.iter().all(|t| invites(t));
    let untyped = application
        .customers
        .iter()
        .filter(|c| c.customer_type.is_none())
        .count();
    if untyped > 0 && application.customers.len() > 1 && !everyone {
        return Err(Outcome::dead(
            DeadReason::CustomerTypesUnknown,
            format!(
                "{untyped} of {} customers have no customer type in Entrata (no applicant \
                 lease yet?): replay once Entrata shows the applicant lease",
                application.customers.len()
            ),
        ));
    }
    Ok(application
        .customers
        .iter()
        .filter(|c| c.customer_type.as_deref().is_none_or(invites))
        .collect())
}

/// The Payscore create request for an application, or the dead letter that stops it. Pure:
/// everything it needs is passed in.
fn build_request(
    event: &ApplicationEvent,
    settings: &PropertySettings,
    application: &Application,
    address: &Address,
    webhook_url: String,
    default_country_code: u16,
    rent_required: bool,
) -> Result<CreateGroupRequest, Outcome> {
    if rent_required && application.monthly_rent.is_none() {
        return Err(Outcome::dead(
            DeadReason::RentUnknown,
            format!(
                "Entrata has no monthly rent for application {} and Payscore requires one \
                 (PAYSCORE_MONTHLY_RENT=required)",
                event.application_id
            ),
        ));
    }
    let Some(state) = state_name(&address.state) else {
        return Err(Outcome::dead(
            DeadReason::PropertyAddressInvalid,
            format!(
                "property {} has a state Payscore cannot take",
                event.property_id
            ),
        ));
    };
    let invited = invited(settings, application)?;
    // Payscore needs both names: one missing would earn a 400, one left out would invite a
    // partial household.
    let without_name = invited
        .iter()
        .filter(|c| c.first_name.trim().is_empty() || c.last_name.trim().is_empty())
        .count();
    if without_name > 0 {
        return Err(Outcome::dead(
            DeadReason::ApplicantIncomplete,
            format!(
                "{without_name} of {} applicants to invite have no first or last name in Entrata",
                invited.len()
            ),
        ));
    }
    let without_email = invited.iter().filter(|c| c.email.is_none()).count();
    if invited.is_empty() || without_email > 0 {
        return Err(Outcome::dead(
            DeadReason::NoApplicantEmail,
            format!(
                "{without_email} of {} applicants to invite have no email address in Entrata",
                invited.len()
            ),
        ));
    }
    let applicants = invited
        .iter()
        .map(|c| ApplicantRequest {
            applicant_first_name: c.first_name.trim().to_owned(),
            applicant_last_name: c.last_name.trim().to_owned(),
            applicant_email: c.email.clone().unwrap_or_default(),
            // A number that cannot be valid is left out: the invitation goes by email.
            // The best number that can be valid; none: the invitation goes by email only.
            applicant_phone_number: c
                .phones
                .iter()
                .find_map(|p| e164(&p.number, p.country.unwrap_or(default_country_code))),
        })
        .collect();
    Ok(CreateGroupRequest {
        applicants,
        property: PropertyRequest {
            street_address: address.street.clone(),
            city: address.city.clone(),
            state: state.to_owned(),
            zip_code: address.postal_code.clone(),
            unit: application.unit.clone(),
        },
        is_decision_maker_paying: settings.is_decision_maker_paying,
        decision_maker_display_name: settings.decision_maker_display_name.clone(),
        monthly_rent: application.monthly_rent,
        income_multiplier_threshold: settings.income_multiplier_threshold,
        webhook_url,
        correlation_id: event.correlation_id(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::entrata::Phone;
    use serde_json::{Value, json};

    fn settings(types: &[&str]) -> PropertySettings {
        PropertySettings {
            decision_maker_display_name: "Maple Court".into(),
            is_decision_maker_paying: true,
            income_multiplier_threshold: Some(3.0),
            invite_customer_types: types.iter().map(|t| (*t).to_owned()).collect(),
            document_file_type: "SR".into(),
            payscore_api: PayscoreApi::V1,
            verifications: vec![Verification::Income],
            property_name: "Maple Court".into(),
        }
    }

    fn customer(kind: Option<&str>, first: &str, phone: Option<&str>) -> Customer {
        Customer {
            id: Some(first.to_lowercase()),
            customer_type: kind.map(str::to_owned),
            first_name: first.into(),
            last_name: "Ruiz".into(),
            email: Some(format!("{}@example.com", first.to_lowercase())),
            phones: phone
                .into_iter()
                .map(|number| Phone {
                    number: number.to_owned(),
                    country: None,
                })
                .collect(),
        }
    }

    fn event() -> ApplicationEvent {
        ApplicationEvent {
            property_id: "100001".into(),
            application_id: "77".into(),
            event_type: None,
        }
    }

    fn address() -> Address {
        Address {
            street: "1 Main St".into(),
            city: "Austin".into(),
            state: "TX".into(),
            postal_code: "78701".into(),
        }
    }

    fn build(settings: &PropertySettings, application: &Application) -> Result<Value, String> {
        build_with(settings, application, false)
    }

    fn build_with(
        settings: &PropertySettings,
        application: &Application,
        rent_required: bool,
    ) -> Result<Value, String> {
        build_request(
            &event(),
            settings,
            application,
            &address(),
            "https://fleet.example.com/webhooks/payscore".into(),
            1,
            rent_required,
        )
        .map(|r| serde_json::to_value(r).expect("serialisable"))
        .map_err(|outcome| match outcome {
            Outcome::Dead { reason, .. } => reason.as_str().to_owned(),
            other => format!("{other:?}"),
        })
    }

    #[test]
    fn the_request_has_seed_003s_fields_and_nothing_unknown_is_sent_blank() {
        let application = Application {
            lease_id: Some("5001".into()),
            customers: vec![
                customer(Some("Primary"), "Ana", Some("(512) 555-0100")),
                customer(Some("Co-Applicant"), "Luis", Some("0000000000")),
                customer(Some("Guarantor"), "Eva", None),
            ],
            unit: Some("A-101".into()),
            monthly_rent: Some(1650.5),
        };
        let body = build(&settings(&["Primary", "Co-Applicant"]), &application).expect("built");
        assert_eq!(
            body,
            json!({
                "applicants": [
                    {"applicant_first_name": "Ana", "applicant_last_name": "Ruiz",
                     "applicant_email": "ana@example.com", "applicant_phone_number": "+15125550100"},
                    {"applicant_first_name": "Luis", "applicant_last_name": "Ruiz",
                     "applicant_email": "luis@example.com"}
                ],
                "property": {"street_address": "1 Main St", "city": "Austin", "state": "Texas",
                             "zip_code": "78701", "unit": "A-101"},
                "is_decision_maker_paying": true,
                "decision_maker_display_name": "Maple Court",
                "monthly_rent": 1650.5,
                "income_multiplier_threshold": 3.0,
                "webhook_url": "https://fleet.example.com/webhooks/payscore",
                "correlation_id": "entrata:100001:77"
            })
        );
        let without = Application {
            monthly_rent: None,
            unit: None,
            ..application
        };
        let body = build(
            &PropertySettings {
                income_multiplier_threshold: None,
                ..settings(&["Primary"])
            },
            &without,
        )
        .expect("built");
        let object = body.as_object().expect("object");
        for absent in ["monthly_rent", "income_multiplier_threshold"] {
            assert!(
                !object.contains_key(absent),
                "{absent} is left out, not sent blank"
            );
        }
        assert!(body["property"].get("unit").is_none());
        assert_eq!(body["applicants"].as_array().map(Vec::len), Some(1));
        // Where Payscore requires the rent, no request is built without it.
        assert_eq!(
            build_with(&settings(&["Primary"]), &without, true).expect_err("refused"),
            "rent_unknown"
        );
    }

    #[test]
    fn the_best_number_that_can_be_valid_is_texted() {
        let mut ana = customer(Some("Primary"), "Ana", None);
        ana.phones = vec![
            Phone {
                number: "000-000-0000".into(),
                country: None,
            },
            Phone {
                number: "20 7946 0958".into(),
                country: Some(44),
            },
        ];
        let application = Application {
            lease_id: None,
            customers: vec![ana],
            unit: None,
            monthly_rent: Some(900.0),
        };
        let body = build(&settings(&["Primary"]), &application).expect("built");
        assert_eq!(
            body["applicants"][0]["applicant_phone_number"],
            json!("+442079460958")
        );
    }

    #[test]
    fn a_lead_without_customer_types_never_invites_a_guess() {
        let lead = |customers| Application {
            lease_id: None,
            customers,
            unit: None,
            monthly_rent: None,
        };
        let household = lead(vec![
            customer(None, "Ana", None),
            customer(None, "Eva", None),
        ]);
        assert_eq!(
            build(&settings(&["Primary", "Co-Applicant"]), &household).expect_err("refused"),
            "customer_types_unknown"
        );
        // Unless the property invites every type anyway.
        let every = settings(&ALL_CUSTOMER_TYPES);
        assert_eq!(
            build(&every, &household).expect("built")["applicants"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        // One person is the applicant.
        let alone = lead(vec![customer(None, "Ana", None)]);
        assert!(build(&settings(&["Primary"]), &alone).is_ok());
        // A lead that does give types is filtered like a lease.
        let typed = lead(vec![
            customer(Some("Primary"), "Ana", None),
            customer(Some("Guarantor"), "Eva", None),
        ]);
        let body = build(&settings(&["Primary", "Co-Applicant"]), &typed).expect("built");
        assert_eq!(body["applicants"].as_array().map(Vec::len), Some(1));
    }
}
