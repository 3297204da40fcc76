//! The identity provider's signing key: RSA 2048, generated at start-up, never written to disk.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Key generation failed.
#[derive(Debug, Error)]
pub enum KeyError {
    /// The RSA generator failed (OS RNG).
    #[error("cannot generate the RSA signing key: {0}")]
    Generate(String),
    /// PKCS#1 encoding failed.
    #[error("cannot encode the RSA signing key: {0}")]
    Encode(String),
}

/// Signing and verification keys plus their public JWK parts.
pub struct SigningKeys {
    /// Key id (`kid`), the base64url SHA-256 of the modulus, shortened.
    pub kid: String,
    pub(crate) encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
    n_b64: String,
    e_b64: String,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKeys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKeys {
    /// Generates a fresh RSA-2048 key pair.
    pub fn generate() -> Result<Self, KeyError> {
        // Exactly one jsonwebtoken backend is compiled in; installing it explicitly guards
        // against another crate in the graph enabling a second one.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let key = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        let der = key
            .to_pkcs1_der()
            .map_err(|e| KeyError::Encode(e.to_string()))?;
        let public = key.to_public_key();
        let n = public.n_bytes();
        let e = public.e_bytes();
        let n_b64 = URL_SAFE_NO_PAD.encode(&n);
        let e_b64 = URL_SAFE_NO_PAD.encode(&e);
        let digest = Sha256::digest(&n);
        let kid = URL_SAFE_NO_PAD.encode(&digest[..12]);
        Ok(Self {
            kid,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            decoding: DecodingKey::from_rsa_raw_components(&n, &e),
            n_b64,
            e_b64,
        })
    }

    /// The JWKS document (`{"keys":[...]}`) in Entra's shape.
    pub fn jwks(&self, issuer: &str) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "RSA",
                "use": "sig",
                "alg": "RS256",
                "kid": self.kid,
                "x5t": self.kid,
                "n": self.n_b64,
                "e": self.e_b64,
                "issuer": issuer,
            }]
        })
    }
}
