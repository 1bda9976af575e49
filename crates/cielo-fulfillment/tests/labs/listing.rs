//! Listing each lab's orders for reconciliation: ours are matched to our
//! submissions, an order someone else placed with the shop's key is not.

use crate::helpers::*;
use cielo_core::Timestamp;
use cielo_fulfillment::{Lab, LabStage};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn both_labs_list_our_orders_and_the_ones_we_never_placed() {
    let (env, printful, prodigi) = env_with_fakes(settings()).await;
    assert_eq!(
        env.fulfillment.listable_labs(),
        vec![Lab::Printful, Lab::Prodigi]
    );
    let pf_order = order_id();
    let pd_order = order_id();
    let pf_id = env.plan(request(Lab::Printful, &pf_order, "4012")).await;
    let pd_id = env
        .plan(request(Lab::Prodigi, &pd_order, "GLOBAL-FAP-16x24"))
        .await;
    env.run_until(Duration::from_secs(20), "both accepted", || async {
        env.fulfillment.lab_order(pf_id).await.unwrap().submit_state == "accepted"
            && env.fulfillment.lab_order(pd_id).await.unwrap().submit_state == "accepted"
    })
    .await;

    // Orders placed with the shop's keys, not by the shop.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/orders?confirm=true", printful.url))
        .bearer_auth(PRINTFUL_TOKEN)
        .json(&json!({"recipient": {"name": "Mallory", "address1": "1 Dark Lane", "city": "Reno",
                       "country_code": "US", "zip": "89501"}, "items": [{"variant_id": 4012, "quantity": 9}]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let r = http
        .post(format!("{}/orders", prodigi.url))
        .header("X-API-Key", PRODIGI_KEY)
        .json(&json!({"merchantReference": "free-posters", "shippingMethod": "Budget",
                       "recipient": {"name": "Eve", "address": {"line1": "2 Side St", "postalOrZipCode": "10001",
                                     "countryCode": "US", "townOrCity": "New York"}},
                       "items": [{"sku": "GLOBAL-FAP-16x24", "copies": 50, "assets": []}]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let since = Timestamp::now().plus_seconds(-3600);
    for (lab, ours, thief) in [
        (Lab::Printful, pf_id, "Mallory"),
        (Lab::Prodigi, pd_id, "Eve"),
    ] {
        let listed = env.fulfillment.list_lab_orders(lab, since).await.unwrap();
        assert_eq!(listed.len(), 2, "{lab}: {listed:?}");
        let mut matched = 0;
        let mut foreign = Vec::new();
        for l in &listed {
            match env.fulfillment.match_listing(l).await.unwrap() {
                Some(view) => {
                    assert_eq!(view.id, ours);
                    assert_eq!(l.stage, Some(LabStage::Submitted));
                    matched += 1;
                }
                None => foreign.push(l.clone()),
            }
        }
        assert_eq!(matched, 1, "{lab}");
        assert_eq!(foreign.len(), 1, "{lab}");
        assert_eq!(foreign[0].recipient["name"], thief);
        assert_eq!(foreign[0].items.as_array().unwrap().len(), 1);
    }

    // The window bounds the listing.
    let later = Timestamp::now().plus_seconds(3600);
    assert!(env
        .fulfillment
        .list_lab_orders(Lab::Printful, later)
        .await
        .unwrap()
        .is_empty());
    assert!(env
        .fulfillment
        .list_lab_orders(Lab::Prodigi, later)
        .await
        .unwrap()
        .is_empty());
}
