//! The v2 applicant groups and their life cycle: create, look up, verifications beginning
//! and completing, the reports each completion makes available, and report expiry.
//!
//! Transitions return the webhook events they cause, in order; the caller delivers them
//! after releasing the lock. Ids come from a generator of their own, so v1 ids stay what
//! they were for a seed whether or not v2 groups are created.

use super::super::model::Status;
use super::model::{Applicant, ApplicantGroup, Report, ReportType, Verification};
use super::report;
use super::validate::ValidRequest;
use bytes::Bytes;
use std::collections::HashMap;
use uuid::Uuid;

/// A v2 webhook a transition causes (reference §10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `VERIFICATION_STARTED`.
    Started {
        /// The verification.
        verification_id: Uuid,
    },
    /// `VERIFICATION_COMPLETED` (`reason_completed: finished`).
    Completed {
        /// The verification.
        verification_id: Uuid,
    },
    /// `REPORT_READY`.
    ReportReady {
        /// The new report.
        report_id: Uuid,
        /// Its kind.
        report_type: ReportType,
        /// The applicant of an individual report; `None` for household reports.
        applicant_id: Option<Uuid>,
    },
}

impl Event {
    /// The webhook `code`.
    pub fn code(&self) -> &'static str {
        match self {
            Event::Started { .. } => "VERIFICATION_STARTED",
            Event::Completed { .. } => "VERIFICATION_COMPLETED",
            Event::ReportReady { .. } => "REPORT_READY",
        }
    }
}

/// A progress step of verifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `not_started → in_progress` (`VERIFICATION_STARTED`).
    Begin,
    /// `→ completed` (begins first where needed), then any reports that became due.
    Complete,
}

/// Which verifications a step applies to: every one when both are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// Only this applicant's verifications.
    pub applicant: Option<Uuid>,
    /// Only verifications of this wire name.
    pub verification: Option<String>,
}

/// Why a control transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// No such group.
    #[error("no applicant group with this id")]
    GroupNotFound,
    /// No such applicant in the group.
    #[error("no applicant with this id in the group")]
    ApplicantNotFound,
    /// The target names no requested verification.
    #[error("no such verification requested in the group")]
    VerificationNotFound,
    /// No such report in the group.
    #[error("no report with this id in the group")]
    ReportNotFound,
    /// The transition does not apply in the current state.
    #[error("{0}")]
    NotAllowed(&'static str),
}

/// All v2 applicant groups and their report files.
#[derive(Debug)]
pub struct ApplicantStore {
    groups: HashMap<Uuid, ApplicantGroup>,
    order: Vec<Uuid>,
    by_correlation: HashMap<String, Vec<Uuid>>,
    report_groups: HashMap<Uuid, Uuid>,
    files: HashMap<String, Bytes>,
    rng: fastrand::Rng,
}

fn next_uuid(rng: &mut fastrand::Rng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.u128(..).to_le_bytes()).into_uuid()
}

