//! Orders: who may read them, admin listing, and the state machine.

use crate::helpers::*;
use cielo_orders::{OrderId, OrderStatus};
use serde_json::json;

async fn place_order(
    app: &TestApp,
    token: Option<&str>,
    email: &str,
    variant: &str,
) -> (String, String) {
    let cart = app.new_cart(token).await;
    app.add_line(&cart, token, variant, 1).await;
    let r = app
        .checkout(&cart, token, None, &checkout_body(email))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    (
        r.body["order_id"].as_str().unwrap().to_string(),
        r.body["access_token"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn customers_read_and_list_only_their_own_orders() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let v = app.create_product(&admin, "Poster", &[("P-1", 1000)]).await["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    let (ada_order, _) = place_order(&app, Some(&ada), "ada@example.com", &v).await;
    place_order(&app, Some(&bob), "bob@example.com", &v).await;

    let mine = app.get_as("/api/store/orders", &ada).await.body;
    assert_eq!(mine["orders"].as_array().unwrap().len(), 1);
    assert_eq!(mine["orders"][0]["id"], ada_order.as_str());
    assert_eq!(
        app.get_as(&format!("/api/store/orders/{ada_order}"), &ada)
            .await
            .status,
        200
    );
    app.get_as(&format!("/api/store/orders/{ada_order}"), &bob)
        .await
        .assert_problem(404, "order-not-found");
    app.get("/api/store/orders")
        .await
        .assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn a_guest_reads_their_order_only_with_its_token() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let v = app.create_product(&admin, "Poster", &[("P-1", 1000)]).await["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (order, token) = place_order(&app, None, "guest@example.com", &v).await;
    assert_eq!(
        app.get(&format!("/api/store/orders/{order}?token={token}"))
            .await
            .body["id"],
        order.as_str()
    );
    app.get(&format!("/api/store/orders/{order}"))
        .await
        .assert_problem(404, "order-not-found");
    app.get(&format!("/api/store/orders/{order}?token=oat_wrong"))
        .await
        .assert_problem(404, "order-not-found");
    let (other, _) = place_order(&app, None, "other@example.com", &v).await;
    app.get(&format!("/api/store/orders/{other}?token={token}"))
        .await
        .assert_problem(404, "order-not-found");
}

#[tokio::test]
async fn admins_filter_orders_by_status_date_and_email() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let v = app.create_product(&admin, "Poster", &[("P-1", 1000)]).await["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = cielo_core::Timestamp::now();
    let (a, _) = place_order(&app, None, "a@example.com", &v).await;
    let (b, _) = place_order(&app, None, "b@example.com", &v).await;
    let (c, _) = place_order(&app, None, "a@example.com", &v).await;
    app.state
        .orders
        .transition_now(OrderId::parse(&b).unwrap(), OrderStatus::Cancelled, "test")
        .await
        .unwrap();

    let ids = |v: serde_json::Value| {
        v["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(app.get_as("/api/admin/orders", &admin).await.body),
        vec![c.clone(), b.clone(), a.clone()]
    );
    assert_eq!(
        ids(app
            .get_as("/api/admin/orders?status=cancelled", &admin)
            .await
            .body),
        vec![b.clone()]
    );
    assert_eq!(
        ids(app
            .get_as("/api/admin/orders?email=A%40Example.com", &admin)
            .await
            .body),
        vec![c.clone(), a.clone()]
    );
    let from = urlencode(&before.to_string());
    assert_eq!(
        ids(app
            .get_as(&format!("/api/admin/orders?from={from}"), &admin)
            .await
            .body)
        .len(),
        3
    );
    assert_eq!(
        ids(app
            .get_as(&format!("/api/admin/orders?to={from}"), &admin)
            .await
            .body)
        .len(),
        0
    );
    let page = app.get_as("/api/admin/orders?limit=2", &admin).await.body;
    assert_eq!(ids(page.clone()), vec![c.clone(), b.clone()]);
    let rest = app
        .get_as(
            &format!(
                "/api/admin/orders?limit=2&cursor={}",
                page["next_cursor"].as_str().unwrap()
            ),
            &admin,
        )
        .await
        .body;
    assert_eq!(ids(rest), vec![a.clone()]);
    app.get_as("/api/admin/orders?status=lost", &admin)
        .await
        .assert_problem(422, "invalid-query");
    app.get_as("/api/admin/orders?from=yesterday", &admin)
        .await
        .assert_problem(422, "invalid-query");

    let detail = app
        .get_as(&format!("/api/admin/orders/{b}"), &admin)
        .await
        .body;
    let history: Vec<_> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["from"].clone(), h["to"].clone(), h["cause"].clone()))
        .collect();
    assert_eq!(
        history,
        vec![
            (json!(null), json!("pending_payment"), json!("checkout")),
            (json!("pending_payment"), json!("cancelled"), json!("test"))
        ]
    );
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A").replace('+', "%2B")
}

#[tokio::test]
async fn the_state_machine_refuses_transitions_the_table_does_not_allow_and_records_the_rest() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let v = app.create_product(&admin, "Poster", &[("P-1", 1000)]).await["variants"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (order, _) = place_order(&app, None, "a@example.com", &v).await;
    let id = OrderId::parse(&order).unwrap();
    let orders = &app.state.orders;
    assert!(matches!(
        orders.transition_now(id, OrderStatus::Shipped, "x").await,
        Err(cielo_orders::Error::InvalidTransition { .. })
    ));
    assert!(orders
        .transition_now(id, OrderStatus::Paid, "evt_1")
        .await
        .unwrap());
    assert!(
        !orders
            .transition_now(id, OrderStatus::Paid, "evt_1 again")
            .await
            .unwrap(),
        "a replay changes nothing"
    );
    assert!(matches!(
        orders
            .transition_now(id, OrderStatus::Cancelled, "late expiry")
            .await,
        Err(cielo_orders::Error::InvalidTransition { .. })
    ));
    assert!(orders
        .transition_now(id, OrderStatus::InProduction, "job")
        .await
        .unwrap());
    let detail = app
        .get_as(&format!("/api/admin/orders/{order}"), &admin)
        .await
        .body;
    assert_eq!(detail["status"], "in_production");
    let tos: Vec<_> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(tos, vec!["pending_payment", "paid", "in_production"]);
}
