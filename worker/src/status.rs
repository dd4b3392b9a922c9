//! `worker status`: an application's whole journey from the ledger, for an operator asked
//! "what happened to application 500123?".
//!
//! ```text
//! worker status --application 500123 [--property 100001] [--json]
//! worker status --group <screening group id> [--json]
//! ```
//! Prints what the ledger holds about the application (its state, its screening group, its
//! reports and their file names) and every journal entry of it and of its group, oldest first:
//! when the webhook arrived, each delivery's attempt and outcome, the report checks, the
//! upload, or the dead letter and its reason. Ids, states, reasons and times only: the ledger
//! holds no applicant data. Exits 1 when the ledger knows nothing of it.

use crate::ledger::journal::Entry;
use crate::ledger::{Ledger, LedgerError};
use serde::Serialize;
use std::fmt::Write as _;

/// What to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusArgs {
    /// By application id (and optionally property id), or by group id.
    pub subject: Subject,
    /// Print JSON instead of text.
    pub json: bool,
}

/// Whose journey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// An Entrata application.
    Application {
        /// Its id.
        application_id: String,
        /// Its property, when the id alone could be ambiguous.
        property_id: Option<String>,
    },
    /// A Payscore screening group.
    Group(String),
}

/// Bad arguments.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0}\nusage: worker status --application <id> [--property <id>] [--json] | worker status --group <id> [--json]"
)]
pub struct UsageError(String);

impl StatusArgs {
    /// Parse the arguments after `status`.
    pub fn parse(args: &[String]) -> Result<Self, UsageError> {
        let (mut application, mut property, mut group, mut json) = (None, None, None, false);
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .filter(|v| !v.trim().is_empty())
                    .cloned()
                    .ok_or_else(|| UsageError(format!("{name} needs a value")))
            };
            match arg.as_str() {
                "--application" => application = Some(value("--application")?),
                "--property" => property = Some(value("--property")?),
                "--group" => group = Some(value("--group")?),
                "--json" => json = true,
                other => return Err(UsageError(format!("unknown argument {other:?}"))),
            }
        }
        let subject = match (application, group) {
            (Some(application_id), None) => Subject::Application {
                application_id,
                property_id: property,
            },
            (None, Some(group)) if property.is_none() => Subject::Group(group),
            (None, Some(_)) => return Err(UsageError("--property goes with --application".into())),
            (Some(_), Some(_)) => {
                return Err(UsageError("either --application or --group".into()));
            }
            (None, None) => return Err(UsageError("--application or --group is needed".into())),
        };
        Ok(Self { subject, json })
    }
}

/// An application as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplicationSummary {
    /// Entrata property id.
    pub property_id: String,
    /// Entrata application id.
    pub application_id: String,
    /// `received`, `creating` or `created`.
    pub state: String,
    /// The screening group.
    pub group_id: Option<String>,
    /// Creates attempted.
    pub create_attempts: i32,
    /// Its reports: (file name, `uploading` or `uploaded`).
    pub reports: Vec<ReportSummary>,
}

/// A report as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportSummary {
    /// The file name in the applicant file.
    pub file_name: String,
    /// `uploading` (outcome unknown) or `uploaded`.
    pub state: String,
    /// When it was uploaded (Unix ms).
    pub uploaded_at_ms: Option<i64>,
}

/// Everything `worker status` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Journey {
    /// The ledger's rows for the application(s).
    pub applications: Vec<ApplicationSummary>,
    /// Journal entries, oldest first.
    pub events: Vec<Entry>,
}

impl Journey {
    /// Nothing known.
    pub fn is_empty(&self) -> bool {
        self.applications.is_empty() && self.events.is_empty()
    }
}

/// Read the journey from the ledger.
pub async fn journey(ledger: &Ledger, subject: &Subject) -> Result<Journey, LedgerError> {
    let (applications, events) = match subject {
        Subject::Application {
            application_id,
            property_id,
        } => (
            ledger
                .summaries(Some(application_id), property_id.as_deref(), None)
                .await?,
            ledger
                .history_of_application(application_id, property_id.as_deref())
                .await?,
        ),
        Subject::Group(group_id) => (
            ledger.summaries(None, None, Some(group_id)).await?,
            ledger.history_of_group(group_id).await?,
        ),
    };
    Ok(Journey {
        applications,
        events,
    })
}