impl ApplicantStore {
    /// An empty store whose ids derive from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            groups: HashMap::new(),
            order: Vec::new(),
            by_correlation: HashMap::new(),
            report_groups: HashMap::new(),
            files: HashMap::new(),
            rng: fastrand::Rng::with_seed(seed ^ 0x5041_5953_5632_4150),
        }
    }

    /// Store a validated create request as a new group, every verification `not_started`.
    pub fn insert(
        &mut self,
        request: ValidRequest,
        raw_request: serde_json::Value,
        now_ms: u64,
    ) -> &ApplicantGroup {
        let rng = &mut self.rng;
        let id = next_uuid(rng);
        let property_id = next_uuid(rng);
        let applicants = request
            .applicants
            .into_iter()
            .map(|a| Applicant {
                id: next_uuid(rng),
                first_name: a.first_name,
                last_name: a.last_name,
                email: a.email,
                phone_number: a.phone_number,
                verifications: a
                    .verifications
                    .into_iter()
                    .map(|wire_name| Verification {
                        id: next_uuid(rng),
                        report_type: ReportType::for_verification(&wire_name),
                        wire_name,
                        status: Status::NotStarted,
                        reason_completed: "not_completed".into(),
                    })
                    .collect(),
            })
            .collect();
        let group = ApplicantGroup {
            id,
            raw_request,
            property: request.property,
            property_id,
            decision_maker_display_name: request.decision_maker_display_name,
            monthly_rent_cents: request.monthly_rent_cents,
            webhook_url: request.webhook_url,
            correlation_id: request.correlation_id,
            is_invitation_disabled: request.is_invitation_disabled,
            created_at_ms: now_ms,
            applicants,
            reports: Vec::new(),
        };
        if let Some(correlation) = &group.correlation_id {
            self.by_correlation
                .entry(correlation.clone())
                .or_default()
                .push(id);
        }
        self.order.push(id);
        self.groups.entry(id).or_insert(group)
    }

    /// The group with this id.
    pub fn get(&self, id: &Uuid) -> Option<&ApplicantGroup> {
        self.groups.get(id)
    }

    /// Groups with this correlation id (every group when `None`), oldest first.
    pub fn find(&self, correlation_id: Option<&str>) -> Vec<&ApplicantGroup> {
        let ids: &[Uuid] = match correlation_id {
            Some(c) => self.by_correlation.get(c).map_or(&[], Vec::as_slice),
            None => &self.order,
        };
        ids.iter().filter_map(|id| self.groups.get(id)).collect()
    }

    /// The report with this id and its group.
    pub fn report(&self, report_id: &Uuid) -> Option<(&ApplicantGroup, &Report)> {
        let group = self.groups.get(self.report_groups.get(report_id)?)?;
        Some((group, group.report(report_id)?))
    }

    /// The report file with this name.
    pub fn file(&self, name: &str) -> Option<Bytes> {
        self.files.get(name).cloned()
    }

    /// Apply `step` to the verifications `target` names.
    pub fn step(
        &mut self,
        id: &Uuid,
        target: &Target,
        step: Step,
        now_ms: u64,
    ) -> Result<Vec<Event>, StepError> {
        let Self {
            groups,
            report_groups,
            files,
            rng,
            ..
        } = self;
        let group = groups.get_mut(id).ok_or(StepError::GroupNotFound)?;
        let targets = targets(group, target)?;
        let mut events = Vec::new();
        for (a, v) in targets {
            let verification = &mut group.applicants[a].verifications[v];
            let was = verification.status;
            match step {
                Step::Begin if was == Status::NotStarted => {
                    verification.status = Status::InProgress;
                    events.push(Event::Started {
                        verification_id: verification.id,
                    });
                }
                Step::Complete if was != Status::Completed => {
                    if was == Status::NotStarted {
                        events.push(Event::Started {
                            verification_id: verification.id,
                        });
                    }
                    verification.status = Status::Completed;
                    verification.reason_completed = "finished".into();
                    events.push(Event::Completed {
                        verification_id: verification.id,
                    });
                    for (report_type, applicant_id) in group.due_reports() {
                        let report_id = next_uuid(rng);
                        let report = Report {
                            id: report_id,
                            report_type,
                            applicant_id,
                            created_at_ms: now_ms,
                            is_expired: false,
                            file: format!("{}-report-{report_id}.pdf", report_type.wire()),
                        };
                        files.insert(
                            report.file.clone(),
                            Bytes::from(report::pdf(group, &report)),
                        );
                        report_groups.insert(report.id, group.id);
                        events.push(Event::ReportReady {
                            report_id: report.id,
                            report_type,
                            applicant_id,
                        });
                        group.reports.push(report);
                    }
                }
                Step::Begin | Step::Complete => {}
            }
        }
        Ok(events)
    }

    /// Expire one report of the group (every report when `None`): `GET /api/v1/reports/{id}`
    /// answers 410 and its PDF is gone.
    pub fn expire_report(&mut self, id: &Uuid, report: Option<Uuid>) -> Result<(), StepError> {
        let group = self.groups.get_mut(id).ok_or(StepError::GroupNotFound)?;
        if group.reports.is_empty() {
            return Err(StepError::NotAllowed("the group has no report yet"));
        }
        if let Some(rid) = report
            && group.report(&rid).is_none()
        {
            return Err(StepError::ReportNotFound);
        }
        for r in group
            .reports
            .iter_mut()
            .filter(|r| report.is_none_or(|rid| rid == r.id))
        {
            r.is_expired = true;
            self.files.remove(&r.file);
        }
        Ok(())
    }
}

