//! The signature check against vectors produced by Stripe's own library.

use cielo_payments::signature::verify;

#[test]
fn every_recorded_vector_gives_the_official_libraries_answer() {
    let file: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/stripe-signature-samples.json")).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert!(!vectors.is_empty());
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let result = verify(
            v["header"].as_str().unwrap(),
            v["payload"].as_str().unwrap().as_bytes(),
            &[v["secret"].as_str().unwrap().to_string()],
            v["now"].as_i64().unwrap(),
            v["tolerance_s"].as_i64().unwrap(),
        );
        assert_eq!(
            result.is_ok(),
            v["valid"].as_bool().unwrap(),
            "{name}: {result:?}"
        );
    }
}