impl Ledger {
    /// The ledger rows of the applications matching the filters, with their reports.
    async fn summaries(
        &self,
        application_id: Option<&str>,
        property_id: Option<&str>,
        group_id: Option<&str>,
    ) -> Result<Vec<ApplicationSummary>, LedgerError> {
        let rows = self
            .query(
                "status",
                "SELECT property_id, application_id, state, group_id, create_attempts \
                 FROM ledger_applications \
                 WHERE ($1::text IS NULL OR application_id = $1) \
                   AND ($2::text IS NULL OR property_id = $2) \
                   AND ($3::text IS NULL OR group_id = $3) \
                 ORDER BY first_seen_at",
                &[&application_id, &property_id, &group_id],
            )
            .await?;
        let mut summaries = Vec::new();
        for row in rows {
            let group_id: Option<String> = row.get(3);
            let reports = match &group_id {
                Some(group) => self
                    .query(
                        "status",
                        "SELECT file_name, state, (EXTRACT(EPOCH FROM uploaded_at) * 1000)::bigint \
                         FROM ledger_reports WHERE group_id = $1 ORDER BY started_at NULLS FIRST",
                        &[group],
                    )
                    .await?
                    .iter()
                    .map(|r| ReportSummary {
                        file_name: r.get(0),
                        state: r.get(1),
                        uploaded_at_ms: r.get(2),
                    })
                    .collect(),
                None => Vec::new(),
            };
            summaries.push(ApplicationSummary {
                property_id: row.get(0),
                application_id: row.get(1),
                state: row.get(2),
                group_id,
                create_attempts: row.get(4),
                reports,
            });
        }
        Ok(summaries)
    }
}

/// The journey as text, one line per fact.
pub fn render(journey: &Journey) -> String {
    let mut out = String::new();
    for a in &journey.applications {
        let _ = writeln!(
            out,
            "application {} at property {}: {}{} ({} create attempt{})",
            a.application_id,
            a.property_id,
            a.state,
            a.group_id
                .as_ref()
                .map(|g| format!(", screening group {g}"))
                .unwrap_or_default(),
            a.create_attempts,
            if a.create_attempts == 1 { "" } else { "s" },
        );
        for r in &a.reports {
            let when = r.uploaded_at_ms.map(timestamp).unwrap_or_default();
            let _ = writeln!(out, "  report {}: {} {when}", r.file_name, r.state);
        }
    }
    for e in &journey.events {
        let _ = write!(
            out,
            "{}  {:<10} {:<13} attempt {}",
            timestamp(e.at_ms),
            e.queue,
            e.outcome,
            e.attempt
        );
        let what = match (e.kind.as_deref(), e.source.as_deref()) {
            (Some(kind), _) => kind.to_owned(),
            (None, Some(source)) => format!("{source} delivery"),
            (None, None) => "delivery".to_owned(),
        };
        let _ = write!(out, "  {what} {}", e.message_id);
        if let Some(received) = e.received_at_ms {
            let _ = write!(out, " (received {})", timestamp(received));
        }
        if let Some(group) = &e.group_id {
            let _ = write!(out, " group {group}");
        }
        if let Some(reason) = &e.reason {
            let _ = write!(out, " reason {reason}");
        }
        if let Some(name) = &e.file_name {
            let _ = write!(out, " file {name}");
        }
        if let Some(detail) = &e.detail {
            let _ = write!(out, ": {detail}");
        }
        out.push('\n');
    }
    out
}

/// Unix ms as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn timestamp(ms: i64) -> String {
    let (year, month, day) = shared::envelope::utc_date(ms);
    let of_day = ms.rem_euclid(86_400_000);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn arguments_name_an_application_or_a_group() {
        let parsed = StatusArgs::parse(&args(&["--application", "500123", "--json"])).expect("ok");
        assert!(parsed.json);
        assert_eq!(
            parsed.subject,
            Subject::Application {
                application_id: "500123".into(),
                property_id: None
            }
        );
        let parsed = StatusArgs::parse(&args(&["--group", "g-1"])).expect("ok");
        assert_eq!(parsed.subject, Subject::Group("g-1".into()));
        assert!(StatusArgs::parse(&args(&[])).is_err());
        assert!(StatusArgs::parse(&args(&["--application"])).is_err());
        assert!(StatusArgs::parse(&args(&["--application", "1", "--group", "g"])).is_err());
        assert!(StatusArgs::parse(&args(&["--verbose"])).is_err());
    }

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(1_764_607_506_789), "2025-12-01T16:45:06.789Z");
    }
}
