//! Deterministic Entrata data from a seed: properties (some with two-letter states),
//! applications with one to four customers of the documented types, some without email,
//! phones in local formats, rents as `"1650.00"` strings. The same seed always gives the
//! same data and the same ids.

use super::model::{Application, Customer, Property};
use crate::states;

const FIRST: &[&str] = &[
    "Ava", "Liam", "Mia", "Noah", "Zoe", "Ethan", "Ivy", "Lucas", "Nora", "Owen", "Ruby", "Mateo",
    "Chloe", "Elias", "Hazel", "Kai", "Luna", "Jonah", "Maya", "Theo",
];
const LAST: &[&str] = &[
    "Garcia", "Nguyen", "Smith", "Patel", "Johnson", "Kim", "Lopez", "Brown", "Okafor", "Rossi",
    "Cohen", "Silva", "Walker", "Murphy", "Haddad", "Tanaka",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("Austin", "TX", "787"),
    ("Denver", "CO", "802"),
    ("Seattle", "WA", "981"),
    ("Phoenix", "AZ", "850"),
    ("Atlanta", "GA", "303"),
    ("Salt Lake City", "UT", "841"),
    ("Charlotte", "NC", "282"),
    ("Columbus", "OH", "432"),
];
const STREETS: &[&str] = &[
    "Lakeshore Dr",
    "Maple Ave",
    "Cedar St",
    "Riverside Blvd",
    "Sunset Way",
    "Pine Ridge Rd",
];
const NAMES: &[&str] = &[
    "Maple Court",
    "The Residences at Cedar",
    "Riverside Lofts",
    "Sunset Commons",
    "Pine Ridge Apartments",
    "Harbor View",
];
/// Phone types as Entrata spells them (`phones.phone[].phoneType`).
pub const PHONE_TYPES: &[&str] = &["mobile", "personal", "work"];
/// Customer types as Entrata spells them.
pub const CUSTOMER_TYPES: &[&str] = &["Primary", "Co-Applicant", "Guarantor", "Occupant"];

/// Ids are allocated from these bases.
const PROPERTY_BASE: u64 = 100_000;
const APPLICATION_BASE: u64 = 500_000;
const LEASE_BASE: u64 = 700_000;
const CUSTOMER_BASE: u64 = 900_000;

/// What a generated application should look like; unset fields are drawn from the seed.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    /// Number of customers (1–4).
    pub applicants: Option<usize>,
    /// Explicit customer types, primary first.
    pub customer_types: Option<Vec<String>>,
    /// No customer has an email.
    pub without_email: bool,
    /// Every customer has an email (none is left out at random).
    pub every_email: bool,
    /// The primary's email is this one.
    pub primary_email: Option<String>,
    /// Base rent, e.g. `"1650.00"`.
    pub rent: Option<String>,
    /// The last customer has no first name (as Entrata allows on a guest card).
    pub last_without_first_name: bool,
    /// A lead without an applicant lease yet (`lease_id` 0).
    pub without_lease: bool,
    /// No base rent at all (`rent` empty); wins over `rent`.
    pub without_rent: bool,
    /// Every customer has this phone number, exactly as given.
    pub phone: Option<String>,
    /// Every customer's phone type: `mobile`, `personal` or `work`.
    pub phone_type: Option<String>,
    /// Every customer's phone `countryCode` (default `"1"`).
    pub phone_country_code: Option<String>,
    /// Every customer also has this work number.
    pub work_phone: Option<String>,
}

/// The id allocator and random source.
#[derive(Debug)]
pub struct Generator {
    rng: fastrand::Rng,
    applications: u64,
    customers: u64,
}