/// (applicant index, verification index) of every verification `target` names.
fn targets(group: &ApplicantGroup, target: &Target) -> Result<Vec<(usize, usize)>, StepError> {
    if let Some(aid) = target.applicant
        && !group.applicants.iter().any(|a| a.id == aid)
    {
        return Err(StepError::ApplicantNotFound);
    }
    let found: Vec<(usize, usize)> = group
        .applicants
        .iter()
        .enumerate()
        .filter(|(_, a)| target.applicant.is_none_or(|aid| aid == a.id))
        .flat_map(|(i, a)| {
            a.verifications
                .iter()
                .enumerate()
                .filter(|(_, v)| {
                    target
                        .verification
                        .as_deref()
                        .is_none_or(|name| name == v.wire_name)
                })
                .map(move |(j, _)| (i, j))
        })
        .collect();
    if found.is_empty() {
        return Err(StepError::VerificationNotFound);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payscore::v2::validate::ValidApplicant;

    fn applicant(verifications: &[&str]) -> ValidApplicant {
        ValidApplicant {
            first_name: "A".into(),
            last_name: "B".into(),
            email: "a@b.co".into(),
            phone_number: None,
            verifications: verifications.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    fn store_with(applicants: Vec<ValidApplicant>) -> (ApplicantStore, Uuid) {
        let mut store = ApplicantStore::new(1);
        let request = ValidRequest {
            applicants,
            property: Default::default(),
            decision_maker_display_name: "ACME".into(),
            monthly_rent_cents: Some(250_000),
            webhook_url: None,
            correlation_id: Some("c".into()),
            is_invitation_disabled: false,
        };
        let id = store.insert(request, serde_json::json!({}), 0).id;
        (store, id)
    }

    fn codes(events: &[Event]) -> Vec<&'static str> {
        events.iter().map(Event::code).collect()
    }

    #[test]
    fn the_household_report_waits_for_the_last_applicant_identity_reports_do_not() {
        let both = ["income_verification", "identity_verification"];
        let (mut store, id) = store_with(vec![applicant(&both), applicant(&both)]);
        let first = store.get(&id).expect("stored").applicants[0].id;
        let one = Target {
            applicant: Some(first),
            verification: None,
        };
        let events = store.step(&id, &one, Step::Complete, 1).expect("completes");
        assert_eq!(
            codes(&events),
            [
                "VERIFICATION_STARTED",
                "VERIFICATION_COMPLETED",
                "VERIFICATION_STARTED",
                "VERIFICATION_COMPLETED",
                "REPORT_READY"
            ]
        );
        assert!(matches!(
            events[4],
            Event::ReportReady { report_type: ReportType::Identity, applicant_id: Some(a), .. } if a == first
        ));
        assert_eq!(
            store.get(&id).map(ApplicantGroup::status),
            Some(Status::InProgress)
        );
        let events = store
            .step(&id, &Target::default(), Step::Complete, 2)
            .expect("completes");
        let ready: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Event::ReportReady {
                    report_type,
                    applicant_id,
                    ..
                } => Some((*report_type, applicant_id.is_some())),
                _ => None,
            })
            .collect();
        assert_eq!(
            ready,
            [(ReportType::Income, false), (ReportType::Identity, true)]
        );
        let group = store.get(&id).expect("stored");
        assert_eq!(group.status(), Status::Completed);
        assert_eq!(group.reports.len(), 3);
        let again = store.step(&id, &Target::default(), Step::Complete, 3);
        assert_eq!(again, Ok(vec![]));
    }

    #[test]
    fn a_target_naming_nothing_is_refused_and_expiry_removes_the_pdf() {
        let (mut store, id) = store_with(vec![applicant(&["asset_verification"])]);
        let missing = Target {
            applicant: None,
            verification: Some("identity_verification".into()),
        };
        assert_eq!(
            store.step(&id, &missing, Step::Begin, 1),
            Err(StepError::VerificationNotFound)
        );
        assert_eq!(
            store.expire_report(&id, None),
            Err(StepError::NotAllowed("the group has no report yet"))
        );
        store
            .step(&id, &Target::default(), Step::Complete, 1)
            .expect("completes");
        let report = store.get(&id).expect("stored").reports[0].clone();
        assert_eq!(report.report_type, ReportType::Asset);
        assert!(store.file(&report.file).is_some());
        store.expire_report(&id, Some(report.id)).expect("expired");
        assert!(store.file(&report.file).is_none());
        assert!(store.report(&report.id).is_some_and(|(_, r)| r.is_expired));
    }
}
