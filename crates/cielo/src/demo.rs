//! The demo catalog: seeded into an empty shop so the API and the storefront
//! show something real from the first minute.

use cielo_catalog::{
    Catalog, Delivery, NewCategory, NewImage, NewProduct, NewVariant, ProductStatus, StockPolicy,
};
use cielo_core::{Currency, Money};
use cielo_storage::Storage;
use std::collections::BTreeMap;

struct Item {
    title: &'static str,
    description: &'static str,
    product_type: &'static str,
    category: &'static str,
    colours: (&'static str, &'static str),
    options: &'static [&'static str],
    variants: &'static [(&'static str, &'static [&'static str], i64, Option<i64>)],
    /// Digital downloads: (SKU, option values, price). No lab, no parcel.
    downloads: &'static [(&'static str, &'static [&'static str], i64)],
}

const ITEMS: &[Item] = &[
    Item {
        title: "Personalised Star Map Poster",
        description: "The night sky over the place and moment that matter to you, printed on heavyweight matte paper. Choose the size; the sky is computed for your date, time and location.",
        product_type: "starmap_poster",
        category: "star-maps",
        colours: ("#0b1026", "#2b3a7a"),
        options: &["size"],
        variants: &[("STARMAP-A3", &["A3"], 3900, None), ("STARMAP-18X24", &["18x24in"], 5900, None), ("STARMAP-24X36", &["24x36in"], 8900, None)],
        downloads: &[("STARMAP-DIGITAL-A3", &["A3"], 1900)],
    },
    Item {
        title: "Constellation T-Shirt",
        description: "Soft ring-spun cotton tee printed with the northern constellations. Printed to order.",
        product_type: "apparel",
        category: "apparel",
        colours: ("#111827", "#374151"),
        options: &["size", "colour"],
        variants: &[
            ("TEE-CONST-S-BLK", &["S", "Black"], 2900, None),
            ("TEE-CONST-M-BLK", &["M", "Black"], 2900, None),
            ("TEE-CONST-L-BLK", &["L", "Black"], 2900, None),
            ("TEE-CONST-XL-BLK", &["XL", "Black"], 3100, None),
            ("TEE-CONST-S-NVY", &["S", "Navy"], 2900, None),
            ("TEE-CONST-M-NVY", &["M", "Navy"], 2900, None),
            ("TEE-CONST-L-NVY", &["L", "Navy"], 2900, None),
            ("TEE-CONST-XL-NVY", &["XL", "Navy"], 3100, None),
        ],
        downloads: &[],
    },
    Item {
        title: "Night Sky Hoodie",
        description: "Heavy fleece hoodie with a glow-in-the-dark Milky Way across the back.",
        product_type: "apparel",
        category: "apparel",
        colours: ("#1e1b4b", "#4338ca"),
        options: &["size"],
        variants: &[("HOOD-SKY-S", &["S"], 5400, None), ("HOOD-SKY-M", &["M"], 5400, None), ("HOOD-SKY-L", &["L"], 5400, None), ("HOOD-SKY-XL", &["XL"], 5600, None)],
        downloads: &[],
    },
    Item {
        title: "Moon Phases Art Print",
        description: "A year of lunar phases in silver ink on black giclée paper. Limited run.",
        product_type: "print",
        category: "prints",
        colours: ("#18181b", "#52525b"),
        options: &["size"],
        variants: &[("PRINT-MOON-8X10", &["8x10in"], 1900, Some(25)), ("PRINT-MOON-12X16", &["12x16in"], 2900, Some(15))],
        downloads: &[],
    },
    Item {
        title: "Milky Way Canvas",
        description: "Gallery-wrapped canvas of the Milky Way core over the Atacama desert.",
        product_type: "print",
        category: "prints",
        colours: ("#0c4a6e", "#7c3aed"),
        options: &["size"],
        variants: &[("CANVAS-MW-12X16", &["12x16in"], 6900, None), ("CANVAS-MW-18X24", &["18x24in"], 9900, None)],
        downloads: &[],
    },
    Item {
        title: "Star Chart Mug",
        description: "Ceramic mug with a full-sky star chart that wraps all the way round.",
        product_type: "homeware",
        category: "homeware",
        colours: ("#312e81", "#0f766e"),
        options: &["size"],
        variants: &[("MUG-CHART-11", &["11oz"], 1600, None), ("MUG-CHART-15", &["15oz"], 1900, None)],
        downloads: &[],
    },
];

