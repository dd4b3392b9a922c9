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
//! ```
//! A property that is not listed, or is listed with `enabled = false`, is not enabled.

use serde::Deserialize;
use std::collections::HashMap;

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
            let settings = PropertySettings {
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
