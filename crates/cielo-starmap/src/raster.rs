//! Raster output: the scene is drawn in horizontal bands (one small pixmap per band,
//! translated), each band is filtered and deflated on its own core, and the bands are
//! streamed into one PNG in order. The full frame never exists in memory: a
//! 7200×10800 print needs a few bands in flight, not 311 MB.
//!
//! Each band is compressed as an independent raw-deflate segment ending in a sync
//! flush (byte-aligned, not final), so the segments concatenate into one valid zlib
//! stream (the technique of pigz); the Adler-32 of the whole image is combined from
//! the bands' checksums.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use miniz_oxide::deflate::core::{
    compress_to_output, create_comp_flags_from_zip_params, CompressionStrategy, CompressorOxide, TDEFLFlush,
    TDEFLStatus,
};
use tiny_skia::{FillRule, PathBuilder, Pixmap, Shader, Stroke, Transform};

use crate::scene::{Color, Paint, Scene, Shape};

/// Progress callback: (bands done, bands in all).
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// Draw the part of `scene` that falls in rows `y0..y0 + pixmap.height()`.
pub(crate) fn draw_band(scene: &Scene, pixmap: &mut Pixmap, y0: u32) {
    let bg = scene.background;
    pixmap.fill(tiny_skia::Color::from_rgba8(bg.r, bg.g, bg.b, 255));
    let top = y0 as f32;
    let bottom = top + pixmap.height() as f32;
    let t = Transform::from_translate(0.0, -top);
    for item in &scene.items {
        if item.y1 < top || item.y0 > bottom {
            continue;
        }
        let (color, stroke) = match item.paint {
            Paint::Fill(c) => (c, None),
            Paint::Stroke(c, w) => (c, Some(Stroke { width: w, ..Stroke::default() })),
        };
        let paint = paint_of(color);
        match &item.shape {
            Shape::Circle { cx, cy, r } => {
                if let Some(path) = PathBuilder::from_circle(*cx, *cy, *r) {
                    match &stroke {
                        Some(s) => pixmap.stroke_path(&path, &paint, s, t, None),
                        None => pixmap.fill_path(&path, &paint, FillRule::Winding, t, None),
                    }
                }
            }
            Shape::Path { path, even_odd } => match &stroke {
                Some(s) => pixmap.stroke_path(path, &paint, s, t, None),
                None => {
                    let rule = if *even_odd { FillRule::EvenOdd } else { FillRule::Winding };
                    pixmap.fill_path(path, &paint, rule, t, None)
                }
            },
            Shape::Text { path: Some(path), .. } => pixmap.fill_path(path, &paint, FillRule::Winding, t, None),
            Shape::Text { path: None, .. } => {}
        }
    }
}

fn paint_of(c: Color) -> tiny_skia::Paint<'static> {
    let mut p = tiny_skia::Paint::default();
    p.shader = Shader::SolidColor(tiny_skia::Color::from_rgba8(c.r, c.g, c.b, (c.a * 255.0).round() as u8));
    p.anti_alias = true;
    p
}

struct Band {
    deflated: Vec<u8>,
    adler: u32,
    raw_len: u64,
}

