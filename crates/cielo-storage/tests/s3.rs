//! The S3 backend against an S3-compatible emulator. Runs when
//! `CIELO_TEST_S3_ENDPOINT` names one (CI starts one); credentials come from the
//! standard `AWS_*` variables, as in production.

use bytes::Bytes;
use cielo_storage::{S3Settings, Storage};
use std::time::Duration;

fn endpoint() -> Option<String> {
    match std::env::var("CIELO_TEST_S3_ENDPOINT") {
        Ok(e) if !e.is_empty() => Some(e),
        _ => {
            eprintln!("note: CIELO_TEST_S3_ENDPOINT is unset; the S3 test did not run");
            None
        }
    }
}

#[tokio::test]
async fn objects_and_presigned_uploads_round_trip_through_an_s3_compatible_service() {
    let Some(endpoint) = endpoint() else { return };
    let bucket = format!("cielo-test-{}", uuid::Uuid::new_v4().simple());
    let client = reqwest::Client::new();
    // The emulator accepts an unsigned bucket creation; object_store cannot create buckets.
    let created = client
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "creating the bucket: {}",
        created.status()
    );

    let storage = Storage::s3(&S3Settings {
        bucket: bucket.clone(),
        region: "us-east-1".into(),
        endpoint: Some(endpoint.clone()),
        public_base_url: None,
    })
    .unwrap();
    assert!(!storage.is_local());

    storage
        .put("images/a.svg", Bytes::from_static(b"<svg/>"))
        .await
        .unwrap();
    assert_eq!(
        storage.get("images/a.svg").await.unwrap(),
        Bytes::from_static(b"<svg/>")
    );
    assert_eq!(storage.size("images/a.svg").await.unwrap(), Some(6));
    assert_eq!(storage.size("images/missing.png").await.unwrap(), None);
    assert!(matches!(
        storage.get("images/missing.png").await,
        Err(cielo_storage::Error::NotFound)
    ));

    // An admin's browser uploads straight to the bucket through a presigned URL.
    let ticket = storage
        .upload_url("images/b.png", Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(ticket.method, "PUT");
    assert!(ticket.url.contains("X-Amz-Signature="), "{}", ticket.url);
    // The condition is part of the signature: a client that drops the header
    // does not match it on S3 (the emulator does not check signatures, so
    // this checks what was signed).
    assert!(
        ticket
            .url
            .contains("X-Amz-SignedHeaders=host%3Bif-none-match"),
        "{}",
        ticket.url
    );
    assert_eq!(ticket.headers, vec![("If-None-Match", "*")]);
    let upload = |body: &'static [u8]| {
        let mut req = client.put(&ticket.url).body(body.to_vec());
        for (name, value) in &ticket.headers {
            req = req.header(*name, *value);
        }
        req.send()
    };
    let put = upload(b"png bytes").await.unwrap();
    assert!(put.status().is_success(), "presigned PUT: {}", put.status());
    assert_eq!(
        storage.get("images/b.png").await.unwrap(),
        Bytes::from_static(b"png bytes")
    );
    // The URL is single-use: a second PUT cannot replace what was checked.
    let again = upload(b"not an image").await.unwrap();
    assert_eq!(again.status(), 412, "second PUT through the same URL");
    assert_eq!(
        storage.get("images/b.png").await.unwrap(),
        Bytes::from_static(b"png bytes")
    );

    // Without a CDN, public image URLs are presigned GETs that really serve the object.
    let public = storage.public_url("images/b.png").await.unwrap();
    let got = client.get(&public).send().await.unwrap();
    assert!(got.status().is_success());
    assert_eq!(got.bytes().await.unwrap().as_ref(), b"png bytes");

    let cdn = Storage::s3(&S3Settings {
        bucket,
        region: "us-east-1".into(),
        endpoint: Some(endpoint),
        public_base_url: Some("https://cdn.shop.example/".into()),
    })
    .unwrap();
    assert_eq!(
        cdn.public_url("images/b.png").await.unwrap(),
        "https://cdn.shop.example/images/b.png"
    );
}
