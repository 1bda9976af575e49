//! PDF output: one page, vector shapes, and real text in the embedded DejaVu fonts
//! (whole TrueType files as CIDFontType2 with Identity-H, plus ToUnicode maps so the
//! words can be searched and copied). Subsetting would save ~1 MB per file; print labs
//! do not care and it keeps a dependency out.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};
use tiny_skia::{Path, PathSegment};

use crate::scene::{Color, Paint, Scene, Shape};
use crate::text::Font;

/// Bézier circle constant: control points at 0.5523 r approximate a quarter circle.
const KAPPA: f32 = 0.552_284_8;

pub(crate) fn write_pdf<W: Write>(scene: &Scene, mut out: W) -> std::io::Result<()> {
    let mut pdf = Pdf::new();
    let mut next = 1;
    let mut alloc = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    let catalog_id = alloc();
    let pages_id = alloc();
    let page_id = alloc();
    let content_id = alloc();

    let (w, h) = (scene.width, scene.height);
    let mut content = Content::new();
    // Scene coordinates run downwards from the top-left corner.
    content.transform([1.0, 0.0, 0.0, -1.0, 0.0, h]);
    fill_rgb(&mut content, scene.background);
    content.rect(0.0, 0.0, w, h);
    content.fill_nonzero();

    let alpha_names: Vec<String> = (0..=255).map(|i| format!("A{i}")).collect();
    let mut alphas: BTreeMap<u8, Name<'_>> = BTreeMap::new();
    let mut used: BTreeMap<Font, BTreeMap<u16, char>> = BTreeMap::new();
    let mut current_alpha = 255u8;

    for item in &scene.items {
        let (color, stroke_width) = match item.paint {
            Paint::Fill(c) => (c, None),
            Paint::Stroke(c, w) => (c, Some(w)),
        };
        let a = (color.a * 255.0).round() as u8;
        if a != current_alpha {
            let name = Name(alpha_names[a as usize].as_bytes());
            alphas.insert(a, name);
            content.set_parameters(name);
            current_alpha = a;
        }
        match &item.shape {
            Shape::Circle { cx, cy, r } => {
                circle(&mut content, *cx, *cy, *r);
                paint(&mut content, color, stroke_width, false);
            }
            Shape::Path { path, even_odd } => {
                path_ops(&mut content, path);
                paint(&mut content, color, stroke_width, *even_odd);
            }
            Shape::Text { line, x, y, .. } => {
                fill_rgb(&mut content, color);
                content.begin_text();
                let mut current: Option<Font> = None;
                // Each glyph at its shaped position (kerning, marks, right-to-left
                // runs are already resolved by the layout).
                for g in &line.glyphs {
                    if current != Some(g.font) {
                        content.set_font(Name(g.font.pdf_name().as_bytes()), line.size);
                        current = Some(g.font);
                    }
                    used.entry(g.font).or_default().insert(g.id, g.ch);
                    content.set_text_matrix([1.0, 0.0, 0.0, -1.0, x + g.x, *y + g.dy]);
                    content.show(Str(&g.id.to_be_bytes()));
                }
                content.end_text();
            }
        }
    }
    let content_bytes = deflate(&content.finish());
    pdf.stream(content_id, &content_bytes)
        .filter(Filter::FlateDecode);

    // Fonts (only those the text used).
    let mut font_refs = Vec::new();
    for (&font, glyphs) in &used {
        let (type0, cid, desc, file, cmap_id) = (alloc(), alloc(), alloc(), alloc(), alloc());
        write_font(&mut pdf, font, glyphs, type0, cid, desc, file, cmap_id);
        font_refs.push((font, type0));
    }
    let mut gs_refs = Vec::new();
    for (a, name) in &alphas {
        let id = alloc();
        let alpha = f32::from(*a) / 255.0;
        pdf.ext_graphics(id)
            .non_stroking_alpha(alpha)
            .stroking_alpha(alpha);
        gs_refs.push((*name, id));
    }

    pdf.catalog(catalog_id).pages(pages_id);
    pdf.pages(pages_id).kids([page_id]).count(1);
    let mut page = pdf.page(page_id);
    page.media_box(Rect::new(0.0, 0.0, w, h));
    // The lab cuts at the trim box; the bleed box is the whole page.
    let b = scene.bleed;
    page.bleed_box(Rect::new(0.0, 0.0, w, h));
    page.trim_box(Rect::new(b, b, w - b, h - b));
    page.parent(pages_id);
    page.contents(content_id);
    let mut resources = page.resources();
    {
        let mut fonts = resources.fonts();
        for (font, id) in &font_refs {
            fonts.pair(Name(font.pdf_name().as_bytes()), *id);
        }
    }
    {
        let mut states = resources.ext_g_states();
        for (name, id) in &gs_refs {
            states.pair(*name, *id);
        }
    }
    resources.finish();
    page.finish();

    out.write_all(&pdf.finish())?;
    out.flush()
}

/// A font file deflated once per process (the CJK font is stored deflated already).
fn packed_font(font: Font) -> &'static [u8] {
    if font == Font::Cjk {
        return crate::text::CJK_TTF_Z;
    }
    const N: usize = 10;
    static PACKED: [std::sync::OnceLock<Vec<u8>>; N] = [const { std::sync::OnceLock::new() }; N];
    PACKED[font as usize].get_or_init(|| deflate(font.bytes()))
}

