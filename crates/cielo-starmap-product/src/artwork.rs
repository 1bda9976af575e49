//! Print files for paid star-map orders.
//!
//! The order lifecycle (cielo-flows) calls [`render_order`] when an order is
//! paid. Each star-map line is rendered at print resolution from the options
//! stored on the line (so the file does not depend on the clock or on the
//! place list), written to object storage under a key derived from the order
//! and line, and recorded on the line; the lifecycle then takes the order to
//! its lab. Running it again skips lines already done, so a retried or
//! duplicated job does no harm.

use cielo_orders::{NewArtwork, OrderAccess, OrderId, Orders};
use cielo_storage::Storage;
use sha2::{Digest, Sha256};

/// What a render pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOutcome {
    /// Lines rendered now.
    pub rendered: usize,
    /// Star-map lines that already had their file.
    pub already_done: usize,
}

/// The object-storage key of a line's print file.
pub fn artwork_key(order: &OrderId, line: &cielo_orders::OrderLineId) -> String {
    format!("artwork/{order}/{line}.png")
}

/// Renders every star-map line of a paid order that has no print file yet.
#[tracing::instrument(skip_all, fields(order_id = %order_id))]
pub async fn render_order(
    orders: &Orders,
    storage: &Storage,
    order_id: OrderId,
) -> anyhow::Result<RenderOutcome> {
    let order = orders.get_order(order_id, &OrderAccess::Admin).await?;
    let mut outcome = RenderOutcome::default();
    let starmap_lines: Vec<_> = order
        .lines
        .iter()
        .filter(|l| l.product_type == crate::PRODUCT_TYPE)
        .collect();
    for line in &starmap_lines {
        if line.artwork.is_some() {
            outcome.already_done += 1;
            continue;
        }
        let stored = line
            .options
            .clone()
            .ok_or_else(|| anyhow::anyhow!("star-map line {} has no options", line.id))?;
        // The file the lab prints: its trim size plus its bleed, text inside
        // its safe area. A lab without a spec for this size (or a line the shop
        // ships itself) gets the plain trim size.
        let opts = match line.lab.as_deref() {
            Some(lab) => match crate::print_options_for_lab(&stored, lab) {
                Ok(opts) => opts,
                Err(crate::PrintSpecError::NoSuchProduct { lab, size }) => {
                    tracing::warn!(%lab, %size, line = %line.id, "no print spec for this lab and size; rendering the trim size");
                    crate::print_options(&stored)?
                }
                Err(e) => return Err(e.into()),
            },
            None => crate::print_options(&stored)?,
        };
        // Rendering is CPU-bound and uses both cores: keep it off the async threads.
        let (bytes, info) = tokio::task::spawn_blocking(move || {
            let mut png = Vec::with_capacity(4 << 20);
            let info =
                cielo_starmap::render_print(&opts, cielo_starmap::OutputFormat::Png, &mut png)?;
            Ok::<_, cielo_starmap::Error>((png, info))
        })
        .await??;
        let key = artwork_key(&order.id, &line.id);
        let sha256 = hex::encode(Sha256::digest(&bytes));
        storage.put(&key, bytes::Bytes::from(bytes)).await?;
        let record = NewArtwork {
            object_key: key,
            sha256,
            width_px: info.width as i64,
            height_px: info.height as i64,
            format: "png".into(),
        };
        orders.record_artwork(order.id, line.id, &record).await?;
        tracing::info!(line = %line.id, width = info.width, height = info.height, "artwork rendered");
        outcome.rendered += 1;
    }
    Ok(outcome)
}
