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

/// The object-storage keys of a digital-download line's files, `(png, pdf)`:
/// `artwork/<order>/<line>/star-map-<order number>-<n>.<ext>`, where the
/// order number is the order id's last 8 characters (as in the shop's
/// emails) and `n` the line's place in the order from 1. The last segment is
/// the name the buyer's browser saves the file under.
pub fn download_keys(
    order: &OrderId,
    line: &cielo_orders::OrderLineId,
    position: usize,
) -> (String, String) {
    let id = order.to_string();
    let number: String = id
        .chars()
        .skip(id.chars().count().saturating_sub(8))
        .collect();
    let stem = format!(
        "artwork/{order}/{line}/star-map-{}-{}",
        number.to_uppercase(),
        position + 1
    );
    (format!("{stem}.png"), format!("{stem}.pdf"))
}

/// The PDF next to a digital-download line's PNG (its recorded artwork key).
pub fn pdf_key_for(png_key: &str) -> Option<String> {
    png_key
        .strip_suffix(".png")
        .map(|stem| format!("{stem}.pdf"))
}

/// The file name a stored download is saved under: its key's last segment.
pub fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// Stores a file the buyer downloads. On S3 the object carries its
/// `Content-Disposition: attachment; filename="<last segment of key>"` (a
/// presigned GET serves it as stored); the local backend's `/storage/`
/// route names the file from its key.
pub async fn put_download(storage: &Storage, key: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
    use cielo_storage::object_store::{self, Attribute, Attributes, PutOptions};
    if storage.is_local() {
        storage.put(key, bytes::Bytes::from(bytes)).await?;
        return Ok(());
    }
    let disposition = format!("attachment; filename=\"{}\"", file_name(key));
    let opts = PutOptions {
        attributes: Attributes::from_iter([(Attribute::ContentDisposition, disposition)]),
        ..Default::default()
    };
    object_store::ObjectStore::put_opts(
        storage.store().as_ref(),
        &object_store::path::Path::from(key),
        object_store::PutPayload::from(bytes),
        opts,
    )
    .await?;
    Ok(())
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
        let position = order
            .lines
            .iter()
            .position(|l| l.id == line.id)
            .unwrap_or_default();
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
        // A digital download gets the same sky as a PDF too, written before
        // the PNG is recorded: a recorded line has both files.
        let digital = line.delivery.is_digital();
        let (key, pdf_key) = if digital {
            download_keys(&order.id, &line.id, position)
        } else {
            (artwork_key(&order.id, &line.id), String::new())
        };
        if digital {
            let pdf_opts = opts.clone();
            let pdf = tokio::task::spawn_blocking(move || {
                let mut pdf = Vec::with_capacity(1 << 20);
                cielo_starmap::render_print(&pdf_opts, cielo_starmap::OutputFormat::Pdf, &mut pdf)?;
                Ok::<_, cielo_starmap::Error>(pdf)
            })
            .await??;
            put_download(storage, &pdf_key, pdf).await?;
        }
        // Rendering is CPU-bound and uses both cores: keep it off the async threads.
        let (bytes, info) = tokio::task::spawn_blocking(move || {
            let mut png = Vec::with_capacity(4 << 20);
            let info =
                cielo_starmap::render_print(&opts, cielo_starmap::OutputFormat::Png, &mut png)?;
            Ok::<_, cielo_starmap::Error>((png, info))
        })
        .await??;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if digital {
            put_download(storage, &key, bytes).await?;
        } else {
            storage.put(&key, bytes::Bytes::from(bytes)).await?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_files_are_named_after_the_order_and_sit_side_by_side() {
        let order = OrderId::parse("ord_0193a0b2c3d47e8f9a0b1c2d3e4f5a6b").unwrap();
        let line =
            cielo_orders::OrderLineId::parse("oli_0193a0b2c3d47e8f9a0b1c2d3e4f5a6c").unwrap();
        let (png, pdf) = download_keys(&order, &line, 1);
        assert_eq!(
            png,
            format!("artwork/{order}/{line}/star-map-3E4F5A6B-2.png")
        );
        assert_eq!(pdf_key_for(&png).as_deref(), Some(pdf.as_str()));
        assert_eq!(file_name(&pdf), "star-map-3E4F5A6B-2.pdf");
        assert_eq!(pdf_key_for("artwork/x.pdf"), None);
    }
}
