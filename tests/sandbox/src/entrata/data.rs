//! The Entrata simulator's data: seeded properties and applications, applications added by
//! "submit application", and the documents uploaded to each application.

use super::model::{Application, Property, Upload};
use super::seed::{Generator, Shape};
use crate::pdf;
use bytes::Bytes;
use std::collections::{BTreeMap, HashMap};

/// Everything the Entrata simulator stores.
#[derive(Debug)]
pub struct Data {
    /// Properties, by id order.
    pub properties: Vec<Property>,
    /// Applications by application id.
    pub applications: BTreeMap<u64, Application>,
    by_lease: HashMap<u64, u64>,
    /// Documents per application id, in upload order.
    pub uploads: BTreeMap<u64, Vec<Upload>>,
    generator: Generator,
    next_file_id: u64,
}

impl Data {
    /// For tests: one property (100001) holding one application of `shape`.
    #[cfg(test)]
    pub fn one_application(shape: &Shape) -> (Self, Application) {
        let mut data = Self::seeded(1, 1, 0);
        let app = data
            .add_application(100_001, shape)
            .cloned()
            .expect("the seeded property takes it");
        (data, app)
    }

    /// `properties` properties with `per_property` applications each, from `seed`.
    pub fn seeded(seed: u64, properties: u32, per_property: u32) -> Self {
        let mut generator = Generator::new(seed);
        let properties: Vec<Property> = (0..u64::from(properties))
            .map(|i| generator.property(i))
            .collect();
        let mut data = Self {
            properties,
            applications: BTreeMap::new(),
            by_lease: HashMap::new(),
            uploads: BTreeMap::new(),
            generator,
            next_file_id: 4_000_000,
        };
        let ids: Vec<u64> = data.properties.iter().map(|p| p.id).collect();
        for property_id in ids {
            for _ in 0..per_property {
                let Some(app) = data.add_application(property_id, &Shape::default()) else {
                    continue;
                };
                let (application_id, lease_id) = (app.application_id, app.lease_id);
                // Every seeded application file already holds its application form.
                let bytes = pdf::render(
                    "Rental application",
                    &[format!("Application {application_id}")],
                );
                let file_id = data.next_file_id();
                data.uploads
                    .entry(application_id)
                    .or_default()
                    .push(Upload {
                        file_id,
                        application_id,
                        lease_id,
                        property_id,
                        part_name: "file1".into(),
                        file_name: format!("Application-{application_id}.pdf"),
                        content_type: Some("application/pdf".into()),
                        lease_file_type: Some("APP".into()),
                        file_type_id: None,
                        show_in_portal: true,
                        customer_ids: None,
                        bytes: Bytes::from(bytes),
                        uploaded_at_ms: 0,
                        status: "Success".into(),
                        message: "File uploaded successfully.".into(),
                    });
            }
        }
        data
    }

    /// The property with this id.
    pub fn property(&self, id: u64) -> Option<&Property> {
        self.properties.iter().find(|p| p.id == id)
    }

    /// A new application at `property_id` (`None` when the property does not exist).
    pub fn add_application(&mut self, property_id: u64, shape: &Shape) -> Option<&Application> {
        let property = self.property(property_id)?.clone();
        let app = self.generator.application(&property, shape);
        let id = app.application_id;
        if let Some(lease_id) = app.lease() {
            self.by_lease.insert(lease_id, id);
        }
        Some(self.applications.entry(id).or_insert(app))
    }

    /// The application of a lease.
    pub fn by_lease(&self, lease_id: u64) -> Option<&Application> {
        self.by_lease
            .get(&lease_id)
            .and_then(|id| self.applications.get(id))
    }

    /// The application a customer (applicant) belongs to.
    pub fn by_customer(&self, customer_id: u64) -> Option<&Application> {
        self.applications
            .values()
            .find(|a| a.customers.iter().any(|c| c.id == customer_id))
    }

    /// A fresh file id.
    pub fn next_file_id(&mut self) -> u64 {
        self.next_file_id += 1;
        self.next_file_id
    }
}
