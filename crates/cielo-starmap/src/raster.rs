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
    compress_to_output, create_comp_flags_from_zip_params, CompressionStrategy, CompressorOxide,
    TDEFLFlush, TDEFLStatus,
};
use tiny_skia::{FillRule, PathBuilder, Pixmap, Shader, Stroke, Transform};

use crate::scene::{Color, Glow, Only, Paint, Scene, Shape};

/// Progress callback: (bands done, bands in all).
pub type Progress<'a> = &'a (dyn Fn(usize, usize) + Sync);

/// What the rasteriser fills for each item: stroke outlines and curves flattened to
/// line segments, made once per render. tiny-skia converts curves to edges in device
/// fixed-point, so a curve comes out slightly differently depending on where a band
/// starts; straight edges are exact under the band's integer translation, which makes
/// a banded render identical to an unbanded one. `None`: splat or nothing to draw.
pub(crate) fn raster_paths(scene: &Scene) -> Vec<Option<tiny_skia::Path>> {
    scene
        .items
        .iter()
        .map(|item| {
            if item.only == Only::Vector {
                return None;
            }
            let path = match (&item.shape, item.paint) {
                (Shape::Circle { r, .. }, Paint::Fill(_)) if *r < SPLAT_RADIUS => return None,
                (Shape::Circle { cx, cy, r }, _) => PathBuilder::from_circle(*cx, *cy, *r)?,
                (Shape::Path { path, .. }, _) => path.clone(),
                (Shape::Text { path, .. }, _) => path.clone()?,
                (Shape::Glow(_), _) => return None,
            };
            let path = match item.paint {
                // Under 1 px tiny-skia would switch to hairlines; a 1 px line with the
                // same ink (see draw_band) looks the same.
                Paint::Stroke(_, w) => path.stroke(
                    &Stroke {
                        width: w.max(1.0),
                        ..Stroke::default()
                    },
                    1.0,
                )?,
                Paint::Fill(_) => path,
            };
            flatten(&path)
        })
        .collect()
}

/// Below this radius (output pixels) a star is splatted instead of filled as a path.
const SPLAT_RADIUS: f32 = 1.2;

