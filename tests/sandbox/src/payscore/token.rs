//! Bearer tokens from `POST /api/v1/tenants/auth`: JWT-shaped (`header.claims.signature`,
//! HS256 over the first two parts), stateless, so checking one takes no lock.
//!
//! `POST /_control/tokens/expire` invalidates every token issued so far, to test a
//! client's "re-authenticate once on 401".

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// `{"alg":"HS256","typ":"JWT"}`, base64url.
const HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    jti: u64,
    iat: u64,
    exp: u64,
    iat_ms: u64,
    exp_ms: u64,
}

/// Issues and checks tokens.
#[derive(Debug)]
pub struct Tokens {
    key: Vec<u8>,
    ttl: Duration,
    counter: AtomicU64,
    revoked_before_ms: AtomicU64,
}

impl Tokens {
    /// Tokens signed with `key`, valid for `ttl`.
    pub fn new(key: &[u8], ttl: Duration) -> Self {
        Self {
            key: key.to_vec(),
            ttl,
            counter: AtomicU64::new(0),
            revoked_before_ms: AtomicU64::new(0),
        }
    }

    /// A new token for `subject`, issued at `now_ms`.
    pub fn issue(&self, subject: &str, now_ms: u64) -> String {
        let exp_ms = now_ms + self.ttl.as_millis() as u64;
        let claims = Claims {
            sub: subject.to_owned(),
            jti: self.counter.fetch_add(1, Ordering::Relaxed),
            iat: now_ms / 1000,
            exp: exp_ms / 1000,
            iat_ms: now_ms,
            exp_ms,
        };
        let claims = serde_json::to_vec(&claims).expect("claims serialize");
        let unsigned = format!("{HEADER}.{}", URL_SAFE_NO_PAD.encode(claims));
        let signature = URL_SAFE_NO_PAD.encode(self.sign(unsigned.as_bytes()));
        format!("{unsigned}.{signature}")
    }

    /// Whether `token` was issued here, is unexpired at `now_ms` and not revoked.
    pub fn check(&self, token: &str, now_ms: u64) -> bool {
        let Some((unsigned, signature)) = token.rsplit_once('.') else {
            return false;
        };
        let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(unsigned.as_bytes());
        if mac.verify_slice(&signature).is_err() {
            return false;
        }
        let Some(claims) = unsigned
            .split_once('.')
            .and_then(|(_, c)| URL_SAFE_NO_PAD.decode(c).ok())
            .and_then(|c| serde_json::from_slice::<Claims>(&c).ok())
        else {
            return false;
        };
        claims.exp_ms > now_ms && claims.iat_ms >= self.revoked_before_ms.load(Ordering::Relaxed)
    }

    /// Invalidate every token issued before `now_ms` (inclusive of this millisecond).
    pub fn revoke_all(&self, now_ms: u64) {
        self.revoked_before_ms.store(now_ms + 1, Ordering::Relaxed);
    }

    fn sign(&self, data: &[u8]) -> Vec<u8> {
        let mut mac = self.mac();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_valid_until_it_expires() {
        let tokens = Tokens::new(b"k", Duration::from_secs(60));
        let token = tokens.issue("client", 1_000);
        assert!(tokens.check(&token, 1_000));
        assert!(tokens.check(&token, 60_999));
        assert!(!tokens.check(&token, 61_000));
    }

    #[test]
    fn a_tampered_or_foreign_token_is_refused() {
        let tokens = Tokens::new(b"k", Duration::from_secs(60));
        let other = Tokens::new(b"other", Duration::from_secs(60));
        assert!(!tokens.check(&other.issue("client", 0), 1));
        let mut token = tokens.issue("client", 0);
        token.insert(40, 'x');
        assert!(!tokens.check(&token, 1));
        assert!(!tokens.check("garbage", 1));
    }

    #[test]
    fn revoking_invalidates_tokens_issued_before() {
        let tokens = Tokens::new(b"k", Duration::from_secs(60));
        let old = tokens.issue("client", 10);
        tokens.revoke_all(10);
        assert!(!tokens.check(&old, 20));
        assert!(tokens.check(&tokens.issue("client", 20), 20));
    }
}