#[allow(clippy::too_many_arguments)]
fn write_font(
    pdf: &mut Pdf,
    font: Font,
    glyphs: &BTreeMap<u16, char>,
    type0_id: Ref,
    cid_id: Ref,
    desc_id: Ref,
    file_id: Ref,
    cmap_id: Ref,
) {
    let name = Name(font.pdf_name().as_bytes());
    let face = font.face();
    let upem = face.units_per_em() as f32;
    let to_pdf = |v: i16| f32::from(v) * 1000.0 / upem;
    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };

    pdf.type0_font(type0_id)
        .base_font(name)
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_id)
        .to_unicode(cmap_id);

    let mut cid = pdf.cid_font(cid_id);
    // CFF outlines are a CIDFontType0 whose CIDs are the glyph ids (the font's
    // CFF is not CID-keyed); TrueType ones a CIDFontType2 with the identity map.
    cid.subtype(if font.is_cff() {
        CidFontType::Type0
    } else {
        CidFontType::Type2
    });
    cid.base_font(name);
    cid.system_info(system_info);
    cid.font_descriptor(desc_id);
    cid.default_width(0.0);
    if !font.is_cff() {
        cid.cid_to_gid_map_predefined(Name(b"Identity"));
    }
    {
        let mut widths = cid.widths();
        for gid in glyphs.keys() {
            let adv = face
                .glyph_hor_advance(ttf_parser::GlyphId(*gid))
                .unwrap_or(0);
            widths.consecutive(*gid, [f32::from(adv) * 1000.0 / upem]);
        }
    }
    cid.finish();

    let bb = face.global_bounding_box();
    let mut descriptor = pdf.font_descriptor(desc_id);
    descriptor
        .name(name)
        .flags(FontFlags::NON_SYMBOLIC)
        .bbox(Rect::new(
            to_pdf(bb.x_min),
            to_pdf(bb.y_min),
            to_pdf(bb.x_max),
            to_pdf(bb.y_max),
        ))
        .italic_angle(0.0)
        .ascent(to_pdf(face.ascender()))
        .descent(to_pdf(face.descender()))
        .cap_height(to_pdf(face.capital_height().unwrap_or(face.ascender())))
        .stem_v(80.0);
    if font.is_cff() {
        descriptor.font_file3(file_id);
    } else {
        descriptor.font_file2(file_id);
    }
    descriptor.finish();

    let mut stream = pdf.stream(file_id, packed_font(font));
    stream.filter(Filter::FlateDecode);
    if font.is_cff() {
        stream.pair(Name(b"Subtype"), Name(b"OpenType"));
    } else {
        stream.pair(Name(b"Length1"), font.bytes().len() as i32);
    }
    stream.finish();

    let mut cmap = UnicodeCmap::new(Name(b"Custom"), system_info);
    let unique: BTreeSet<(u16, char)> = glyphs.iter().map(|(g, c)| (*g, *c)).collect();
    for (gid, ch) in unique {
        if gid != 0 {
            cmap.pair(gid, ch);
        }
    }
    pdf.cmap(cmap_id, &cmap.finish());
}

fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

fn fill_rgb(content: &mut Content, c: Color) {
    content.set_fill_rgb(
        f32::from(c.r) / 255.0,
        f32::from(c.g) / 255.0,
        f32::from(c.b) / 255.0,
    );
}

fn paint(content: &mut Content, c: Color, stroke_width: Option<f32>, even_odd: bool) {
    match stroke_width {
        Some(w) => {
            content.set_stroke_rgb(
                f32::from(c.r) / 255.0,
                f32::from(c.g) / 255.0,
                f32::from(c.b) / 255.0,
            );
            content.set_line_width(w);
            content.stroke();
        }
        None => {
            fill_rgb(content, c);
            if even_odd {
                content.fill_even_odd();
            } else {
                content.fill_nonzero();
            }
        }
    }
}

fn circle(content: &mut Content, cx: f32, cy: f32, r: f32) {
    let k = KAPPA * r;
    content.move_to(cx + r, cy);
    content.cubic_to(cx + r, cy + k, cx + k, cy + r, cx, cy + r);
    content.cubic_to(cx - k, cy + r, cx - r, cy + k, cx - r, cy);
    content.cubic_to(cx - r, cy - k, cx - k, cy - r, cx, cy - r);
    content.cubic_to(cx + k, cy - r, cx + r, cy - k, cx + r, cy);
    content.close_path();
}

fn path_ops(content: &mut Content, path: &Path) {
    let mut last = tiny_skia::Point::zero();
    for seg in path.segments() {
        match seg {
            PathSegment::MoveTo(p) => {
                content.move_to(p.x, p.y);
                last = p;
            }
            PathSegment::LineTo(p) => {
                content.line_to(p.x, p.y);
                last = p;
            }
            PathSegment::QuadTo(c, p) => {
                // PDF has cubic curves only: raise the quadratic's degree.
                let c1 = (
                    last.x + 2.0 / 3.0 * (c.x - last.x),
                    last.y + 2.0 / 3.0 * (c.y - last.y),
                );
                let c2 = (p.x + 2.0 / 3.0 * (c.x - p.x), p.y + 2.0 / 3.0 * (c.y - p.y));
                content.cubic_to(c1.0, c1.1, c2.0, c2.1, p.x, p.y);
                last = p;
            }
            PathSegment::CubicTo(a, b, p) => {
                content.cubic_to(a.x, a.y, b.x, b.y, p.x, p.y);
                last = p;
            }
            PathSegment::Close => {
                content.close_path();
            }
        }
    }
}
