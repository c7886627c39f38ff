//! Password hashing with argon2id (the argon2 crate's defaults: OWASP's recommended
//! parameters). Hashing is CPU-heavy by design, so both calls run off the async threads.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use super::IdentityError;

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 1024;

/// Checks the length rules; returns the reason when they are not met.
pub fn check_rules(password: &str) -> Result<(), IdentityError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(super::invalid(
            "password",
            format!("must be at least {MIN_LENGTH} characters"),
        ));
    }
    if length > MAX_LENGTH {
        return Err(super::invalid(
            "password",
            format!("must be at most {MAX_LENGTH} characters"),
        ));
    }
    Ok(())
}

/// Returns the argon2id PHC string for `password`.
pub async fn hash(password: String) -> Result<String, IdentityError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|_| IdentityError::Hashing)
    })
    .await
    .map_err(|_| IdentityError::Hashing)?
}

/// Whether `password` matches the stored PHC string.
pub async fn verify(phc: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// A valid hash of a random password, verified against when the email is unknown, so that
/// a login for a missing account takes as long as one with a wrong password.
pub async fn decoy_hash() -> String {
    static DECOY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DECOY
        .get_or_init(|| async {
            let mut random = [0u8; 32];
            argon2::password_hash::rand_core::RngCore::fill_bytes(&mut OsRng, &mut random);
            let secret: String = random.iter().map(|b| format!("{b:02x}")).collect();
            hash(secret).await.unwrap_or_default()
        })
        .await
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse".to_string()).await.expect("hash");
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify(phc.clone(), "correct horse".to_string()).await);
        assert!(!verify(phc, "correct horsf".to_string()).await);
    }

    #[tokio::test]
    async fn a_malformed_hash_never_verifies() {
        assert!(!verify("not a phc string".to_string(), "x".to_string()).await);
        assert!(!verify(decoy_hash().await, "meshmart".to_string()).await);
    }

    #[test]
    fn length_rules_name_the_field() {
        let error = check_rules("short").expect_err("too short");
        assert_eq!(error.to_string(), "password: must be at least 8 characters");
        assert!(check_rules("meshmart").is_ok());
    }
}