fn flatten(path: &tiny_skia::Path) -> Option<tiny_skia::Path> {
    use tiny_skia::PathSegment;
    const TOL: f32 = 0.05;
    let mut pb = PathBuilder::new();
    let mut last = tiny_skia::Point::zero();
    for seg in path.segments() {
        match seg {
            PathSegment::MoveTo(p) => {
                pb.move_to(p.x, p.y);
                last = p;
            }
            PathSegment::LineTo(p) => {
                pb.line_to(p.x, p.y);
                last = p;
            }
            PathSegment::QuadTo(c, p) => {
                let dd = ((last.x - 2.0 * c.x + p.x).powi(2) + (last.y - 2.0 * c.y + p.y).powi(2))
                    .sqrt();
                let n = ((dd / (8.0 * TOL)).sqrt().ceil() as usize).clamp(1, 100);
                for i in 1..=n {
                    let t = i as f32 / n as f32;
                    let u = 1.0 - t;
                    pb.line_to(
                        u * u * last.x + 2.0 * u * t * c.x + t * t * p.x,
                        u * u * last.y + 2.0 * u * t * c.y + t * t * p.y,
                    );
                }
                last = p;
            }
            PathSegment::CubicTo(c1, c2, p) => {
                let d1 = ((last.x - 2.0 * c1.x + c2.x).powi(2)
                    + (last.y - 2.0 * c1.y + c2.y).powi(2))
                .sqrt();
                let d2 =
                    ((c1.x - 2.0 * c2.x + p.x).powi(2) + (c1.y - 2.0 * c2.y + p.y).powi(2)).sqrt();
                let n = ((0.75 * d1.max(d2) / TOL).sqrt().ceil() as usize).clamp(1, 100);
                for i in 1..=n {
                    let t = i as f32 / n as f32;
                    let u = 1.0 - t;
                    let (a, b, cc, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
                    pb.line_to(
                        a * last.x + b * c1.x + cc * c2.x + d * p.x,
                        a * last.y + b * c1.y + cc * c2.y + d * p.y,
                    );
                }
                last = p;
            }
            PathSegment::Close => pb.close(),
        }
    }
    pb.finish()
}

/// Draw the part of `scene` that falls in rows `y0..y0 + pixmap.height()`; `paths`
/// comes from [`raster_paths`].
pub(crate) fn draw_band(
    scene: &Scene,
    paths: &[Option<tiny_skia::Path>],
    pixmap: &mut Pixmap,
    y0: u32,
) {
    let bg = scene.background;
    pixmap.fill(tiny_skia::Color::from_rgba8(bg.r, bg.g, bg.b, 255));
    let top = y0 as f32;
    let bottom = top + pixmap.height() as f32;
    let t = Transform::from_translate(0.0, -top);
    for (item, path) in scene.items.iter().zip(paths) {
        if item.y1 < top || item.y0 > bottom || item.only == Only::Vector {
            continue;
        }
        match (item.paint, &item.shape, path) {
            (Paint::Fill(c), Shape::Glow(g), _) => glow(pixmap, g, c, top),
            (Paint::Fill(c), Shape::Circle { cx, cy, r }, None) => {
                splat(pixmap, *cx, *cy - top, *r, c)
            }
            (_, _, None) => {}
            (Paint::Stroke(c, w), _, Some(path)) => {
                let c = Color {
                    a: c.a * w.min(1.0),
                    ..c
                };
                pixmap.fill_path(path, &paint_of(c), FillRule::Winding, t, None);
            }
            (Paint::Fill(c), shape, Some(path)) => {
                let rule = match shape {
                    Shape::Path { even_odd: true, .. } => FillRule::EvenOdd,
                    _ => FillRule::Winding,
                };
                pixmap.fill_path(path, &paint_of(c), rule, t, None);
            }
        }
    }
}

/// Blend a glow's alpha map, bilinearly interpolated, into the band whose first
/// row is `top`; only pixels near a non-empty cell are touched.
fn glow(pixmap: &mut Pixmap, g: &Glow, c: Color, top: f32) {
    let (w, h) = (pixmap.width() as usize, pixmap.height() as usize);
    let data = pixmap.data_mut();
    let (cr, cg, cb) = (u32::from(c.r), u32::from(c.g), u32::from(c.b));
    // Below half a step of 8-bit colour a cell changes nothing.
    let faint = 0.5 / 255.0;
    let zeros = vec![0.0f32; g.w];
    let map_row = |i: isize| -> &[f32] {
        if i < 0 || i as usize >= g.h {
            &zeros
        } else {
            &g.alpha[i as usize * g.w..(i as usize + 1) * g.w]
        }
    };
    for py in 0..h {
        // Map coordinates of the pixel centre, cell centres at integers.
        let fy = (top + py as f32 + 0.5 - g.y0) / g.cell - 0.5;
        let i = fy.floor() as isize;
        if i < -1 || i >= g.h as isize {
            continue;
        }
        let ty = fy - i as f32;
        let (r0, r1) = (map_row(i), map_row(i + 1));
        // Columns holding any light in these two rows.
        let lit = |j: &usize| r0[*j] > 0.0 || r1[*j] > 0.0;
        let (Some(first), Some(last)) = ((0..g.w).find(lit), (0..g.w).rev().find(lit)) else {
            continue;
        };
        let col = |j: isize| -> f32 {
            if j < 0 || j as usize >= g.w {
                0.0
            } else {
                let j = j as usize;
                (r0[j] * (1.0 - ty) + r1[j] * ty) * c.a
            }
        };
        let row = py * w;
        let mut left = col(first as isize - 1);
        for j in first as isize - 1..=last as isize {
            let right = col(j + 1);
            if left < faint && right < faint {
                left = right;
                continue;
            }
            // Pixels whose centres fall between cell centres j and j + 1.
            let xa = g.x0 + (j as f32 + 0.5) * g.cell;
            let x_start = (xa - 0.5).ceil().max(0.0);
            let x_end = (xa + g.cell - 0.5).ceil().min(w as f32);
            if x_start < x_end {
                // 16.16 fixed point along the span.
                let step = ((right - left) / g.cell * 65536.0 * 256.0) as i64;
                let mut a = ((left + (right - left) / g.cell * (x_start + 0.5 - xa))
                    * 65536.0
                    * 256.0) as i64;
                let span = &mut data[(row + x_start as usize) * 4..(row + x_end as usize) * 4];
                for px in span.chunks_exact_mut(4) {
                    // Even steps of opacity: the glow's gradients stay smooth to the
                    // eye and compress into far fewer distinct runs.
                    let ai = ((a >> 16).clamp(0, 256) as u32) & !1;
                    if ai > 0 {
                        let inv = 256 - ai;
                        px[0] = ((cr * ai + u32::from(px[0]) * inv) >> 8) as u8;
                        px[1] = ((cg * ai + u32::from(px[1]) * inv) >> 8) as u8;
                        px[2] = ((cb * ai + u32::from(px[2]) * inv) >> 8) as u8;
                    }
                    a += step;
                }
            }
            left = right;
        }
    }
}

/// A dot smaller than a pixel or two, drawn as a square of the same area with exact
/// pixel coverage: the same light as the anti-aliased disc, without the cost of a path
/// fill (thousands of faint stars in a preview are most of its drawing time).
fn splat(pixmap: &mut Pixmap, cx: f32, cy: f32, r: f32, c: Color) {
    let half = 0.5 * std::f32::consts::PI.sqrt() * r;
    let (x0, x1, y0, y1) = (cx - half, cx + half, cy - half, cy + half);
    let (w, h) = (pixmap.width() as i32, pixmap.height() as i32);
    let data = pixmap.data_mut();
    for py in (y0.floor() as i32).max(0)..(y1.ceil() as i32).min(h) {
        let cov_y = (y1.min(py as f32 + 1.0) - y0.max(py as f32)).max(0.0);
        for px in (x0.floor() as i32).max(0)..(x1.ceil() as i32).min(w) {
            let cov_x = (x1.min(px as f32 + 1.0) - x0.max(px as f32)).max(0.0);
            let a = c.a * cov_x * cov_y;
            if a <= 0.0 {
                continue;
            }
            let i = (py * w + px) as usize * 4;
            let blend = |d: u8, s: u8| (f32::from(s) * a + f32::from(d) * (1.0 - a)).round() as u8;
            data[i] = blend(data[i], c.r);
            data[i + 1] = blend(data[i + 1], c.g);
            data[i + 2] = blend(data[i + 2], c.b);
        }
    }
}

fn paint_of(c: Color) -> tiny_skia::Paint<'static> {
    tiny_skia::Paint {
        shader: Shader::SolidColor(tiny_skia::Color::from_rgba8(
            c.r,
            c.g,
            c.b,
            (c.a * 255.0).round() as u8,
        )),
        anti_alias: true,
        ..tiny_skia::Paint::default()
    }
}

