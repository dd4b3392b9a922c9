//! Payscore's current ("v2") applicant-group API (reference §10), beside the v1
//! screening-group API: `POST /api/v1/applicant_groups`, the v2 groups in
//! `GET /api/v1/applicant_groups`, `GET /api/v1/applicant_groups/{id}/reports`,
//! `GET /api/v1/reports/{id}`, the `VERIFICATION_STARTED` / `VERIFICATION_COMPLETED` /
//! `REPORT_READY` webhooks, and the `/_control/applicant_groups/...` routes.
//!
//! Reports: one household `income` report per group when any applicant asked for income
//! verification, one household `asset` report likewise, and one `identity` report per
//! applicant who asked for identity verification. A household report becomes available when
//! the last applicant's verification of that kind completes.

pub mod control;
pub mod model;
pub mod progress;
pub mod report;
pub(crate) mod routes;
pub mod store;
pub mod validate;
pub mod views;
