//! The public rendering entry points: one scene builder, three encoders.

use std::io::Write;

use crate::options::StarmapOptions;
use crate::raster::{write_png, Progress};
use crate::scene::{build, Scene};
use crate::Error;

/// Output file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutputFormat {
    /// sRGB PNG at the options' DPI, with the DPI recorded (pHYs).
    Png,
    /// Vector PDF with the fonts embedded; one page of the trim size plus bleed.
    Pdf,
    /// Vector SVG sized in points.
    Svg,
}

impl OutputFormat {
    /// The format for a file name's extension (`.png`, `.pdf`, `.svg`).
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "png" => Some(Self::Png),
            "pdf" => Some(Self::Pdf),
            "svg" => Some(Self::Svg),
            _ => None,
        }
    }

    /// The MIME type of the format.
    pub fn mime_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Pdf => "application/pdf",
            Self::Svg => "image/svg+xml",
        }
    }
}

/// What a render produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RenderInfo {
    /// Width in pixels (PNG) or points (PDF, SVG).
    pub width: u32,
    /// Height in pixels (PNG) or points (PDF, SVG).
    pub height: u32,
}

const PT_PER_MM: f64 = 72.0 / 25.4;

/// Rows per band for raster output: small enough that two bands in flight stay a few
/// megabytes at any width, large enough that per-band overhead stays negligible.
fn band_rows(width: u32) -> u32 {
    ((4 << 20) / (width.max(1) * 4)).clamp(16, 512)
}

fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8)
}

/// Preview: the same drawing as the print, scaled so its longer side is `max_px`.
pub fn render_png_preview(opts: &StarmapOptions, max_px: u32) -> Result<Vec<u8>, Error> {
    let (pw, ph) = opts.print_pixels();
    let scale = f64::from(max_px) / f64::from(pw.max(ph));
    let (w, h) = (
        ((f64::from(pw) * scale).round() as u32).max(1),
        ((f64::from(ph) * scale).round() as u32).max(1),
    );
    let units_per_mm = f64::from(opts.dpi) / 25.4 * scale;
    let scene = build(opts, units_per_mm, w as f32, h as f32)?;
    let mut out = Vec::with_capacity((w * h / 4) as usize);
    // A dozen bands: the disc's bands cost several times the margins', so smaller
    // pieces keep both cores busy to the end; more would only add per-band overhead.
    write_png(
        &scene,
        w,
        h,
        opts.dpi,
        h.div_ceil(12).max(16),
        threads(),
        &mut out,
        None,
    )?;
    Ok(out)
}

/// A framed mockup of the poster on a wall, as a `size`×`size` PNG: the poster is
/// the same drawing as the preview and the print, in a frame with a mat.
pub fn render_mockup_png(opts: &StarmapOptions, size: u32) -> Result<Vec<u8>, Error> {
    let scene = crate::scene::build_mockup(opts, size as f32)?;
    let mut out = Vec::with_capacity((size * size / 3) as usize);
    write_png(
        &scene,
        size,
        size,
        72,
        size.div_ceil(8).max(16),
        threads(),
        &mut out,
        None,
    )?;
    Ok(out)
}

/// Render the print file in `format` to `out`; returns its size.
pub fn render_print(
    opts: &StarmapOptions,
    format: OutputFormat,
    out: impl Write,
) -> Result<RenderInfo, Error> {
    render_print_with_progress(opts, format, out, None)
}

/// [`render_print`] with a progress callback `(done, total)` called as bands are written.
pub fn render_print_with_progress(
    opts: &StarmapOptions,
    format: OutputFormat,
    out: impl Write,
    progress: Option<Progress<'_>>,
) -> Result<RenderInfo, Error> {
    match format {
        OutputFormat::Png => {
            let (w, h) = opts.print_pixels();
            let scene = build(opts, f64::from(opts.dpi) / 25.4, w as f32, h as f32)?;
            write_png(
                &scene,
                w,
                h,
                opts.dpi,
                band_rows(w),
                threads(),
                out,
                progress,
            )?;
            Ok(RenderInfo {
                width: w,
                height: h,
            })
        }
        OutputFormat::Svg | OutputFormat::Pdf => {
            let scene = vector_scene(opts)?;
            let info = RenderInfo {
                width: scene.width.round() as u32,
                height: scene.height.round() as u32,
            };
            if format == OutputFormat::Svg {
                crate::svg::write_svg(&scene, out)?;
            } else {
                crate::pdf::write_pdf(&scene, out)?;
            }
            Ok(info)
        }
    }
}

fn vector_scene(opts: &StarmapOptions) -> Result<Scene, Error> {
    let s = opts.size_data();
    let w = (s.width_mm + 2.0 * opts.bleed_mm) * PT_PER_MM;
    let h = (s.height_mm + 2.0 * opts.bleed_mm) * PT_PER_MM;
    build(opts, PT_PER_MM, w as f32, h as f32)
}

/// Render a PNG with a chosen band height and thread count (tests and benchmarks).
#[doc(hidden)]
pub fn render_png_with_bands(
    opts: &StarmapOptions,
    max_px: u32,
    band_rows: u32,
    threads: usize,
) -> Result<Vec<u8>, Error> {
    let (pw, ph) = opts.print_pixels();
    let scale = f64::from(max_px) / f64::from(pw.max(ph));
    let (w, h) = (
        ((f64::from(pw) * scale).round() as u32).max(1),
        ((f64::from(ph) * scale).round() as u32).max(1),
    );
    let scene = build(opts, f64::from(opts.dpi) / 25.4 * scale, w as f32, h as f32)?;
    let mut out = Vec::new();
    write_png(&scene, w, h, opts.dpi, band_rows, threads, &mut out, None)?;
    Ok(out)
}

/// Build the preview scene only and return its item count (benchmarks).
#[doc(hidden)]
pub fn build_preview_scene(opts: &StarmapOptions, max_px: u32) -> Result<usize, Error> {
    let (pw, ph) = opts.print_pixels();
    let scale = f64::from(max_px) / f64::from(pw.max(ph));
    let scene = build(
        opts,
        f64::from(opts.dpi) / 25.4 * scale,
        pw as f32 * scale as f32,
        ph as f32 * scale as f32,
    )?;
    Ok(scene.items.len())
}
