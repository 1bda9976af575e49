//! The API benchmark's ceiling: a bare axum program that serves one fixed
//! body (the listing Cielo answered, saved to a file) from memory at the
//! listing's path, with nothing else around it. `bench/api.sh` runs it beside
//! Cielo in the same sitting and quotes Cielo's throughput as a share of it.
//!
//! usage: bare_listing BODY_FILE ADDR   (e.g. listing.json 127.0.0.1:18091)

use axum::routing::get;
use bytes::Bytes;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(file), Some(addr)) = (args.next(), args.next()) else {
        eprintln!("usage: bare_listing BODY_FILE ADDR");
        std::process::exit(2);
    };
    let body = Bytes::from(std::fs::read(&file).expect("the body file"));
    let app = axum::Router::new().route(
        "/api/store/products",
        get(move || {
            let body = body.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
