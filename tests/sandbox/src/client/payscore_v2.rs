//! Control helpers for the Payscore simulator's v2 applicant groups.

use super::{ControlClient, ControlClientError, encode};
use crate::core::Simulator::Payscore;
use crate::payscore::{
    ApplicantGroupOutcome, ControlApplicantGroup, ExpireReportRequest, VerificationTarget,
};
use reqwest::Method;

impl ControlClient {
    /// Every v2 applicant group, oldest first.
    pub async fn applicant_groups(&self) -> Result<Vec<ControlApplicantGroup>, ControlClientError> {
        self.json(Method::GET, Payscore, "/applicant_groups", None::<&()>)
            .await
    }

    /// The v2 applicant groups with this correlation id, oldest first.
    pub async fn applicant_groups_by_correlation(
        &self,
        correlation_id: &str,
    ) -> Result<Vec<ControlApplicantGroup>, ControlClientError> {
        let path = format!(
            "/applicant_groups?correlation_id={}",
            encode(correlation_id)
        );
        self.json(Method::GET, Payscore, &path, None::<&()>).await
    }

    /// One v2 applicant group.
    pub async fn applicant_group(
        &self,
        group_id: &str,
    ) -> Result<ControlApplicantGroup, ControlClientError> {
        self.json(
            Method::GET,
            Payscore,
            &format!("/applicant_groups/{group_id}"),
            None::<&()>,
        )
        .await
    }

    async fn applicant_step(
        &self,
        group_id: &str,
        action: &str,
        target: Option<&VerificationTarget>,
    ) -> Result<ApplicantGroupOutcome, ControlClientError> {
        self.json(
            Method::POST,
            Payscore,
            &format!("/applicant_groups/{group_id}/{action}"),
            Some(target.unwrap_or(&VerificationTarget::default())),
        )
        .await
    }

    /// Verifications begin (`VERIFICATION_STARTED` each): those `target` names, every one
    /// of the group when `None`.
    pub async fn begin_applicant_group(
        &self,
        group_id: &str,
        target: Option<&VerificationTarget>,
    ) -> Result<ApplicantGroupOutcome, ControlClientError> {
        self.applicant_step(group_id, "begin", target).await
    }

    /// Verifications complete (`VERIFICATION_COMPLETED` each, then `REPORT_READY` for every
    /// report that became available): those `target` names, every one when `None`.
    pub async fn complete_applicant_group(
        &self,
        group_id: &str,
        target: Option<&VerificationTarget>,
    ) -> Result<ApplicantGroupOutcome, ControlClientError> {
        self.applicant_step(group_id, "complete", target).await
    }

    /// A report of the group expires (every report when `None`): `GET /api/v1/reports/{id}`
    /// answers 410 from now on.
    pub async fn expire_applicant_group_report(
        &self,
        group_id: &str,
        report_id: Option<&str>,
    ) -> Result<ApplicantGroupOutcome, ControlClientError> {
        let body = ExpireReportRequest {
            report_id: report_id.map(str::to_owned),
        };
        self.json(
            Method::POST,
            Payscore,
            &format!("/applicant_groups/{group_id}/expire_report"),
            Some(&body),
        )
        .await
    }
}