/// Encode `scene` as an sRGB PNG of `width`×`height` pixels, rendering `band_rows`
/// rows at a time on `threads` threads.
pub(crate) fn write_png<W: Write>(
    scene: &Scene,
    width: u32,
    height: u32,
    dpi: u32,
    band_rows: u32,
    threads: usize,
    mut out: W,
    progress: Option<Progress<'_>>,
) -> std::io::Result<()> {
    let band_rows = band_rows.clamp(1, height);
    let nbands = height.div_ceil(band_rows) as usize;

    out.write_all(b"\x89PNG\r\n\x1a\n")?;
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, adaptive filters, no interlace
    chunk(&mut out, b"IHDR", &ihdr)?;
    chunk(&mut out, b"sRGB", &[0])?;
    let ppm = (f64::from(dpi) / 0.0254).round() as u32;
    let mut phys = Vec::with_capacity(9);
    phys.extend_from_slice(&ppm.to_be_bytes());
    phys.extend_from_slice(&ppm.to_be_bytes());
    phys.push(1);
    chunk(&mut out, b"pHYs", &phys)?;

    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<(usize, Band)>(threads * 2);
    std::thread::scope(|s| -> std::io::Result<()> {
        for _ in 0..threads.max(1) {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || {
                let mut pixmap = Pixmap::new(width, band_rows).expect("band size is positive");
                let mut raw = Vec::with_capacity((width as usize * 3 + 1) * band_rows as usize);
                let mut compressor = CompressorOxide::new(create_comp_flags_from_zip_params(
                    1,
                    -15,
                    CompressionStrategy::RLE as i32,
                ));
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= nbands {
                        break;
                    }
                    let y0 = i as u32 * band_rows;
                    let rows = band_rows.min(height - y0);
                    if rows != pixmap.height() {
                        pixmap = Pixmap::new(width, rows).expect("band size is positive");
                    }
                    draw_band(scene, &mut pixmap, y0);
                    filter_rows(&pixmap, &mut raw);
                    compressor.reset();
                    let last = i + 1 == nbands;
                    let band = deflate(&mut compressor, &raw, last);
                    if tx.send((i, band)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);

        // zlib header: deflate, 32 KiB window, fastest level; check bits make it ≡ 0 mod 31
        let mut pending = BTreeMap::new();
        let mut written = 0;
        let mut adler = 1u32;
        let mut first = true;
        for (i, band) in rx {
            pending.insert(i, band);
            while let Some(band) = pending.remove(&written) {
                adler = adler32_combine(adler, band.adler, band.raw_len);
                if first {
                    let mut data = Vec::with_capacity(band.deflated.len() + 2);
                    data.extend_from_slice(&[0x78, 0x01]);
                    data.extend_from_slice(&band.deflated);
                    chunk(&mut out, b"IDAT", &data)?;
                    first = false;
                } else {
                    chunk(&mut out, b"IDAT", &band.deflated)?;
                }
                written += 1;
                if let Some(p) = progress {
                    p(written, nbands);
                }
            }
        }
        chunk(&mut out, b"IDAT", &adler.to_be_bytes())?;
        chunk(&mut out, b"IEND", &[])?;
        Ok(())
    })?;
    out.flush()
}

/// Rows of the band as PNG scanlines: RGB (the background is opaque, so premultiplied
/// equals straight colour) with the Sub filter, which needs no row from another band.
fn filter_rows(pixmap: &Pixmap, raw: &mut Vec<u8>) {
    raw.clear();
    let w = pixmap.width() as usize;
    for row in pixmap.data().chunks_exact(w * 4) {
        raw.push(1);
        let (mut pr, mut pg, mut pb) = (0u8, 0u8, 0u8);
        for px in row.chunks_exact(4) {
            raw.extend_from_slice(&[px[0].wrapping_sub(pr), px[1].wrapping_sub(pg), px[2].wrapping_sub(pb)]);
            (pr, pg, pb) = (px[0], px[1], px[2]);
        }
    }
}

fn deflate(c: &mut CompressorOxide, raw: &[u8], last: bool) -> Band {
    let mut deflated = Vec::with_capacity(raw.len() / 16 + 64);
    let flush = if last { TDEFLFlush::Finish } else { TDEFLFlush::Sync };
    let (status, _) = compress_to_output(c, raw, flush, |bytes| {
        deflated.extend_from_slice(bytes);
        true
    });
    debug_assert!(matches!(status, TDEFLStatus::Okay | TDEFLStatus::Done), "{status:?}");
    Band { deflated, adler: adler2::adler32_slice(raw), raw_len: raw.len() as u64 }
}

/// Adler-32 of A‖B from adler(A), adler(B) and len(B) (as zlib's adler32_combine).
fn adler32_combine(a1: u32, a2: u32, len2: u64) -> u32 {
    const BASE: u64 = 65_521;
    let rem = len2 % BASE;
    let mut sum1 = u64::from(a1 & 0xffff);
    let mut sum2 = (rem * sum1) % BASE;
    sum1 += u64::from(a2 & 0xffff) + BASE - 1;
    sum2 += u64::from(a1 >> 16) + u64::from(a2 >> 16) + BASE - rem;
    if sum1 >= BASE {
        sum1 -= BASE;
    }
    if sum1 >= BASE {
        sum1 -= BASE;
    }
    if sum2 >= BASE << 1 {
        sum2 -= BASE << 1;
    }
    if sum2 >= BASE {
        sum2 -= BASE;
    }
    ((sum2 << 16) | sum1) as u32
}

fn chunk<W: Write>(out: &mut W, kind: &[u8; 4], data: &[u8]) -> std::io::Result<()> {
    out.write_all(&(data.len() as u32).to_be_bytes())?;
    out.write_all(kind)?;
    out.write_all(data)?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.write_all(&crc.finalize().to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adler_of_parts_combines_to_adler_of_the_whole() {
        let a = b"the night sky over Madrid";
        let b = b" on the twelfth of August";
        let whole: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
        let combined = adler32_combine(adler2::adler32_slice(a), adler2::adler32_slice(b), b.len() as u64);
        assert_eq!(combined, adler2::adler32_slice(&whole));
    }
}
