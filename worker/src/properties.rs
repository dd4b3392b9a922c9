//! `PROPERTIES_FILE`: which Entrata properties are enabled, and how each one is screened.
//!
//! ```toml
//! [defaults]
//! decision_maker_display_name = "Acme Residential"
//! is_decision_maker_paying = true
//! income_multiplier_threshold = 2.5
//! invite_customer_types = ["Primary", "Co-Applicant"]
//! document_file_type = "SR"
//!
//! [properties."100234"]
//! decision_maker_display_name = "Maple Court Apartments"
//! income_multiplier_threshold = 3.0
//!
//! [properties."100235"]
//! payscore_api = "v2"                      # Payscore's applicant groups (default "v1")
//! verifications = ["income", "identity"]   # v2 only; default ["income"]
//! property_name = "Birch Lofts"            # v2's property name (default: the display name)
//! ```
//! A property that is not listed, or is listed with `enabled = false`, is not enabled.

use serde::Deserialize;
use std::collections::HashMap;

/// Which generation of Payscore's API a property's new groups are created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayscoreApi {
    /// Screening groups (`/api/v1/screening_groups`), income only.
    #[default]
    V1,
    /// Applicant groups (`/api/v1/applicant_groups`), with verifications per applicant.
    V2,
}

impl PayscoreApi {
    /// `v1` or `v2`.
    pub fn as_str(self) -> &'static str {
        match self {
            PayscoreApi::V1 => "v1",
            PayscoreApi::V2 => "v2",
        }
    }
}

/// A verification a v2 property asks of every invited applicant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verification {
    /// Income (one household report).
    Income,
    /// Identity (one report per applicant).
    Identity,
    /// Assets (one household report).
    Asset,
}

impl Verification {
    /// Every verification, in the order they are named.
    pub const ALL: [Verification; 3] = [
        Verification::Income,
        Verification::Identity,
        Verification::Asset,
    ];

    /// The name used in `PROPERTIES_FILE` and `PAYSCORE_V2_VERIFICATION_TYPES`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verification::Income => "income",
            Verification::Identity => "identity",
            Verification::Asset => "asset",
        }
    }

    /// From its name, without case.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

/// One property's effective settings (its table over `[defaults]`).
#[derive(Debug, Clone, PartialEq)]
pub struct PropertySettings {
    /// Shown to applicants as who asks for the verification.
    pub decision_maker_display_name: String,
    /// Whether the property manager pays for the screening.
    pub is_decision_maker_paying: bool,
    /// Net income to rent threshold; `None` leaves Payscore's default (2.5).
    pub income_multiplier_threshold: Option<f64>,
    /// Entrata `customerType` values invited (compared without case).
    pub invite_customer_types: Vec<String>,
    /// Entrata lease file type of the uploaded report.
    pub document_file_type: String,
    /// The API generation new groups are created with.
    pub payscore_api: PayscoreApi,
    /// What every invited applicant is asked to verify (v2; v1 is income only).
    pub verifications: Vec<Verification>,
    /// The property's name in a v2 group (default: `decision_maker_display_name`).
    pub property_name: String,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    decision_maker_display_name: Option<String>,
    is_decision_maker_paying: Option<bool>,
    income_multiplier_threshold: Option<f64>,
    invite_customer_types: Option<Vec<String>>,
    document_file_type: Option<String>,
    enabled: Option<bool>,
    payscore_api: Option<String>,
    verifications: Option<Vec<String>>,
    property_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    defaults: Table,
    #[serde(default)]
    properties: HashMap<String, Table>,
}

/// The enabled properties.
#[derive(Debug, Clone, Default)]
pub struct Properties {
    enabled: HashMap<String, PropertySettings>,
}

/// Why the file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PropertiesError {
    /// Unreadable.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not valid TOML or unknown keys.
    #[error("{0}")]
    Parse(String),
    /// A property lacks a required setting.
    #[error("property {property}: {problem}")]
    Invalid {
        /// The Entrata property id.
        property: String,
        /// What is wrong.
        problem: String,
    },
}

