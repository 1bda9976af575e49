//! Object storage for images and print files: a local directory by default,
//! any S3-compatible service by configuration, through the `object_store` crate.
//!
//! Uploads never stream through Cielo's JSON API: an admin asks for a signed
//! upload URL and PUTs the bytes there. For S3 that is a presigned S3 URL; for
//! the local directory it is Cielo's own `/storage/{key}` route with an HMAC
//! signature and an expiry, checked by [`Storage::verify_local`].
#![warn(missing_docs)]

use bytes::Bytes;
use hmac::{Hmac, Mac};
use object_store::{path::Path, signer::Signer, ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;

pub use object_store;

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key is not a safe object key.
    #[error("invalid object key: {0}")]
    InvalidKey(String),
    /// No object at that key.
    #[error("object not found")]
    NotFound,
    /// An object is already stored at that key (a second use of a
    /// single-use upload URL).
    #[error("an object already exists at this key")]
    AlreadyExists,
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] object_store::Error),
}

/// How to reach the objects.
#[derive(Clone)]
enum Backend {
    /// Files under a directory, served and accepted by Cielo itself.
    Local {
        secret: Arc<Vec<u8>>,
        public_url: String,
    },
    /// An S3-compatible service that signs its own URLs.
    S3 {
        s3: Arc<object_store::aws::AmazonS3>,
        settings: Arc<S3Settings>,
    },
}

/// A signed URL.
#[derive(Debug, Clone)]
pub struct SignedUrl {
    /// The URL.
    pub url: String,
    /// HTTP method it allows.
    pub method: &'static str,
    /// Unix time it stops working.
    pub expires_at: i64,
    /// Headers the request must carry exactly as given (they are part of the
    /// signature on S3): an upload sends `If-None-Match: *`, which makes the
    /// bucket refuse a second PUT to the same key with 412.
    pub headers: Vec<(&'static str, &'static str)>,
}

/// The condition that makes an upload URL single-use: create the object only
/// if nothing is stored at its key yet (S3 conditional writes; the local
/// backend enforces the same through [`Storage::put_new`]).
pub const UPLOAD_CONDITION: (&str, &str) = ("If-None-Match", "*");

/// Object storage.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    backend: Backend,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.backend {
            Backend::Local { .. } => "local",
            Backend::S3 { .. } => "s3",
        };
        f.debug_struct("Storage").field("backend", &kind).finish()
    }
}

/// S3 settings (credentials come from the standard `AWS_*` environment variables).
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Region.
    pub region: String,
    /// Endpoint for S3-compatible services (MinIO, R2, an emulator); `None` for AWS.
    pub endpoint: Option<String>,
    /// Public base URL objects are served from (a CDN); presigned GETs otherwise.
    pub public_base_url: Option<String>,
}

/// Checks that a key is relative, has no `..`, and uses safe characters.
pub fn check_key(key: &str) -> Result<(), Error> {
    let ok = !key.is_empty()
        && key.len() <= 500
        && !key.starts_with('/')
        && !key
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidKey(key.to_string()))
    }
}