struct Band {
    deflated: Vec<u8>,
    adler: u32,
    raw_len: u64,
}

/// Encode `scene` as an sRGB PNG of `width`×`height` pixels, rendering `band_rows`
/// rows at a time on `threads` threads.
#[allow(clippy::too_many_arguments)] // one call site per caller; a struct would only rename them
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

    let paths = raster_paths(scene);
    let paths = &paths;
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<(usize, Band)>(threads * 2);
    std::thread::scope(|s| -> std::io::Result<()> {
        for _ in 0..threads.max(1) {
            let tx = tx.clone();
            let next = &next;
            s.spawn(move || {
                let Scratch {
                    mut pixmap,
                    mut raw,
                    mut compressor,
                } = Scratch::take(width, band_rows);
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
                    draw_band(scene, paths, &mut pixmap, y0);
                    filter_rows(&pixmap, &mut raw);
                    compressor.reset();
                    let last = i + 1 == nbands;
                    let band = deflate(&mut compressor, &raw, last);
                    if tx.send((i, band)).is_err() {
                        break;
                    }
                }
                Scratch {
                    pixmap,
                    raw,
                    compressor,
                }
                .give_back();
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

/// A worker's buffers, kept between renders: a preview is short enough that fresh
/// allocations (and the page faults of touching them) would be a tenth of its time.
struct Scratch {
    pixmap: Pixmap,
    raw: Vec<u8>,
    compressor: Box<CompressorOxide>,
}

static SCRATCH: std::sync::Mutex<Vec<Scratch>> = std::sync::Mutex::new(Vec::new());

impl Scratch {
    fn take(width: u32, rows: u32) -> Self {
        let pooled = SCRATCH.lock().map(|mut v| v.pop()).unwrap_or(None);
        match pooled {
            Some(mut s) => {
                if (s.pixmap.width(), s.pixmap.height()) != (width, rows) {
                    s.pixmap = Pixmap::new(width, rows).expect("band size is positive");
                }
                s
            }
            None => Scratch {
                pixmap: Pixmap::new(width, rows).expect("band size is positive"),
                raw: Vec::new(),
                compressor: Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(
                    1,
                    -15,
                    CompressionStrategy::RLE as i32,
                ))),
            },
        }
    }

    fn give_back(self) {
        // Print-sized buffers are not worth keeping around between jobs.
        if self.pixmap.data().len() <= 16 << 20 {
            if let Ok(mut v) = SCRATCH.lock() {
                if v.len() < 4 {
                    v.push(self);
                }
            }
        }
    }
}

/// Rows of the band as PNG scanlines: RGB (the background is opaque, so premultiplied
/// equals straight colour) with the Sub filter, which needs no row from another band.
fn filter_rows(pixmap: &Pixmap, raw: &mut Vec<u8>) {
    let w = pixmap.width() as usize;
    let stride = 1 + 3 * w;
    raw.resize(stride * pixmap.height() as usize, 0);
    for (src, dst) in pixmap
        .data()
        .chunks_exact(w * 4)
        .zip(raw.chunks_exact_mut(stride))
    {
        dst[0] = 1;
        let mut prev = [0u8; 3];
        for (px, out) in src.chunks_exact(4).zip(dst[1..].chunks_exact_mut(3)) {
            out[0] = px[0].wrapping_sub(prev[0]);
            out[1] = px[1].wrapping_sub(prev[1]);
            out[2] = px[2].wrapping_sub(prev[2]);
            prev = [px[0], px[1], px[2]];
        }
    }
}

fn deflate(c: &mut CompressorOxide, raw: &[u8], last: bool) -> Band {
    let mut deflated = Vec::with_capacity(raw.len() / 16 + 64);
    let flush = if last {
        TDEFLFlush::Finish
    } else {
        TDEFLFlush::Sync
    };
    let (status, _) = compress_to_output(c, raw, flush, |bytes| {
        deflated.extend_from_slice(bytes);
        true
    });
    debug_assert!(
        matches!(status, TDEFLStatus::Okay | TDEFLStatus::Done),
        "{status:?}"
    );
    Band {
        deflated,
        adler: adler2::adler32_slice(raw),
        raw_len: raw.len() as u64,
    }
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
        let combined = adler32_combine(
            adler2::adler32_slice(a),
            adler2::adler32_slice(b),
            b.len() as u64,
        );
        assert_eq!(combined, adler2::adler32_slice(&whole));
    }
}
