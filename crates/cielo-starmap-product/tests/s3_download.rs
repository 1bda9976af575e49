//! Digital-download files on the S3 backend, against an S3-compatible
//! emulator. Runs when `CIELO_TEST_S3_ENDPOINT` names one (CI starts one);
//! credentials come from the standard `AWS_*` variables.

use cielo_starmap_product::artwork::put_download;
use cielo_storage::{S3Settings, Storage};
use std::time::Duration;

#[tokio::test]
async fn a_download_on_s3_is_served_as_an_attachment_named_after_its_key() {
    let endpoint = match std::env::var("CIELO_TEST_S3_ENDPOINT") {
        Ok(e) if !e.is_empty() => e,
        _ => {
            eprintln!("note: CIELO_TEST_S3_ENDPOINT is unset; the S3 download test did not run");
            return;
        }
    };
    let bucket = format!("cielo-dl-{}", uuid::Uuid::new_v4().simple());
    let client = reqwest::Client::new();
    let created = client
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    let storage = Storage::s3(&S3Settings {
        bucket,
        region: "us-east-1".into(),
        endpoint: Some(endpoint),
        public_base_url: None,
    })
    .unwrap();

    let key = "artwork/ord_x/oli_y/star-map-3E4F5A6B-1.pdf";
    put_download(&storage, key, b"%PDF-1.7 test".to_vec())
        .await
        .unwrap();

    // The presigned GET the order page hands out serves it as stored.
    let link = storage
        .download_url(key, Duration::from_secs(60))
        .await
        .unwrap();
    let res = client.get(&link.url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"star-map-3E4F5A6B-1.pdf\""
    );
    assert_eq!(&res.bytes().await.unwrap()[..], b"%PDF-1.7 test");
}