impl Generator {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(seed),
            applications: 0,
            customers: 0,
        }
    }

    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.rng.usize(..items.len())]
    }

    /// The `index`-th property (from 0).
    pub fn property(&mut self, index: u64) -> Property {
        let (city, code, zip) = CITIES[self.rng.usize(..CITIES.len())];
        let full = states::full_name(code).unwrap_or(code);
        Property {
            id: PROPERTY_BASE + index + 1,
            name: NAMES[index as usize % NAMES.len()].to_owned(),
            street: format!("{} {}", self.rng.u32(100..9900), self.pick(STREETS)),
            city: city.to_owned(),
            state_code: code.to_owned(),
            // Odd properties show the code where a name is expected, as some Entrata data does.
            state: if index % 2 == 1 { code } else { full }.to_owned(),
            postal_code: format!("{zip}{:02}", self.rng.u32(1..99)),
            id_as_string: index % 3 == 1,
        }
    }

    /// A new application at `property`.
    pub fn application(&mut self, property: &Property, shape: &Shape) -> Application {
        self.applications += 1;
        let n = self.applications;
        let types: Vec<String> = match &shape.customer_types {
            Some(types) if !types.is_empty() => types.clone(),
            _ => {
                let count = shape
                    .applicants
                    .unwrap_or_else(|| self.rng.usize(1..=4))
                    .clamp(1, 4);
                let mut types = vec!["Primary".to_owned()];
                for _ in 1..count {
                    let others = &CUSTOMER_TYPES[1..];
                    types.push(others[self.rng.usize(..others.len())].to_owned());
                }
                types
            }
        };
        let mut customers: Vec<Customer> = types
            .into_iter()
            .enumerate()
            .map(|(i, customer_type)| self.customer(customer_type, i == 0, shape))
            .collect();
        if shape.last_without_first_name
            && let Some(last) = customers.last_mut()
        {
            last.first_name = String::new();
        }
        let dollars = self.rng.u32(180..700) * 5;
        let cents = if self.rng.u8(..10) == 0 { 50 } else { 0 };
        let mut other_charges = Vec::new();
        if self.rng.bool() {
            other_charges.push((
                "Pet Rent".into(),
                "Add-On".into(),
                "Monthly".into(),
                "35.00".into(),
            ));
        }
        other_charges.push((
            "Admin Fee".into(),
            "Special".into(),
            "Once".into(),
            "150.00".into(),
        ));
        let (lease_id, lease_interval_id) = if shape.without_lease {
            (0, 0)
        } else {
            (LEASE_BASE + n, LEASE_BASE + 50_000 + n)
        };
        let drawn_rent = format!("{dollars}.{cents:02}");
        Application {
            application_id: APPLICATION_BASE + n,
            property_id: property.id,
            lease_id,
            lease_interval_id,
            unit_id: 300_000 + n,
            unit_number: if self.rng.u8(..5) == 0 {
                format!("B-{}", self.rng.u32(1..40))
            } else {
                format!("{}{:02}", self.rng.u32(1..15), self.rng.u32(1..30))
            },
            rent: if shape.without_rent {
                String::new()
            } else {
                shape.rent.clone().unwrap_or(drawn_rent)
            },
            other_charges,
            customers,
            created_on: format!(
                "{:02}/{:02}/2026",
                self.rng.u32(1..=12),
                self.rng.u32(1..=28)
            ),
            move_in_date: format!("{:02}/01/2027", self.rng.u32(1..=12)),
        }
    }

    fn customer(&mut self, customer_type: String, primary: bool, shape: &Shape) -> Customer {
        self.customers += 1;
        let first = self.pick(FIRST).to_owned();
        let last = self.pick(LAST).to_owned();
        let roll = self.rng.u8(..100);
        let email = if shape.without_email {
            None
        } else if primary && shape.primary_email.is_some() {
            shape.primary_email.clone()
        } else if !shape.every_email && ((customer_type == "Occupant" && roll < 50) || roll < 8) {
            None
        } else {
            Some(format!(
                "{}.{}{}@example.com",
                first.to_lowercase(),
                last.to_lowercase(),
                self.customers
            ))
        };
        // Drawn whatever the shape says, so that the rest of the data stays the same.
        let phone = (!roll.is_multiple_of(10)).then(|| self.phone());
        let phone_type = PHONE_TYPES[self.rng.usize(..PHONE_TYPES.len())];
        Customer {
            id: CUSTOMER_BASE + self.customers,
            customer_type,
            phone: shape.phone.clone().or(phone),
            phone_type: shape
                .phone_type
                .clone()
                .unwrap_or_else(|| phone_type.to_owned()),
            phone_country_code: shape.phone_country_code.clone(),
            work_phone: shape.work_phone.clone(),
            first_name: first,
            last_name: last,
            email,
        }
    }

    /// A fictional 555-01xx number in one of the local formats people type.
    fn phone(&mut self) -> String {
        let area = [512, 303, 206, 602, 404, 801][self.rng.usize(..6)];
        let line = self.rng.u32(100..200);
        match self.rng.u8(..6) {
            0 => format!("({area}) 555-0{line}"),
            1 => format!("{area}-555-0{line}"),
            2 => format!("{area}.555.0{line}"),
            3 => format!("{area}5550{line}"),
            4 => format!("+1 {area} 555 0{line}"),
            _ => format!("1-{area}-555-0{line}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let (mut a, mut b) = (Generator::new(7), Generator::new(7));
        let (pa, pb) = (a.property(0), b.property(0));
        assert_eq!(pa, pb);
        let shape = Shape::default();
        assert_eq!(a.application(&pa, &shape), b.application(&pb, &shape));
    }

    #[test]
    fn applications_have_one_to_four_customers_with_a_primary_first() {
        let mut g = Generator::new(3);
        let p = g.property(0);
        for _ in 0..50 {
            let app = g.application(&p, &Shape::default());
            assert!((1..=4).contains(&app.customers.len()));
            assert_eq!(app.customers[0].customer_type, "Primary");
            assert!(app.rent.ends_with(".00") || app.rent.ends_with(".50"));
        }
    }

    #[test]
    fn a_shape_without_email_has_no_email_at_all() {
        let mut g = Generator::new(3);
        let p = g.property(0);
        let shape = Shape {
            applicants: Some(4),
            without_email: true,
            ..Shape::default()
        };
        let app = g.application(&p, &shape);
        assert!(app.customers.iter().all(|c| c.email.is_none()));
    }

    #[test]
    fn shape_options_leave_the_rest_of_the_data_as_the_seed_draws_it() {
        let (mut a, mut b) = (Generator::new(9), Generator::new(9));
        let (pa, pb) = (a.property(0), b.property(0));
        let shape = Shape {
            without_lease: true,
            without_rent: true,
            phone: Some("0000000000".into()),
            phone_type: Some("work".into()),
            phone_country_code: Some("44".into()),
            work_phone: Some("7946 0958".into()),
            ..Shape::default()
        };
        let plain = a.application(&pa, &Shape::default());
        let shaped = b.application(&pb, &shape);
        assert_eq!((shaped.lease(), shaped.lease_interval_id), (None, 0));
        assert_eq!(shaped.rent, "");
        assert!(shaped.customers.iter().all(|c| {
            c.phone.as_deref() == Some("0000000000")
                && c.phone_type == "work"
                && c.country_code() == "44"
                && c.work_phone.as_deref() == Some("7946 0958")
        }));
        let names = |app: &Application| -> Vec<String> {
            app.customers.iter().map(|c| c.last_name.clone()).collect()
        };
        assert_eq!(names(&plain), names(&shaped));
        assert_eq!(plain.unit_number, shaped.unit_number);
        assert_eq!(
            a.application(&pa, &Shape::default()),
            b.application(&pb, &Shape::default())
        );
    }
}