impl Properties {
    /// Read and validate a file.
    pub fn load(path: &str) -> Result<Self, PropertiesError> {
        let text = std::fs::read_to_string(path).map_err(|source| PropertiesError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parse and validate TOML text.
    pub fn parse(text: &str) -> Result<Self, PropertiesError> {
        let file: File = toml::from_str(text).map_err(|e| PropertiesError::Parse(e.to_string()))?;
        let mut enabled = HashMap::new();
        for (id, table) in file.properties {
            if !table.enabled.or(file.defaults.enabled).unwrap_or(true) {
                continue;
            }
            let invalid = |problem: &str| PropertiesError::Invalid {
                property: id.clone(),
                problem: problem.to_owned(),
            };
            let name: Option<String> = table
                .decision_maker_display_name
                .clone()
                .or_else(|| file.defaults.decision_maker_display_name.clone());
            let name = name.filter(|n| !n.trim().is_empty()).ok_or_else(|| {
                invalid("decision_maker_display_name is required (in [defaults] or the property)")
            })?;
            let threshold = table
                .income_multiplier_threshold
                .or(file.defaults.income_multiplier_threshold);
            if threshold.is_some_and(|t| !(t > 0.0 && t < 100.0)) {
                return Err(invalid(
                    "income_multiplier_threshold must be a positive number",
                ));
            }
            let types = table
                .invite_customer_types
                .clone()
                .or_else(|| file.defaults.invite_customer_types.clone())
                .unwrap_or_else(|| vec!["Primary".to_owned(), "Co-Applicant".to_owned()]);
            if types.is_empty() {
                return Err(invalid("invite_customer_types must not be empty"));
            }
            let api = match table
                .payscore_api
                .as_deref()
                .or(file.defaults.payscore_api.as_deref())
                .map(|a| a.trim().to_ascii_lowercase())
                .as_deref()
            {
                None | Some("v1") => PayscoreApi::V1,
                Some("v2") => PayscoreApi::V2,
                Some(_) => return Err(invalid("payscore_api must be \"v1\" or \"v2\"")),
            };
            let names = table
                .verifications
                .clone()
                .or_else(|| file.defaults.verifications.clone())
                .unwrap_or_else(|| vec!["income".to_owned()]);
            let mut verifications = Vec::new();
            for name in &names {
                let verification = Verification::parse(name).ok_or_else(|| {
                    invalid("verifications may name only \"income\", \"identity\" and \"asset\"")
                })?;
                if !verifications.contains(&verification) {
                    verifications.push(verification);
                }
            }
            if verifications.is_empty() {
                return Err(invalid("verifications must not be empty"));
            }
            if api == PayscoreApi::V1 && verifications != [Verification::Income] {
                return Err(invalid(
                    "identity and asset verification need payscore_api = \"v2\" (v1 verifies income only)",
                ));
            }
            let property_name = table
                .property_name
                .clone()
                .or_else(|| file.defaults.property_name.clone())
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| name.clone());
            let settings = PropertySettings {
                payscore_api: api,
                verifications,
                property_name,
                decision_maker_display_name: name,
                is_decision_maker_paying: table
                    .is_decision_maker_paying
                    .or(file.defaults.is_decision_maker_paying)
                    .unwrap_or(true),
                income_multiplier_threshold: threshold,
                invite_customer_types: types,
                document_file_type: table
                    .document_file_type
                    .clone()
                    .or_else(|| file.defaults.document_file_type.clone())
                    .unwrap_or_else(|| "SR".to_owned()),
            };
            enabled.insert(id.trim().to_owned(), settings);
        }
        Ok(Self { enabled })
    }

    /// The settings of an enabled property.
    pub fn get(&self, property_id: &str) -> Option<&PropertySettings> {
        self.enabled.get(property_id)
    }

    /// The ids of the enabled properties, in no particular order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.enabled.keys().map(String::as_str)
    }

    /// How many properties are enabled.
    pub fn len(&self) -> usize {
        self.enabled.len()
    }

    /// True when no property is enabled.
    pub fn is_empty(&self) -> bool {
        self.enabled.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
        [defaults]
        decision_maker_display_name = "Acme"
        income_multiplier_threshold = 2.5

        [properties."100"]
        income_multiplier_threshold = 3.0
        invite_customer_types = ["Primary", "Co-Applicant", "Guarantor"]

        [properties."200"]
        enabled = false

        [properties."300"]
        decision_maker_display_name = "Maple Court"
        document_file_type = "OTHER"
    "#;

    #[test]
    fn property_tables_override_defaults() {
        let p = Properties::parse(FILE).expect("valid");
        let a = p.get("100").expect("enabled");
        assert_eq!(a.decision_maker_display_name, "Acme");
        assert_eq!(a.income_multiplier_threshold, Some(3.0));
        assert_eq!(a.invite_customer_types.len(), 3);
        assert_eq!(a.document_file_type, "SR");
        let c = p.get("300").expect("enabled");
        assert_eq!(c.decision_maker_display_name, "Maple Court");
        assert_eq!(c.income_multiplier_threshold, Some(2.5));
        assert_eq!(c.invite_customer_types, ["Primary", "Co-Applicant"]);
        assert_eq!(c.document_file_type, "OTHER");
    }

    #[test]
    fn unlisted_and_disabled_properties_are_not_enabled() {
        let p = Properties::parse(FILE).expect("valid");
        assert!(p.get("200").is_none());
        assert!(p.get("999").is_none());
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn a_property_may_ask_for_v2_with_its_verifications_and_v1_stays_income_only() {
        let p = Properties::parse(
            r#"
            [defaults]
            decision_maker_display_name = "Acme"
            [properties."1"]
            [properties."2"]
            payscore_api = "v2"
            verifications = ["Income", "identity", "income"]
            property_name = "Birch Lofts"
            [properties."3"]
            payscore_api = "v2"
            "#,
        )
        .expect("valid");
        let v1 = p.get("1").expect("enabled");
        assert_eq!(v1.payscore_api, PayscoreApi::V1);
        assert_eq!(v1.verifications, [Verification::Income]);
        let v2 = p.get("2").expect("enabled");
        assert_eq!(v2.payscore_api, PayscoreApi::V2);
        assert_eq!(
            v2.verifications,
            [Verification::Income, Verification::Identity],
            "named without case, each once"
        );
        assert_eq!(v2.property_name, "Birch Lofts");
        let plain = p.get("3").expect("enabled");
        assert_eq!(plain.verifications, [Verification::Income]);
        assert_eq!(plain.property_name, "Acme", "the display name by default");
        for bad in [
            "payscore_api = \"v3\"",
            "verifications = [\"credit\"]",
            "verifications = []",
            "verifications = [\"identity\"]",
        ] {
            let text = format!("[properties.\"1\"]\ndecision_maker_display_name = \"A\"\n{bad}");
            assert!(
                matches!(
                    Properties::parse(&text),
                    Err(PropertiesError::Invalid { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_missing_display_name_or_unknown_key_is_an_error() {
        assert!(matches!(
            Properties::parse("[properties.\"1\"]\nis_decision_maker_paying = true"),
            Err(PropertiesError::Invalid { .. })
        ));
        assert!(matches!(
            Properties::parse("[defaults]\ndecision_maker = \"x\""),
            Err(PropertiesError::Parse(_))
        ));
    }
}
