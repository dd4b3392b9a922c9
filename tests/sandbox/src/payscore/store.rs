//! The screening groups and their life cycle: create, look up, progress (begin, complete,
//! re-open), expiry, and the report files each completion produces.
//!
//! Transitions return the webhook events they cause, in order; the caller delivers them
//! after releasing the lock.

use super::model::{CreateGroupRequest, Group, Screening, Status};
use super::v2::store::ApplicantStore;
use crate::pdf;
use bytes::Bytes;
use std::collections::HashMap;
use uuid::Uuid;

/// A webhook a transition causes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The webhook `code`.
    pub code: &'static str,
    /// The screening it is about (absent for group-level codes).
    pub screening_id: Option<Uuid>,
}

/// A progress step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `not_started → in_progress` (`BEGIN_SCREENING`).
    Begin,
    /// `→ completed` with this `reason_completed` (begins first when needed).
    Complete(String),
    /// `completed → in_progress` (`RE_OPEN_SCREENING`).
    Reopen,
}

/// Why a control transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// No such group.
    #[error("no screening group with this id")]
    GroupNotFound,
    /// No such screening in the group.
    #[error("no screening with this id in the group")]
    ScreeningNotFound,
    /// The transition does not apply in the current state.
    #[error("{0}")]
    NotAllowed(&'static str),
}

/// All groups: the v1 screening groups here, the v2 applicant groups in [`Store::v2`].
#[derive(Debug)]
pub struct Store {
    groups: HashMap<Uuid, Group>,
    order: Vec<Uuid>,
    by_correlation: HashMap<String, Vec<Uuid>>,
    files: HashMap<String, Bytes>,
    rng: fastrand::Rng,
    applicant_groups: ApplicantStore,
}

impl Store {
    /// An empty store whose ids derive from `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            groups: HashMap::new(),
            order: Vec::new(),
            by_correlation: HashMap::new(),
            files: HashMap::new(),
            rng: fastrand::Rng::with_seed(seed ^ 0x5041_5953_434f_5245),
            applicant_groups: ApplicantStore::new(seed),
        }
    }

    /// The v2 applicant groups.
    pub fn v2(&self) -> &ApplicantStore {
        &self.applicant_groups
    }

    /// The v2 applicant groups, for changes.
    pub fn v2_mut(&mut self) -> &mut ApplicantStore {
        &mut self.applicant_groups
    }

    /// Whether a group of either generation has this correlation id.
    pub fn correlation_taken(&self, correlation_id: &str) -> bool {
        !self.find(Some(correlation_id)).is_empty()
            || !self.applicant_groups.find(Some(correlation_id)).is_empty()
    }

    fn uuid(&mut self) -> Uuid {
        uuid::Builder::from_random_bytes(self.rng.u128(..).to_le_bytes()).into_uuid()
    }

    /// Store a validated create request as a new group with every screening `not_started`.
    pub fn insert(&mut self, request: CreateGroupRequest, now_ms: u64) -> &Group {
        let id = self.uuid();
        let applicants = request.applicants.clone().unwrap_or_default();
        let screenings = applicants
            .into_iter()
            .map(|a| Screening {
                id: self.uuid(),
                first_name: a.applicant_first_name.unwrap_or_default(),
                last_name: a.applicant_last_name.unwrap_or_default(),
                email: a.applicant_email.unwrap_or_default(),
                status: Status::NotStarted,
                reason_completed: "not_completed".into(),
            })
            .collect();
        let group = Group {
            id,
            monthly_rent_cents: request.monthly_rent.map(|d| (d * 100.0).round() as i64),
            income_multiplier_threshold: request.income_multiplier_threshold.unwrap_or(2.5),
            request,
            created_at_ms: now_ms,
            screenings,
            is_expired: false,
            is_report_expired: false,
            report_version: 0,
            report_file: None,
        };
        if let Some(correlation) = &group.request.correlation_id {
            self.by_correlation
                .entry(correlation.clone())
                .or_default()
                .push(id);
        }
        self.order.push(id);
        self.groups.entry(id).or_insert(group)
    }

    /// The group with this id.
    pub fn get(&self, id: &Uuid) -> Option<&Group> {
        self.groups.get(id)
    }

    /// Groups with this correlation id (every group when `None`), oldest first.
    pub fn find(&self, correlation_id: Option<&str>) -> Vec<&Group> {
        let ids: &[Uuid] = match correlation_id {
            Some(c) => self.by_correlation.get(c).map_or(&[], Vec::as_slice),
            None => &self.order,
        };
        ids.iter().filter_map(|id| self.groups.get(id)).collect()
    }

    /// The report file with this name (a v1 or a v2 report).
    pub fn file(&self, name: &str) -> Option<Bytes> {
        self.files
            .get(name)
            .cloned()
            .or_else(|| self.applicant_groups.file(name))
    }

    /// Apply `step` to one screening (or to every screening it applies to).
    pub fn step(
        &mut self,
        id: &Uuid,
        screening: Option<Uuid>,
        step: &Step,
        now_ms: u64,
    ) -> Result<Vec<Event>, StepError> {
        let group = self.groups.get_mut(id).ok_or(StepError::GroupNotFound)?;
        if let Some(sid) = screening
            && !group.screenings.iter().any(|s| s.id == sid)
        {
            return Err(StepError::ScreeningNotFound);
        }
        let was = group.status();
        let mut events = Vec::new();
        let targets = group
            .screenings
            .iter_mut()
            .filter(|s| screening.is_none_or(|sid| sid == s.id));
        match step {
            Step::Begin => {
                for s in targets.filter(|s| s.status == Status::NotStarted) {
                    s.status = Status::InProgress;
                    events.push(event("BEGIN_SCREENING", Some(s.id)));
                }
            }
            Step::Complete(reason) => {
                for s in targets.filter(|s| s.status != Status::Completed) {
                    if s.status == Status::NotStarted {
                        events.push(event("BEGIN_SCREENING", Some(s.id)));
                    }
                    s.status = Status::Completed;
                    s.reason_completed = reason.clone();
                    events.push(event("SCREENING_COMPLETED", Some(s.id)));
                }
            }
            Step::Reopen => {
                // Without a screening id, re-open the first completed one, as one applicant would.
                let target = targets
                    .into_iter()
                    .find(|s| s.status == Status::Completed)
                    .ok_or(StepError::NotAllowed("no completed screening to re-open"))?;
                target.status = Status::InProgress;
                events.push(event("RE_OPEN_SCREENING", Some(target.id)));
            }
        }
        if was != Status::Completed && group.status() == Status::Completed {
            group.report_version += 1;
            group.is_report_expired = false;
            let name = format!("report-{}-v{}.pdf", group.id, group.report_version);
            let lines = [
                format!("Screening group {}", group.id),
                format!("Report version {}", group.report_version),
                format!("Completed at {now_ms} (Unix ms)"),
                format!("Applicants: {}", group.screenings.len()),
                format!(
                    "Correlation id: {}",
                    group.request.correlation_id.as_deref().unwrap_or("-")
                ),
            ];
            let bytes = pdf::render("Payscore sandbox income report", &lines);
            self.files.insert(name.clone(), Bytes::from(bytes));
            group.report_file = Some(name);
            events.push(event("SCREENING_GROUP_COMPLETED", None));
        }
        Ok(events)
    }

    /// The report expires: its routes answer 410 from now on.
    pub fn expire_report(&mut self, id: &Uuid) -> Result<Vec<Event>, StepError> {
        let group = self.groups.get_mut(id).ok_or(StepError::GroupNotFound)?;
        let name = group
            .report_file
            .clone()
            .ok_or(StepError::NotAllowed("the group has no report yet"))?;
        group.is_report_expired = true;
        self.files.remove(&name);
        Ok(vec![event("REPORT_EXPIRED", None)])
    }

    /// The request expires (Payscore does this after 14 days without completion).
    pub fn expire_request(&mut self, id: &Uuid) -> Result<(), StepError> {
        let group = self.groups.get_mut(id).ok_or(StepError::GroupNotFound)?;
        group.is_expired = true;
        Ok(())
    }
}