/// A simple poster-like SVG for a product, so the demo shows images without
/// shipping binary files.
fn image_svg(title: &str, colours: (&str, &str), seed: u64) -> String {
    let mut stars = String::new();
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for _ in 0..90 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let cx = (x >> 33) % 400;
        let cy = (x >> 17) % 430;
        let r = 0.4 + ((x >> 7) % 18) as f64 / 10.0;
        stars.push_str(&format!(
            "<circle cx='{cx}' cy='{cy}' r='{r:.1}' fill='#fff' opacity='0.85'/>"
        ));
    }
    let title = title.replace('&', "&amp;").replace('<', "&lt;");
    format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='400' height='500' viewBox='0 0 400 500'>\
         <defs><linearGradient id='g' x1='0' y1='0' x2='0' y2='1'><stop offset='0' stop-color='{a}'/><stop offset='1' stop-color='{b}'/></linearGradient></defs>\
         <rect width='400' height='500' fill='url(#g)'/>{stars}\
         <rect y='430' width='400' height='70' fill='#000' opacity='0.35'/>\
         <text x='200' y='472' font-family='Georgia, serif' font-size='22' fill='#fff' text-anchor='middle'>{title}</text></svg>",
        a = colours.0,
        b = colours.1
    )
}

/// Seeds the demo catalog. Returns how many products it created.
pub async fn seed(
    catalog: &Catalog,
    storage: &Storage,
    currency: Currency,
) -> anyhow::Result<usize> {
    let posters = catalog
        .create_category(NewCategory {
            name: "Posters".into(),
            handle: Some("posters".into()),
            parent_id: None,
            description: "Wall art".into(),
            position: 0,
        })
        .await?;
    let mut categories = BTreeMap::new();
    for (i, (handle, name, parent)) in [
        ("star-maps", "Star maps", Some(posters.id)),
        ("prints", "Prints", Some(posters.id)),
        ("apparel", "Apparel", None),
        ("homeware", "Homeware", None),
    ]
    .into_iter()
    .enumerate()
    {
        let c = catalog
            .create_category(NewCategory {
                name: name.into(),
                handle: Some(handle.into()),
                parent_id: parent,
                description: String::new(),
                position: i as i64 + 1,
            })
            .await?;
        categories.insert(handle, c.id);
    }
    // Created in reverse so the flagship (listed first here) is the newest, and
    // so first in the default newest-first listing.
    for (n, item) in ITEMS.iter().enumerate().rev() {
        let options = |values: &[&str]| {
            item.options
                .iter()
                .zip(values.iter())
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let downloads = item
            .downloads
            .iter()
            .enumerate()
            .map(|(i, (sku, values, price))| NewVariant {
                sku: (*sku).into(),
                title: None,
                option_values: options(values),
                price: Money::new(*price, currency),
                stock: None,
                stock_policy: StockPolicy::Continue,
                lab_product_id: None,
                // The buyer downloads the print files: no lab, nothing to ship.
                lab: None,
                delivery: Delivery::Digital,
                position: (item.variants.len() + i) as i64,
            });
        let variants = item
            .variants
            .iter()
            .enumerate()
            .map(|(i, (sku, values, price, stock))| NewVariant {
                sku: (*sku).into(),
                title: None,
                option_values: options(values),
                price: Money::new(*price, currency),
                stock: *stock,
                stock_policy: if stock.is_some() {
                    StockPolicy::Deny
                } else {
                    StockPolicy::Continue
                },
                lab_product_id: None,
                // The built-in lab: a demo order goes all the way to delivered.
                lab: Some("local".into()),
                delivery: Delivery::Physical,
                position: i as i64,
            })
            .chain(downloads)
            .collect();
        let product = catalog
            .create_product(NewProduct {
                title: item.title.into(),
                handle: None,
                description: item.description.into(),
                status: ProductStatus::Published,
                product_type: item.product_type.into(),
                option_names: item.options.iter().map(|s| s.to_string()).collect(),
                category_ids: vec![categories[item.category]],
                variants,
            })
            .await?;
        let key = format!("images/demo/{}.svg", product.handle);
        storage
            .put(
                &key,
                image_svg(item.title, item.colours, n as u64 + 7)
                    .into_bytes()
                    .into(),
            )
            .await?;
        let url = storage.public_url(&key).await?;
        catalog
            .add_image(
                product.id,
                NewImage {
                    object_key: key,
                    url,
                    alt: item.title.into(),
                    position: 0,
                },
            )
            .await?;
    }
    Ok(ITEMS.len())
}
