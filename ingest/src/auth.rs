//! Who may deliver: Entrata credentials and source addresses, Payscore signatures.
//!
//! Secrets are compared in constant time by comparing SHA-256 digests, which also hides
//! their length. Nothing here logs a credential or a signature.

use crate::config::EntrataAuthConfig;
use axum::http::HeaderMap;
use base64::Engine;
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use sha2::{Digest, Sha256};
use shared::config::Secret;
use std::net::IpAddr;
use subtle::ConstantTimeEq;

/// Why a delivery was refused. Each one answers 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No credentials at all.
    #[error("no credentials")]
    Missing,
    /// Credentials that do not match.
    #[error("wrong credentials")]
    Wrong,
    /// The source address is not on the allow-list.
    #[error("source address not allowed")]
    AddressNotAllowed,
    /// No `Verification-Signature` header.
    #[error("missing signature")]
    MissingSignature,
    /// A signature that does not match the body.
    #[error("invalid signature")]
    BadSignature,
    /// The same credential header more than once: which one counts would be a guess.
    #[error("credential header repeated")]
    Repeated,
}

/// Refuse a request that carries any of `names` more than once.
fn once(headers: &HeaderMap, names: &[&str]) -> Result<(), Refusal> {
    if names
        .iter()
        .any(|name| headers.get_all(*name).iter().nth(1).is_some())
    {
        return Err(Refusal::Repeated);
    }
    Ok(())
}

/// The address a request comes from: the peer, or, when the peer is a trusted proxy, the
/// right-most address in `X-Forwarded-For` that is not a trusted proxy itself.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpNet]) -> IpAddr {
    let trusted = |ip: &IpAddr| trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|item| item.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|ip| !trusted(ip))
        .or(forwarded.first())
        .copied()
        .unwrap_or(peer)
}

/// Check an Entrata delivery's source address and credentials.
pub fn check_entrata(
    config: &EntrataAuthConfig,
    client: IpAddr,
    headers: &HeaderMap,
    query_token: Option<&str>,
) -> Result<(), Refusal> {
    if !config.allowed_ips.is_empty() && !config.allowed_ips.iter().any(|n| n.contains(&client)) {
        return Err(Refusal::AddressNotAllowed);
    }
    if config.explicitly_open {
        return Ok(());
    }
    once(headers, &["authorization", "x-webhook-token"])?;
    // Every configured credential the request presents must be right, and one must be
    // presented: a wrong one beside a right one is refused (someone is guessing).
    let (mut right, mut wrong) = (false, false);
    if let (Some((user, password)), Some((u, p))) = (&config.basic, basic_credentials(headers)) {
        let user_ok = equal(user.as_bytes(), u.as_bytes());
        let password_ok = equal(password.expose().as_bytes(), p.as_bytes());
        if user_ok & password_ok {
            right = true;
        } else {
            wrong = true;
        }
    }
    if let Some(token) = &config.token {
        let header = headers.get("x-webhook-token").and_then(|v| v.to_str().ok());
        for candidate in [header, query_token].into_iter().flatten() {
            if equal(token.expose().as_bytes(), candidate.as_bytes()) {
                right = true;
            } else {
                wrong = true;
            }
        }
    }
    match (right, wrong) {
        (_, true) => Err(Refusal::Wrong),
        (true, false) => Ok(()),
        (false, false) => Err(Refusal::Missing),
    }
}

