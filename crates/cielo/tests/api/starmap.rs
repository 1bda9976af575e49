//! The star-map poster as a product: validated and resolved line options, place
//! search, the preview image.

use crate::helpers::*;
use serde_json::{json, Value};

/// The demo shop and the id of its star-map variant of this size (`A3`, `18x24in`, `24x36in`).
async fn poster_shop() -> (TestApp, Value) {
    let app = spawn_app_with_demo().await;
    let p = app
        .get("/api/store/products/personalised-star-map-poster")
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    (app, p.body)
}

fn variant(product: &Value, size: &str) -> String {
    product["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["option_values"]["size"] == size)
        .unwrap_or_else(|| panic!("no {size} variant in {product}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn place_id(app: &TestApp, q: &str) -> u64 {
    let r = app
        .get(&format!("/api/store/starmap/places?q={q}&limit=1"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["places"][0]["id"].as_u64().unwrap()
}

async fn add(app: &TestApp, cart: &str, variant: &str, options: Value) -> Reply {
    app.post(
        &format!("/api/store/carts/{cart}/lines"),
        &json!({"variant_id": variant, "quantity": 1, "options": options}),
    )
    .await
}

#[tokio::test]
async fn a_star_map_line_is_accepted_and_stored_resolved_for_the_print() {
    // Arrange
    let (app, product) = poster_shop().await;
    let a3 = variant(&product, "A3");
    let madrid = place_id(&app, "madrid").await;
    let cart = app.new_cart(None).await;

    // Act: a place from the search, a local date and time, a title.
    let r = add(&app, &cart, &a3, json!({"place_id": madrid, "date": "2024-08-13", "time": "00:30", "title": "Nuestra noche", "theme": "midnight-blue"})).await;

    // Assert: coordinates, zone and instant resolved; size from the variant.
    assert_eq!(r.status, 200, "{}", r.body);
    let o = &r.body["lines"][0]["options"];
    assert_eq!(o["place_id"], madrid);
    assert_eq!(o["place"], "Madrid, Spain");
    assert!((o["lat"].as_f64().unwrap() - 40.4165).abs() < 1e-6, "{o}");
    assert!((o["lon"].as_f64().unwrap() + 3.7026).abs() < 1e-3, "{o}");
    assert_eq!(o["tz"], "Europe/Madrid");
    assert_eq!(o["at"], "2024-08-12T22:30:00Z");
    assert_eq!(o["size"], "a3");
    assert_eq!(o["theme"], "midnight-blue");
    assert_eq!(o["title"], "Nuestra noche");
    assert_eq!(o["version"], 1);

    // Coordinates instead of a place: the zone comes from them. Same options, same line.
    let big = variant(&product, "24x36in");
    let cape = json!({"lat": -33.9249, "lon": 18.4241, "date": "1994-05-10", "time": "21:15", "size": "24x36in"});
    add(&app, &cart, &big, cape.clone()).await;
    let r = add(&app, &cart, &big, cape).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let lines = r.body["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{}", r.body);
    assert_eq!(lines[1]["quantity"], 2);
    assert_eq!(lines[1]["options"]["tz"], "Africa/Johannesburg");
    assert_eq!(lines[1]["options"]["at"], "1994-05-10T19:15:00Z");

    // The order keeps the resolved options: what the render job reads.
    let order = app
        .checkout(
            &cart,
            None,
            Some("starmap-1"),
            &checkout_body("ada@example.com"),
        )
        .await;
    assert_eq!(order.status, 201, "{}", order.body);
    let token = order.body["access_token"].as_str().unwrap();
    let id = order.body["order_id"].as_str().unwrap();
    let o = app
        .get(&format!("/api/store/orders/{id}?token={token}"))
        .await;
    assert_eq!(
        o.body["lines"][0]["options"]["at"], "2024-08-12T22:30:00Z",
        "{}",
        o.body
    );
    let print = cielo_starmap_product::print_options(&o.body["lines"][0]["options"]).unwrap();
    assert_eq!(print.validate(), Ok(()));
    assert_eq!(print.print_pixels(), (3508, 4961));
}

#[tokio::test]
async fn each_bad_star_map_option_is_refused_naming_it_and_nothing_is_written() {
    let (app, product) = poster_shop().await;
    let a3 = variant(&product, "A3");
    let cart = app.new_cart(None).await;
    let ok = json!({"lat": 40.4168, "lon": -3.7038, "date": "2024-08-13", "time": "00:30", "tz": "Europe/Madrid"});
    let with = |k: &str, v: Value| {
        let mut o = ok.clone();
        o[k] = v;
        o
    };
    let without = |k: &str| {
        let mut o = ok.clone();
        o.as_object_mut().unwrap().remove(k);
        o
    };
    let cases = [
        (with("lat", json!(90.5)), "#/options/lat"),
        (with("lat", json!("north")), "#/options/lat"),
        (with("lon", json!(-180.01)), "#/options/lon"),
        (without("lat"), "#/options/lat"),
        (with("place_id", json!(1)), "#/options/place_id"),
        (with("date", json!("1799-12-31")), "#/options/date"),
        (with("date", json!("2201-01-01")), "#/options/date"),
        (with("date", json!("13/08/2024")), "#/options/date"),
        (without("date"), "#/options/date"),
        (with("time", json!("24:61")), "#/options/time"),
        (without("time"), "#/options/time"),
        (with("tz", json!("Mars/Olympus_Mons")), "#/options/tz"),
        (with("theme", json!("neon")), "#/options/theme"),
        (with("size", json!("24x36in")), "#/options/size"),
        (with("size", json!("a9")), "#/options/size"),
        (with("title", json!("t".repeat(61))), "#/options/title"),
        (with("message", json!("m".repeat(241))), "#/options/message"),
        (with("message", json!("bell\u{7}")), "#/options/message"),
        (with("place", json!("p".repeat(81))), "#/options/place"),
        (with("language", json!("klingon")), "#/options/language"),
        (with("colour", json!("red")), "#/options/colour"),
        (json!("Madrid tonight"), "#/options"),
    ];
    for (options, pointer) in cases {
        let r = add(&app, &cart, &a3, options.clone()).await;
        r.assert_problem(422, "validation-failed");
        assert_eq!(r.pointers(), vec![pointer], "options {options}: {}", r.body);
    }
    let r = app.add_line(&cart, None, &a3, 1).await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), vec!["#/options"]);

    // Several at once are all named.
    let r = add(
        &app,
        &cart,
        &a3,
        json!({"lat": 100, "lon": 0, "date": "2024-08-13", "time": "00:30", "theme": "neon"}),
    )
    .await;
    assert_eq!(r.pointers(), vec!["#/options/lat", "#/options/theme"]);

    let c = app.get(&format!("/api/store/carts/{cart}")).await;
    assert_eq!(c.body["lines"], json!([]), "nothing was written");
}

#[tokio::test]
async fn local_time_is_right_at_sea_in_the_past_and_across_clock_changes() {
    let (app, product) = poster_shop().await;
    let a3 = variant(&product, "A3");
    let cart = app.new_cart(None).await;

    // Chatham Islands by coordinates only: the zone from the boundaries (+13:45).
    let r = add(
        &app,
        &cart,
        &a3,
        json!({"lat": -43.954, "lon": -176.559, "date": "2024-01-15", "time": "21:00"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let o = &r.body["lines"][0]["options"];
    assert_eq!(o["tz"], "Pacific/Chatham");
    assert_eq!(o["at"], "2024-01-15T07:15:00Z");

    // Tokyo, 1800-01-01 00:30 local (1799-12-31 in UTC): inside the local range.
    let tokyo = place_id(&app, "tokyo").await;
    let r = add(
        &app,
        &cart,
        &a3,
        json!({"place_id": tokyo, "date": "1800-01-01", "time": "00:30"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lines"][1]["options"]["at"], "1799-12-31T15:11:01Z");

    // Madrid, 2024-03-31 02:30: that time did not exist; refused with the valid one.
    let madrid = place_id(&app, "madrid").await;
    let r = add(
        &app,
        &cart,
        &a3,
        json!({"place_id": madrid, "date": "2024-03-31", "time": "02:30"}),
    )
    .await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), vec!["#/options/time"]);
    let detail = r.body.to_string();
    assert!(
        detail.contains("does not exist") && detail.contains("03:30"),
        "{detail}"
    );

    // Madrid, 2024-10-27 02:30 happened twice: earlier by default, later on request.
    let r = add(
        &app,
        &cart,
        &a3,
        json!({"place_id": madrid, "date": "2024-10-27", "time": "02:30"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lines"][2]["options"]["at"], "2024-10-27T00:30:00Z");
    assert_eq!(r.body["lines"][2]["options"]["fold"], "earlier");
    let r = add(
        &app,
        &cart,
        &a3,
        json!({"place_id": madrid, "date": "2024-10-27", "time": "02:30", "fold": "later"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["lines"][3]["options"]["at"], "2024-10-27T01:30:00Z");
    let r = add(
        &app,
        &cart,
        &a3,
        json!({"place_id": madrid, "date": "2024-10-27", "time": "02:30", "fold": "twice"}),
    )
    .await;
    assert_eq!(r.pointers(), vec!["#/options/fold"]);
}

#[tokio::test]
async fn place_search_ignores_case_and_accents_and_lists_big_cities_first() {
    let app = spawn_app().await;
    let r = app.get("/api/store/starmap/places?q=Madrid").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.headers["cache-control"], "public, max-age=86400");
    let places = r.body["places"].as_array().unwrap();
    let first = &places[0];
    assert_eq!(first["name"], "Madrid");
    assert_eq!(first["country_code"], "ES");
    assert_eq!(first["country"], "Spain");
    assert_eq!(first["tz"], "Europe/Madrid");
    assert!(first["population"].as_u64().unwrap() > 3_000_000);
    assert!((first["lat"].as_f64().unwrap() - 40.4165).abs() < 1e-3);
    assert!(places.len() > 1 && places.len() <= 10);
    let pops: Vec<u64> = places
        .iter()
        .map(|p| p["population"].as_u64().unwrap())
        .collect();
    assert!(pops.windows(2).all(|w| w[0] >= w[1]), "{pops:?}");

    let r = app
        .get("/api/store/starmap/places?q=sao%20paulo&limit=3")
        .await;
    assert_eq!(r.body["places"][0]["name"], "São Paulo", "{}", r.body);
    assert_eq!(r.body["places"][0]["tz"], "America/Sao_Paulo");
    let r = app.get("/api/store/starmap/places?q=S%C3%83O%20PAU").await;
    assert_eq!(r.body["places"][0]["name"], "São Paulo", "{}", r.body);
    let r = app.get("/api/store/starmap/places?q=New%20Y").await;
    assert_eq!(
        r.body["places"][0]["label"], "New York City, New York, United States",
        "{}",
        r.body
    );

    app.get("/api/store/starmap/places")
        .await
        .assert_problem(422, "validation-failed");
    let r = app.get("/api/store/starmap/places?q=ma&limit=500").await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), vec!["#/limit"]);
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

#[tokio::test]
async fn the_preview_is_a_png_of_the_poster_s_shape_and_bad_options_are_problems() {
    let app = spawn_app().await;
    let url = format!("{}/api/store/starmap/preview?place_id=3117735&date=2024-08-13&time=00:30&title=Nuestra%20noche&px=600", app.address);
    let res = app.client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age="));
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let png = res.bytes().await.unwrap();
    assert_eq!(png_size(&png), (400, 600), "24x36 in is 2:3");

    let a3 = app.client.get(format!("{}/api/store/starmap/preview?lat=-33.9&lon=18.4&date=1994-05-10&time=21:15&size=a3&theme=minimal-light&px=420", app.address)).send().await.unwrap();
    assert_eq!(a3.status(), 200);
    let (w, h) = png_size(&a3.bytes().await.unwrap());
    assert_eq!(h, 420);
    assert!(
        (f64::from(w) / f64::from(h) - 297.0 / 420.0).abs() < 0.01,
        "{w}x{h}"
    );

    // Same options: the browser's copy is still good.
    let again = app
        .client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let r = app
        .get("/api/store/starmap/preview?lat=91&lon=0&date=2024-08-13&time=00:30&theme=neon")
        .await;
    r.assert_problem(422, "validation-failed");
    assert_eq!(r.pointers(), vec!["#/lat", "#/theme"]);
    let r = app
        .get("/api/store/starmap/preview?lat=1&lon=0&date=2024-08-13&time=00:30&px=5000")
        .await;
    assert_eq!(r.pointers(), vec!["#/px"]);
}

#[tokio::test]
async fn the_storefront_learns_themes_and_sizes() {
    let app = spawn_app().await;
    let r = app.get("/api/store/starmap/options").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["themes"].as_array().unwrap().len() >= 4);
    assert_eq!(r.body["themes"][0]["id"], "classic-dark");
    let sizes: Vec<&str> = r.body["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        sizes,
        ["a4", "a3", "a2", "8x10in", "12x16in", "18x24in", "24x36in"]
    );
    assert_eq!(r.body["max_title_chars"], 60);
    assert_eq!(r.body["min_date"], "1800-01-01");
}

#[tokio::test]
async fn the_storefront_learns_layouts_shapes_fonts_languages_and_colour_rules() {
    let app = spawn_app().await;
    let r = app.get("/api/store/starmap/options").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ids = |k: &str| -> Vec<String> {
        r.body[k]
            .as_array()
            .unwrap_or_else(|| panic!("{k} in {}", r.body))
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids("layouts"),
        ["classic", "full-bleed", "pair", "moon-panel"]
    );
    assert_eq!(ids("shapes"), ["circle", "square", "heart"]);
    assert_eq!(ids("fonts"), ["classic", "display", "rounded", "script"]);
    assert_eq!(ids("folds"), ["earlier", "later"]);
    assert_eq!(
        r.body["languages"],
        json!(["en", "es", "pt", "fr", "de", "it"])
    );
    assert_eq!(
        r.body["min_contrast"][0],
        json!({"color": "text", "min_ratio": 4.5})
    );
}

#[tokio::test]
async fn any_script_the_poster_can_draw_is_accepted_and_the_rest_refused_naming_it() {
    let (app, product) = poster_shop().await;
    let a3 = variant(&product, "A3");
    let cart = app.new_cart(None).await;
    let madrid = place_id(&app, "madrid").await;
    let base = json!({"place_id": madrid, "date": "2024-08-13", "time": "00:30"});
    let with = |pairs: &[(&str, Value)]| {
        let mut o = base.clone();
        for (k, v) in pairs {
            o[*k] = v.clone();
        }
        o
    };

    // Chinese title, Arabic message, a pair of skies, a heart, a script font, colours.
    let tokyo = place_id(&app, "tokyo").await;
    let r = add(
        &app,
        &cart,
        &a3,
        with(&[
            ("title", json!("我们的夜晚")),
            ("message", json!("ليلتنا الأولى")),
            ("layout", json!("pair")),
            ("shape", json!("heart")),
            ("font", json!("script")),
            ("language", json!("pt")),
            (
                "colors",
                json!({"background": "#0b1d3a", "text": "#f5e6c8"}),
            ),
            (
                "second",
                json!({"place_id": tokyo, "date": "2024-08-13", "time": "07:30"}),
            ),
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let o = &r.body["lines"][0]["options"];
    assert_eq!(o["second"]["tz"], "Asia/Tokyo");
    assert_eq!(o["second"]["at"], "2024-08-12T22:30:00Z");
    let print = cielo_starmap_product::print_options(o).unwrap();
    assert_eq!(print.print_pixels(), (4961, 3508), "A3 on its side");

    // What cannot be drawn, or is not an option value, is a 422 naming the option.
    for (pairs, pointer) in [
        (
            vec![("title", json!("Nuestra noche 🦄"))],
            "#/options/title",
        ),
        (vec![("message", json!("🦄"))], "#/options/message"),
        (vec![("layout", json!("collage"))], "#/options/layout"),
        (vec![("shape", json!("star"))], "#/options/shape"),
        (vec![("font", json!("comic"))], "#/options/font"),
        (vec![("language", json!("nl"))], "#/options/language"),
        (
            vec![("colors", json!({"text": "#10131a"}))],
            "#/options/colors",
        ),
        (vec![("layout", json!("pair"))], "#/options/second"),
        (
            vec![
                ("layout", json!("pair")),
                ("second", json!({"place_id": tokyo, "date": "2024-08-13"})),
            ],
            "#/options/second/time",
        ),
    ] {
        let r = add(&app, &cart, &a3, with(&pairs)).await;
        r.assert_problem(422, "validation-failed");
        assert_eq!(r.pointers(), vec![pointer], "{pairs:?}: {}", r.body);
    }
}

#[tokio::test]
async fn a_framed_mockup_is_the_poster_on_a_wall_and_is_cached() {
    let app = spawn_app().await;
    let url = format!(
        "{}/api/store/starmap/mockup?lat=40.4168&lon=-3.7038&tz=Europe/Madrid&date=2024-08-13&time=00:30&layout=moon-panel&shape=heart&language=de&px=400",
        app.address
    );
    let res = app.client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(png_size(&res.bytes().await.unwrap()), (400, 400));
    let again = app
        .client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    // The preview takes the same new options.
    let preview = app
        .client
        .get(
            url.replace("/mockup?", "/preview?")
                .replace("px=400", "px=300"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), 200);
    let bad = app
        .get("/api/store/starmap/mockup?lat=40&lon=-3&date=2024-08-13&time=00:30&shape=star")
        .await;
    bad.assert_problem(422, "validation-failed");
    assert_eq!(bad.pointers(), vec!["#/shape"]);
}