impl Storage {
    /// Files under `dir`; signed URLs point at `public_url` (the shop) and are
    /// signed with `secret`.
    pub fn local(dir: &std::path::Path, public_url: &str, secret: Vec<u8>) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(|e| object_store::Error::Generic {
            store: "local",
            source: Box::new(e),
        })?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)?;
        Ok(Self {
            store: Arc::new(fs),
            backend: Backend::Local {
                secret: Arc::new(secret),
                public_url: public_url.trim_end_matches('/').to_string(),
            },
        })
    }

    /// An S3-compatible bucket.
    pub fn s3(settings: &S3Settings) -> Result<Self, Error> {
        let mut b = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region);
        if let Some(endpoint) = &settings.endpoint {
            b = b
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        let s3 = Arc::new(b.build()?);
        Ok(Self {
            store: s3.clone(),
            backend: Backend::S3 {
                s3,
                settings: Arc::new(settings.clone()),
            },
        })
    }

    /// The underlying store, for domains that read and write objects.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// True for the local directory backend.
    pub fn is_local(&self) -> bool {
        matches!(self.backend, Backend::Local { .. })
    }

    fn local_signature(secret: &[u8], method: &str, key: &str, expires: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(format!("{method}\n{key}\n{expires}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    async fn signed(
        &self,
        method: &'static str,
        key: &str,
        ttl: Duration,
    ) -> Result<SignedUrl, Error> {
        check_key(key)?;
        let expires_at = cielo_core::Timestamp::now().as_unix_seconds() + ttl.as_secs() as i64;
        let url = match &self.backend {
            Backend::Local { secret, public_url } => {
                let sig = Self::local_signature(secret, method, key, expires_at);
                format!("{public_url}/storage/{key}?expires={expires_at}&signature={sig}")
            }
            Backend::S3 { s3, settings } if method == "PUT" => {
                presign_conditional_put(s3, settings, key, ttl).await?
            }
            Backend::S3 { s3, .. } => s3
                .signed_url(object_store::signer::Method::GET, &Path::from(key), ttl)
                .await?
                .to_string(),
        };
        let headers = if method == "PUT" {
            vec![UPLOAD_CONDITION]
        } else {
            Vec::new()
        };
        Ok(SignedUrl {
            url,
            method,
            expires_at,
            headers,
        })
    }

    /// A URL that accepts one PUT of the object's bytes until it expires.
    pub async fn upload_url(&self, key: &str, ttl: Duration) -> Result<SignedUrl, Error> {
        self.signed("PUT", key, ttl).await
    }

    /// A URL that serves the object until it expires.
    pub async fn download_url(&self, key: &str, ttl: Duration) -> Result<SignedUrl, Error> {
        self.signed("GET", key, ttl).await
    }

    /// Where the public can fetch an object (product images): the shop's
    /// `/media/` route locally, the CDN base when configured, else a week-long
    /// presigned GET.
    pub async fn public_url(&self, key: &str) -> Result<String, Error> {
        check_key(key)?;
        match &self.backend {
            Backend::Local { public_url, .. } => Ok(format!("{public_url}/media/{key}")),
            Backend::S3 { settings, .. } => match &settings.public_base_url {
                Some(base) => Ok(format!("{}/{key}", base.trim_end_matches('/'))),
                None => Ok(self
                    .download_url(key, Duration::from_secs(7 * 24 * 3600))
                    .await?
                    .url),
            },
        }
    }

    /// Checks a local signed URL's signature and expiry, in constant time.
    pub fn verify_local(&self, method: &str, key: &str, expires: i64, signature: &str) -> bool {
        use subtle::ConstantTimeEq;
        let Backend::Local { secret, .. } = &self.backend else {
            return false;
        };
        if check_key(key).is_err() || expires < cielo_core::Timestamp::now().as_unix_seconds() {
            return false;
        }
        let expected = Self::local_signature(secret, method, key, expires);
        expected.as_bytes().ct_eq(signature.as_bytes()).into()
    }

    /// Stores bytes at `key`.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), Error> {
        check_key(key)?;
        self.store
            .put(&Path::from(key), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// Stores bytes at `key` only if nothing is there yet, atomically (two
    /// racing writers: one wins, the other gets [`Error::AlreadyExists`]).
    /// Signed upload URLs use it, so each one accepts a single PUT.
    pub async fn put_new(&self, key: &str, bytes: Bytes) -> Result<(), Error> {
        check_key(key)?;
        match self
            .store
            .put_opts(
                &Path::from(key),
                PutPayload::from(bytes),
                PutMode::Create.into(),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => Err(Error::AlreadyExists),
            Err(e) => Err(e.into()),
        }
    }

    /// The first `len` bytes of the object at `key` (fewer if it is shorter),
    /// to check what an upload is without reading all of it.
    pub async fn head_bytes(&self, key: &str, len: u64) -> Result<Bytes, Error> {
        check_key(key)?;
        let size = self.size(key).await?.ok_or(Error::NotFound)?;
        if size == 0 {
            return Ok(Bytes::new());
        }
        Ok(self
            .store
            .get_range(&Path::from(key), 0..size.min(len))
            .await?)
    }

    /// Reads the object at `key`.
    pub async fn get(&self, key: &str) -> Result<Bytes, Error> {
        check_key(key)?;
        match self.store.get(&Path::from(key)).await {
            Ok(r) => Ok(r.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => Err(Error::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Size of the object at `key`, if it exists.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, Error> {
        check_key(key)?;
        match self.store.head(&Path::from(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// A presigned S3 PUT whose signature covers `If-None-Match: *` (signed
/// headers `host;if-none-match`): the client must send that header or the
/// signature does not match, and with it the bucket stores the object only if
/// the key is free, so the URL works once. `object_store`'s signer signs the
/// host alone, which would let the URL overwrite the object until it expires.
///
/// The URL is path-style: `{endpoint}/{bucket}/{key}`, or
/// `https://s3.{region}.amazonaws.com/{bucket}/{key}` on AWS.
async fn presign_conditional_put(
    s3: &object_store::aws::AmazonS3,
    settings: &S3Settings,
    key: &str,
    ttl: Duration,
) -> Result<String, Error> {
    use aws_sigv4::http_request::{
        sign, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
        SigningSettings, UriPathNormalizationMode,
    };
    let signing_error = |e: String| {
        Error::Backend(object_store::Error::Generic {
            store: "S3",
            source: e.into(),
        })
    };
    let credential = s3.credentials().get_credential().await?;
    let identity: aws_smithy_runtime_api::client::identity::Identity =
        aws_credential_types::Credentials::new(
            credential.key_id.clone(),
            credential.secret_key.clone(),
            credential.token.clone(),
            None,
            "object_store",
        )
        .into();
    let base = match &settings.endpoint {
        Some(endpoint) => endpoint.trim_end_matches('/').to_string(),
        None => format!("https://s3.{}.amazonaws.com", settings.region),
    };
    // Keys are checked to be `[A-Za-z0-9-_./]` only: no escaping needed.
    let url = format!("{base}/{}/{key}", settings.bucket);
    let mut signing = SigningSettings::default();
    signing.signature_location = SignatureLocation::QueryParams;
    signing.expires_in = Some(ttl);
    // S3 signs the path as sent: no double encoding, no normalisation.
    signing.percent_encoding_mode = PercentEncodingMode::Single;
    signing.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&settings.region)
        .name("s3")
        .time(std::time::SystemTime::now())
        .settings(signing)
        .build()
        .map_err(|e| signing_error(e.to_string()))?
        .into();
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| signing_error(e.to_string()))?;
    let host = match (uri.host(), uri.port_u16()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => return Err(signing_error(format!("no host in {url}"))),
    };
    let (name, value) = UPLOAD_CONDITION;
    let headers = [("host", host.as_str()), (name, value)];
    let signable = SignableRequest::new(
        "PUT",
        url.as_str(),
        headers.iter().copied(),
        SignableBody::UnsignedPayload,
    )
    .map_err(|e| signing_error(e.to_string()))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| signing_error(e.to_string()))?
        .into_parts();
    let mut request = http::Request::put(url)
        .body(())
        .map_err(|e| signing_error(e.to_string()))?;
    instructions.apply_to_request_http1x(&mut request);
    Ok(request.uri().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> (Storage, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("cielo-storage-{}", std::process::id()));
        (
            Storage::local(&dir, "http://shop.test/", b"k".to_vec()).unwrap(),
            dir,
        )
    }

    #[test]
    fn keys_cannot_escape_the_store() {
        assert!(check_key("images/prod_1/a.png").is_ok());
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "a b", "./a"] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_local_upload_url_verifies_until_tampered_with() {
        let (s, _dir) = local();
        let u = s
            .upload_url("images/x.png", Duration::from_secs(60))
            .await
            .unwrap();
        assert!(u
            .url
            .starts_with("http://shop.test/storage/images/x.png?expires="));
        let sig = u.url.split("signature=").nth(1).unwrap();
        assert!(s.verify_local("PUT", "images/x.png", u.expires_at, sig));
        assert!(
            !s.verify_local("GET", "images/x.png", u.expires_at, sig),
            "method is signed"
        );
        assert!(
            !s.verify_local("PUT", "images/y.png", u.expires_at, sig),
            "key is signed"
        );
        assert!(
            !s.verify_local("PUT", "images/x.png", u.expires_at + 1, sig),
            "expiry is signed"
        );
        assert!(
            !s.verify_local(
                "PUT",
                "images/x.png",
                1,
                &Storage::local_signature(b"k", "PUT", "images/x.png", 1)
            ),
            "expired"
        );
    }

    #[tokio::test]
    async fn put_new_stores_once_and_head_bytes_reads_the_start() {
        // A directory of its own: other tests remove the shared one when done.
        let dir = std::env::temp_dir().join(format!(
            "cielo-storage-once-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let s = Storage::local(&dir, "http://shop.test/", b"k".to_vec()).unwrap();
        let key = format!("once/{}.bin", std::process::id());
        s.put_new(&key, Bytes::from_static(b"first")).await.unwrap();
        assert!(matches!(
            s.put_new(&key, Bytes::from_static(b"second")).await,
            Err(Error::AlreadyExists)
        ));
        assert_eq!(s.get(&key).await.unwrap(), Bytes::from_static(b"first"));
        assert_eq!(
            s.head_bytes(&key, 3).await.unwrap(),
            Bytes::from_static(b"fir")
        );
        assert_eq!(
            s.head_bytes(&key, 100).await.unwrap(),
            Bytes::from_static(b"first")
        );
        assert!(matches!(
            s.head_bytes("once/none.bin", 3).await,
            Err(Error::NotFound)
        ));
    }

    #[tokio::test]
    async fn objects_round_trip_through_the_local_directory() {
        let (s, dir) = local();
        s.put("t/a.txt", Bytes::from_static(b"hello"))
            .await
            .unwrap();
        assert_eq!(
            s.get("t/a.txt").await.unwrap(),
            Bytes::from_static(b"hello")
        );
        assert_eq!(s.size("t/a.txt").await.unwrap(), Some(5));
        assert!(matches!(s.get("t/missing").await, Err(Error::NotFound)));
        let _ = std::fs::remove_dir_all(dir);
    }
}