/// Check Payscore's `Verification-Signature`: hex HMAC-SHA256 of the raw body, either case.
pub fn check_payscore(secret: &Secret, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
    once(headers, &["verification-signature"])?;
    let header = headers
        .get("verification-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or(Refusal::MissingSignature)?;
    let signature = hex::decode(header).map_err(|_| Refusal::BadSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&signature)
        .map_err(|_| Refusal::BadSignature)
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn equal(expected: &[u8], presented: &[u8]) -> bool {
    Sha256::digest(expected)
        .ct_eq(&Sha256::digest(presented))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn config() -> EntrataAuthConfig {
        EntrataAuthConfig {
            basic: Some(("entrata".into(), Secret::new("pw"))),
            token: Some(Secret::new("tok")),
            allowed_ips: vec![],
            trusted_proxies: vec!["10.0.0.0/8".parse().expect("cidr")],
            explicitly_open: false,
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn basic_or_token_is_enough() {
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("entrata:pw")
        );
        assert_eq!(
            check_entrata(
                &config(),
                LOCAL,
                &headers(&[("authorization", &basic)]),
                None
            ),
            Ok(())
        );
        assert_eq!(
            check_entrata(
                &config(),
                LOCAL,
                &headers(&[("x-webhook-token", "tok")]),
                None
            ),
            Ok(())
        );
        assert_eq!(
            check_entrata(&config(), LOCAL, &HeaderMap::new(), Some("tok")),
            Ok(())
        );
        assert_eq!(
            check_entrata(&config(), LOCAL, &HeaderMap::new(), None),
            Err(Refusal::Missing)
        );
        assert_eq!(
            check_entrata(
                &config(),
                LOCAL,
                &headers(&[("x-webhook-token", "nope")]),
                None
            ),
            Err(Refusal::Wrong)
        );
    }

    #[test]
    fn a_wrong_credential_beside_a_right_one_is_refused() {
        let basic = |password: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("entrata:{password}"))
            )
        };
        let wrong_basic = basic("guess");
        let right_basic = basic("pw");
        for (headers, query) in [
            (headers(&[("x-webhook-token", "nope")]), Some("tok")),
            (headers(&[("x-webhook-token", "tok")]), Some("nope")),
            (
                headers(&[("authorization", &wrong_basic), ("x-webhook-token", "tok")]),
                None,
            ),
            (headers(&[("authorization", &right_basic)]), Some("nope")),
        ] {
            assert_eq!(
                check_entrata(&config(), LOCAL, &headers, query),
                Err(Refusal::Wrong),
                "{headers:?} {query:?}"
            );
        }
        // Both right: accepted.
        assert_eq!(
            check_entrata(
                &config(),
                LOCAL,
                &headers(&[("authorization", &right_basic), ("x-webhook-token", "tok")]),
                Some("tok")
            ),
            Ok(())
        );
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9, 10.1.1.1")]);
        let proxies = config().trusted_proxies;
        assert_eq!(
            client_ip("10.2.2.2".parse().expect("ip"), &h, &proxies),
            "203.0.113.9".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(client_ip(LOCAL, &h, &proxies), LOCAL);
    }

    #[test]
    fn signatures_verify_in_either_hex_case() {
        let secret = Secret::new("k");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"k").expect("key");
        mac.update(b"body");
        let sig = hex::encode(mac.finalize().into_bytes());
        for s in [sig.clone(), sig.to_uppercase()] {
            assert_eq!(
                check_payscore(
                    &secret,
                    &headers(&[("verification-signature", &s)]),
                    b"body"
                ),
                Ok(())
            );
        }
        assert_eq!(
            check_payscore(
                &secret,
                &headers(&[("verification-signature", &sig)]),
                b"other"
            ),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            check_payscore(&secret, &HeaderMap::new(), b"body"),
            Err(Refusal::MissingSignature)
        );
        // A signature of the wrong length or not hex at all.
        for bad in [&sig[..32], "zz", &format!("{sig}00")] {
            assert_eq!(
                check_payscore(
                    &secret,
                    &headers(&[("verification-signature", bad)]),
                    b"body"
                ),
                Err(Refusal::BadSignature)
            );
        }
    }

    #[test]
    fn a_repeated_credential_header_is_refused_whichever_copy_is_right() {
        for pairs in [
            [("x-webhook-token", "tok"), ("x-webhook-token", "nope")],
            [("x-webhook-token", "nope"), ("x-webhook-token", "tok")],
        ] {
            assert_eq!(
                check_entrata(&config(), LOCAL, &headers(&pairs), None),
                Err(Refusal::Repeated)
            );
        }
        assert_eq!(
            check_payscore(
                &Secret::new("k"),
                &headers(&[
                    ("verification-signature", "00"),
                    ("verification-signature", "00")
                ]),
                b"body"
            ),
            Err(Refusal::Repeated)
        );
    }
}