fn event(code: &'static str, screening_id: Option<Uuid>) -> Event {
    Event { code, screening_id }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payscore::model::ApplicantInput;

    fn store_with_group(applicants: usize) -> (Store, Uuid) {
        let mut store = Store::new(1);
        let request = CreateGroupRequest {
            applicants: Some(vec![ApplicantInput::default(); applicants]),
            correlation_id: Some("entrata:1:2".into()),
            monthly_rent: Some(1650.5),
            ..CreateGroupRequest::default()
        };
        let id = store.insert(request, 0).id;
        (store, id)
    }

    #[test]
    fn completing_every_screening_completes_the_group_once_with_a_new_report() {
        let (mut store, id) = store_with_group(2);
        let codes = |events: Vec<Event>| events.into_iter().map(|e| e.code).collect::<Vec<_>>();
        let events = store.step(&id, None, &Step::Complete("finished".into()), 1);
        assert_eq!(
            codes(events.expect("completes")),
            [
                "BEGIN_SCREENING",
                "SCREENING_COMPLETED",
                "BEGIN_SCREENING",
                "SCREENING_COMPLETED",
                "SCREENING_GROUP_COMPLETED"
            ]
        );
        let group = store.get(&id).expect("stored");
        assert_eq!(group.report_version, 1);
        assert_eq!(group.monthly_rent_cents, Some(165050));
        let again = store.step(&id, None, &Step::Complete("finished".into()), 2);
        assert_eq!(again, Ok(vec![]));
    }

    #[test]
    fn reopening_then_completing_again_makes_a_second_report() {
        let (mut store, id) = store_with_group(1);
        let complete = Step::Complete("finished".into());
        store.step(&id, None, &complete, 1).expect("completes");
        let first = store.get(&id).and_then(|g| g.report_file.clone());
        let reopened = store.step(&id, None, &Step::Reopen, 2).expect("re-opens");
        assert_eq!(reopened[0].code, "RE_OPEN_SCREENING");
        assert_eq!(store.get(&id).map(Group::status), Some(Status::InProgress));
        store
            .step(&id, None, &complete, 3)
            .expect("completes again");
        let second = store.get(&id).and_then(|g| g.report_file.clone());
        assert_ne!(first, second);
        let (a, b) = (first.expect("first"), second.expect("second"));
        assert_ne!(store.file(&a), store.file(&b));
    }

    #[test]
    fn groups_are_found_by_correlation_id() {
        let (store, id) = store_with_group(1);
        assert_eq!(store.find(Some("entrata:1:2"))[0].id, id);
        assert!(store.find(Some("entrata:1:3")).is_empty());
    }
}
