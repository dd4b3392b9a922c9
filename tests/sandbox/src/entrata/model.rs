//! The Entrata objects the simulator keeps: properties, applications (a lead with its
//! applicant lease), customers and uploaded documents, plus their control views.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// A property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    /// `PropertyID`.
    pub id: u64,
    /// `MarketingName`.
    pub name: String,
    /// Street line.
    pub street: String,
    /// City.
    pub city: String,
    /// Two-letter code (`StateCode`).
    pub state_code: String,
    /// What `Address.State` shows: the code for some properties, the full name for others.
    pub state: String,
    /// ZIP code.
    pub postal_code: String,
    /// Whether this property's id is rendered as a JSON string (the quirk).
    pub id_as_string: bool,
}

/// One person on an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// Customer (applicant) id.
    pub id: u64,
    /// `Primary`, `Co-Applicant`, `Guarantor` or `Occupant`.
    pub customer_type: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email; `None` when the applicant gave none.
    pub email: Option<String>,
    /// Phone in a local format such as `(512) 555-0142`.
    pub phone: Option<String>,
    /// `mobile`, `personal` or `work`.
    pub phone_type: String,
    /// The phone's `countryCode` in the lease (`None`: `"1"`).
    #[serde(default)]
    pub phone_country_code: Option<String>,
    /// A work number besides `phone`: first in the lease's `phones.phone[]`, and the lead's
    /// `officePhoneNumber`.
    #[serde(default)]
    pub work_phone: Option<String>,
}

impl Customer {
    /// The `countryCode` of this customer's phones.
    pub fn country_code(&self) -> &str {
        self.phone_country_code.as_deref().unwrap_or("1")
    }
}

/// A submitted application (in Entrata: a lead and an applicant-status lease).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Application id (also the lead id in `getLeads`, unless
    /// [`crate::config::EntrataConfig::lead_ids_are_application_ids`] is off).
    pub application_id: u64,
    /// Property.
    pub property_id: u64,
    /// The applicant lease; `0` while the application has no lease yet (a lead only).
    pub lease_id: u64,
    /// Its lease interval; `0` without a lease.
    pub lease_interval_id: u64,
    /// Unit id.
    pub unit_id: u64,
    /// Unit number, e.g. `1204`.
    pub unit_number: String,
    /// Monthly base rent as Entrata writes money: `"1650.00"`; empty when there is none
    /// (no base charge in the lease, empty rents in the lead).
    pub rent: String,
    /// Other monthly and one-time charges `(chargeCode, usage, frequency, amount)`.
    pub other_charges: Vec<(String, String, String, String)>,
    /// Applicants, primary first.
    pub customers: Vec<Customer>,
    /// `MM/DD/YYYY` submission date.
    pub created_on: String,
    /// `MM/DD/YYYY` expected move-in.
    pub move_in_date: String,
}

impl Application {
    /// The applicant lease, when the application has one.
    pub fn lease(&self) -> Option<u64> {
        (self.lease_id != 0).then_some(self.lease_id)
    }

    /// The lead id `getLeads` shows and filters on: the application id, or, when leads have
    /// their own ids, the application id plus [`OWN_LEAD_ID_OFFSET`].
    pub fn lead_id(&self, lead_ids_are_application_ids: bool) -> u64 {
        if lead_ids_are_application_ids {
            self.application_id
        } else {
            self.application_id + OWN_LEAD_ID_OFFSET
        }
    }
}

/// What separates a lead's own id from its application id (when they differ).
pub const OWN_LEAD_ID_OFFSET: u64 = 700_000;

/// A document stored by `sendLeaseDocuments`.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Entrata's file id.
    pub file_id: u64,
    /// Application it landed in.
    pub application_id: u64,
    /// Lease (`0` when the application had no lease).
    pub lease_id: u64,
    /// Property.
    pub property_id: u64,
    /// The multipart part name (`file1`, …).
    pub part_name: String,
    /// `fileName` of the request entry.
    pub file_name: String,
    /// Part content type.
    pub content_type: Option<String>,
    /// `leaseFileType` system code, e.g. `SR`.
    pub lease_file_type: Option<String>,
    /// `fileTypeId`.
    pub file_type_id: Option<String>,
    /// `isShowInResidentPortal`.
    pub show_in_portal: bool,
    /// `customerIds`.
    pub customer_ids: Option<String>,
    /// The bytes.
    pub bytes: Bytes,
    /// Unix milliseconds.
    pub uploaded_at_ms: u64,
    /// `Success` or `Failed`.
    pub status: String,
    /// The per-file message.
    pub message: String,
}

/// An upload as `GET /_control/applications/{id}/uploads` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// File id.
    pub file_id: u64,
    /// Application.
    pub application_id: u64,
    /// Lease.
    pub lease_id: u64,
    /// Property.
    pub property_id: u64,
    /// Multipart part name.
    pub part_name: String,
    /// File name.
    pub file_name: String,
    /// Part content type.
    pub content_type: Option<String>,
    /// `leaseFileType`.
    pub lease_file_type: Option<String>,
    /// `fileTypeId`.
    pub file_type_id: Option<String>,
    /// `isShowInResidentPortal` as a boolean.
    pub show_in_portal: bool,
    /// `customerIds`.
    pub customer_ids: Option<String>,
    /// Size in bytes.
    pub size: usize,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// The bytes, base64 (standard alphabet).
    pub content_base64: String,
    /// Unix milliseconds.
    pub uploaded_at_ms: u64,
    /// `Success` or `Failed`.
    pub status: String,
    /// Per-file message.
    pub message: String,
}

impl Upload {
    /// The control view.
    pub fn record(&self) -> UploadRecord {
        use base64::Engine;
        use sha2::Digest;
        UploadRecord {
            file_id: self.file_id,
            application_id: self.application_id,
            lease_id: self.lease_id,
            property_id: self.property_id,
            part_name: self.part_name.clone(),
            file_name: self.file_name.clone(),
            content_type: self.content_type.clone(),
            lease_file_type: self.lease_file_type.clone(),
            file_type_id: self.file_type_id.clone(),
            show_in_portal: self.show_in_portal,
            customer_ids: self.customer_ids.clone(),
            size: self.bytes.len(),
            sha256: hex::encode(sha2::Sha256::digest(&self.bytes)),
            content_base64: base64::engine::general_purpose::STANDARD.encode(&self.bytes),
            uploaded_at_ms: self.uploaded_at_ms,
            status: self.status.clone(),
            message: self.message.clone(),
        }
    }
}
