//! Turning Entrata's contact data into what Payscore v1 accepts: US states spelled out in
//! full ("No initials") and phone numbers in E.164.

/// The USPS code of a US state, district or territory (`CA`), from its code or its name in any
/// case, as Payscore's v2 examples write it. `None` for anything else.
pub fn state_code(state: &str) -> Option<&'static str> {
    let s = state.trim();
    STATES
        .iter()
        .find(|(code, name)| code.eq_ignore_ascii_case(s) || name.eq_ignore_ascii_case(s))
        .map(|(code, _)| *code)
}

/// The full name of a US state, district or territory, from its USPS code or its name in any
/// case. `None` for anything else.
pub fn state_name(state: &str) -> Option<&'static str> {
    let s = state.trim();
    STATES
        .iter()
        .find(|(code, name)| code.eq_ignore_ascii_case(s) || name.eq_ignore_ascii_case(s))
        .map(|(_, name)| *name)
}

const STATES: &[(&str, &str)] = &[
    ("AL", "Alabama"),
    ("AK", "Alaska"),
    ("AZ", "Arizona"),
    ("AR", "Arkansas"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DE", "Delaware"),
    ("DC", "District of Columbia"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("HI", "Hawaii"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("IA", "Iowa"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("ME", "Maine"),
    ("MD", "Maryland"),
    ("MA", "Massachusetts"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MS", "Mississippi"),
    ("MO", "Missouri"),
    ("MT", "Montana"),
    ("NE", "Nebraska"),
    ("NV", "Nevada"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NY", "New York"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VT", "Vermont"),
    ("VA", "Virginia"),
    ("WA", "Washington"),
    ("WV", "West Virginia"),
    ("WI", "Wisconsin"),
    ("WY", "Wyoming"),
    ("PR", "Puerto Rico"),
    ("GU", "Guam"),
    ("VI", "U.S. Virgin Islands"),
    ("AS", "American Samoa"),
    ("MP", "Northern Mariana Islands"),
];

/// A phone number in E.164 (`+15125550100`), or `None` when it cannot be a valid one.
/// National numbers get `country_code` (the phone's own `countryCode` from Entrata, else
/// `PHONE_DEFAULT_COUNTRY_CODE`). A number of the North American Numbering Plan (country
/// code one) must have ten digits whose area and exchange codes start with 2-9, so
/// `0000000000` and `1234567890` are refused; other countries' numbers must be 7 to 15
/// digits in all (E.164's shortest, Niue's, have 7) and not start with 0.
pub fn e164(raw: &str, country_code: u16) -> Option<String> {
    // A trunk prefix written as "(0)" (`+44 (0)20 …`) is not dialled internationally.
    let trimmed = raw.trim().replace("(0)", "");
    // An extension is not part of the number.
    let main = trimmed.split(['x', 'X', '#']).next().unwrap_or_default();
    let digits: String = main.chars().filter(char::is_ascii_digit).collect();
    let international = main.trim_start().starts_with('+') || main.trim_start().starts_with("00");
    let number = if international {
        digits
            .strip_prefix("00")
            .map(str::to_owned)
            .unwrap_or(digits)
    } else if country_code == 1 {
        match digits.len() {
            10 => format!("1{digits}"),
            11 if digits.starts_with('1') => digits,
            _ => return None,
        }
    } else {
        format!("{country_code}{}", digits.trim_start_matches('0'))
    };
    let valid = match number.strip_prefix('1') {
        // Only NANP's country code starts with 1: NXX NXX XXXX.
        Some(national) => {
            let n = national.as_bytes();
            n.len() == 10 && (b'2'..=b'9').contains(&n[0]) && (b'2'..=b'9').contains(&n[3])
        }
        None => (7..=15).contains(&number.len()) && !number.starts_with('0'),
    };
    valid.then(|| format!("+{number}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_spelled_out() {
        assert_eq!(state_name("TX"), Some("Texas"));
        assert_eq!(state_name(" wa "), Some("Washington"));
        assert_eq!(state_name("new york"), Some("New York"));
        assert_eq!(state_name("ZZ"), None);
    }

    #[test]
    fn local_phone_formats_become_e164() {
        assert_eq!(e164("(512) 555-0100", 1).as_deref(), Some("+15125550100"));
        assert_eq!(e164("512.555.0100 x12", 1).as_deref(), Some("+15125550100"));
        assert_eq!(e164("1-512-555-0100", 1).as_deref(), Some("+15125550100"));
        assert_eq!(
            e164("+44 20 7946 0958", 1).as_deref(),
            Some("+442079460958")
        );
        assert_eq!(e164("555-0100", 1), None);
        assert_eq!(e164("", 1), None);
    }

    #[test]
    fn numbers_that_cannot_be_dialled_are_refused() {
        // NANP: area and exchange codes start with 2-9.
        assert_eq!(e164("0000000000", 1), None);
        assert_eq!(e164("1234567890", 1), None);
        assert_eq!(e164("(512) 155-0100", 1), None);
        assert_eq!(e164("+1 012 555 0100", 44), None);
        assert_eq!(e164("+0044", 1), None);
        assert_eq!(e164("12", 44), None);
    }

    #[test]
    fn a_trunk_prefix_in_brackets_is_dropped() {
        assert_eq!(
            e164("+44 (0)20 7946 0958", 1).as_deref(),
            Some("+442079460958")
        );
        assert_eq!(e164("+683 4002", 1).as_deref(), Some("+6834002"));
    }

    #[test]
    fn the_phones_own_country_code_is_honoured() {
        assert_eq!(e164("020 7946 0958", 44).as_deref(), Some("+442079460958"));
        // A number written internationally keeps its own country code.
        assert_eq!(e164("+1 512 555 0100", 44).as_deref(), Some("+15125550100"));
    }
}
