//! The renderer: bands, preview vs print, formats, text.

use cielo_starmap::{
    render_png_preview, render_png_with_bands, render_print, OutputFormat, StarmapOptions,
};

fn opts() -> StarmapOptions {
    let mut o = StarmapOptions::new(40.4168, -3.7038, "2024-08-12T22:30:00Z".parse().unwrap());
    o.size = "a4".into();
    o.place = Some("Madrid, España".into());
    o.tz = Some("Europe/Madrid".into());
    o
}

struct Image {
    w: usize,
    h: usize,
    rgb: Vec<u8>,
    srgb: bool,
    dpi_ppm: Option<u32>,
}

fn decode(png_bytes: &[u8]) -> Image {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("valid PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader
        .next_frame(&mut buf)
        .expect("valid PNG data (zlib stream and checksums)");
    assert_eq!(frame.color_type, png::ColorType::Rgb);
    buf.truncate(frame.buffer_size());
    let info = reader.info();
    Image {
        w: frame.width as usize,
        h: frame.height as usize,
        rgb: buf,
        srgb: info.srgb.is_some(),
        dpi_ppm: info.pixel_dims.map(|d| d.xppu),
    }
}

#[test]
fn banded_rendering_matches_one_band_up_to_antialiasing_rounding() {
    let o = opts();
    let one = decode(&render_png_with_bands(&o, 420, 100_000, 1).unwrap());
    let banded = decode(&render_png_with_bands(&o, 420, 7, 2).unwrap());
    assert_eq!((one.w, one.h), (banded.w, banded.h));
    let diffs: Vec<u8> = one
        .rgb
        .iter()
        .zip(&banded.rgb)
        .map(|(a, b)| a.abs_diff(*b))
        .collect();
    let off = diffs.iter().filter(|d| **d > 1).count();
    let worst = diffs.iter().max().copied().unwrap_or(0);
    // Edges clipped at a band boundary may round differently by a few levels on a
    // handful of pixels; anything structural (a missing or doubled shape) is far more.
    assert!(
        off * 1000 < diffs.len(),
        "{off} of {} channel values differ",
        diffs.len()
    );
    assert!(worst <= 16, "largest channel difference {worst}");
}

#[test]
fn preview_matches_a_downscaled_print() {
    let o = opts();
    let print = decode(&render_png_with_bands(&o, 1200, 64, 2).unwrap());
    let preview = decode(&render_png_preview(&o, 300).unwrap());
    let f = print.h / preview.h;
    assert_eq!(f, 4);
    let mut total = 0.0;
    for y in 0..preview.h {
        for x in 0..preview.w {
            for c in 0..3 {
                let mut sum = 0u32;
                for dy in 0..f {
                    for dx in 0..f {
                        let (px, py) =
                            ((x * f + dx).min(print.w - 1), (y * f + dy).min(print.h - 1));
                        sum += u32::from(print.rgb[(py * print.w + px) * 3 + c]);
                    }
                }
                let down = sum as f64 / (f * f) as f64;
                total += (down - f64::from(preview.rgb[(y * preview.w + x) * 3 + c])).abs();
            }
        }
    }
    let mean = total / (preview.w * preview.h * 3) as f64;
    assert!(mean < 3.0, "mean absolute difference {mean:.2} of 255");
}

#[test]
fn png_is_srgb_and_records_the_dpi() {
    let mut o = opts();
    o.dpi = 72;
    let mut out = Vec::new();
    let info = render_print(&o, OutputFormat::Png, &mut out).unwrap();
    let img = decode(&out);
    assert_eq!((info.width, info.height), (595, 842));
    assert_eq!((img.w, img.h), (595, 842));
    assert!(img.srgb);
    assert_eq!(img.dpi_ppm, Some(2835));
}

#[test]
fn accented_titles_draw_their_accents() {
    let mut plain = opts();
    plain.title = Some("ANO NANDU".into());
    let mut accented = opts();
    accented.title = Some("AÑO ÑANDÚ".into());
    let a = decode(&render_png_preview(&plain, 600).unwrap());
    let b = decode(&render_png_preview(&accented, 600).unwrap());
    // Same letters, same widths: only the tildes and the acute accent add ink.
    let ink = |img: &Image| img.rgb.iter().map(|v| u64::from(*v)).sum::<u64>();
    assert!(ink(&b) > ink(&a), "the accents are drawn");
}

#[test]
fn unsupported_scripts_render_without_failing() {
    let mut o = opts();
    o.title = Some("星空 — ночное небо — سماء".into());
    let png = render_png_preview(&o, 400).unwrap();
    assert!(decode(&png).w > 0);
}

/// Minimal XML well-formedness: tags nest and close, attributes are quoted.
fn assert_well_formed_xml(s: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = s.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("tag closes") + start;
        let tag = &rest[start + 1..end];
        assert_eq!(tag.matches('"').count() % 2, 0, "quotes balance in <{tag}>");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "closing </{name}>");
        } else if !tag.ends_with('/') {
            stack.push(tag.split_whitespace().next().unwrap().to_owned());
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

#[test]
fn svg_output_is_well_formed_and_vector() {
    let mut o = opts();
    o.title = Some("Noche de San Juan & <más>".into());
    let mut out = Vec::new();
    let info = render_print(&o, OutputFormat::Svg, &mut out).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(s.starts_with("<?xml"));
    assert_eq!((info.width, info.height), (595, 842));
    assert!(s.contains(r#"width="595.28pt""#));
    assert!(
        s.matches("<circle").count() > 2_000,
        "stars are vector circles"
    );
    assert!(s.contains("aria-label=\"Noche de San Juan &amp; &lt;más&gt;\""));
    assert_well_formed_xml(&s);
}

#[test]
fn pdf_output_is_well_formed_with_the_font_embedded() {
    let mut out = Vec::new();
    let info = render_print(&opts(), OutputFormat::Pdf, &mut out).unwrap();
    assert_eq!((info.width, info.height), (595, 842));
    assert!(out.starts_with(b"%PDF-"));
    assert!(out.ends_with(b"%%EOF\n") || out.ends_with(b"%%EOF"));
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("/FontFile2"), "TrueType font embedded");
    assert!(text.contains("/ToUnicode"), "text extractable");
    // every xref offset points at "N 0 obj" (byte offsets: the file is binary)
    let xref_at = out
        .windows(6)
        .rposition(|w| w == b"\nxref\n")
        .expect("xref table")
        + 1;
    let xref = String::from_utf8_lossy(&out[xref_at..]).into_owned();
    let mut lines = xref.lines().skip(1);
    let count: usize = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    for (id, line) in lines.take(count).enumerate().skip(1) {
        let offset: usize = line[..10].parse().unwrap();
        assert!(
            out[offset..].starts_with(format!("{id} 0 obj").as_bytes()),
            "object {id} at {offset}"
        );
    }
}

#[test]
fn invalid_options_are_refused_before_rendering() {
    let mut o = opts();
    o.theme = "neon".into();
    let err = render_png_preview(&o, 300).unwrap_err();
    assert!(err.to_string().contains("theme"), "{err}");
}

#[test]
fn every_theme_and_size_renders_at_the_edges_of_the_supported_range() {
    let cases = [
        (90.0, 180.0, "1800-01-01T00:00:00Z"),
        (-90.0, -180.0, "2200-12-31T23:59:59Z"),
        (0.0, 0.0, "2024-04-08T18:20:00Z"), // near new Moon (eclipse day)
        (51.5, -0.1, "2024-09-18T02:30:00Z"), // full Moon
    ];
    let mut combos = Vec::new();
    for theme in cielo_starmap::themes() {
        for case in cases {
            combos.push((theme.id.clone(), "a4", case));
        }
    }
    for (i, size) in cielo_starmap::sizes().iter().enumerate() {
        combos.push(("classic-dark".to_owned(), size.id, cases[i % cases.len()]));
    }
    for (theme, size, (lat, lon, at)) in combos {
        let mut o = StarmapOptions::new(lat, lon, at.parse().unwrap());
        o.theme = theme.clone();
        o.size = size.into();
        o.bleed_mm = 3.0;
        let img = decode(&render_png_preview(&o, 160).unwrap());
        assert_eq!(img.w.max(img.h), 160, "{theme} {size} {at}");
    }
}

fn every_layout_and_shape() -> Vec<StarmapOptions> {
    let mut all = Vec::new();
    for layout in cielo_starmap::layouts() {
        for shape in cielo_starmap::shapes() {
            let mut o = opts();
            o.layout = layout.id.clone();
            o.shape = shape.id.clone();
            o.title = Some("我们的夜晚 · ليلتنا الأولى".into());
            o.font = "script".into();
            o.dpi = 72;
            if layout.skies == 2 {
                o.second = Some(cielo_starmap::SecondSky {
                    lat: 35.68,
                    lon: 139.69,
                    at: o.at,
                    tz: Some("Asia/Tokyo".into()),
                    place: Some("Tokyo".into()),
                });
            }
            all.push(o);
        }
    }
    all
}

#[test]
fn every_layout_and_shape_renders_in_png_svg_and_pdf() {
    for o in every_layout_and_shape() {
        let what = format!("{} {}", o.layout, o.shape);
        let mut png = Vec::new();
        let info = render_print(&o, OutputFormat::Png, &mut png).unwrap();
        let img = decode(&png);
        assert_eq!(
            (img.w as u32, img.h as u32),
            (info.width, info.height),
            "{what}"
        );
        assert_eq!((info.width, info.height), o.print_pixels(), "{what}");
        let mut svg = Vec::new();
        render_print(&o, OutputFormat::Svg, &mut svg).unwrap();
        assert_well_formed_xml(&String::from_utf8(svg).unwrap());
        let mut pdf = Vec::new();
        render_print(&o, OutputFormat::Pdf, &mut pdf).unwrap();
        let text = String::from_utf8_lossy(&pdf);
        assert!(
            text.contains("/FontFile3"),
            "{what}: the script font (CFF) is embedded"
        );
        assert!(
            text.contains("DroidSansFallbackFull"),
            "{what}: the CJK font is embedded"
        );
    }
}

#[test]
fn the_pdf_says_where_to_cut_and_the_png_is_the_size_with_bleed() {
    let mut o = opts();
    o.bleed_mm = 3.0;
    let mut pdf = Vec::new();
    let info = render_print(&o, OutputFormat::Pdf, &mut pdf).unwrap();
    let text = String::from_utf8_lossy(&pdf);
    // A4 plus 3 mm each side is 612.28 x 859.04 pt; the trim box is 8.5 pt in.
    assert_eq!((info.width, info.height), (612, 859));
    assert!(
        text.contains("/BleedBox [0 0 612.28"),
        "bleed box is the page"
    );
    assert!(
        text.contains("/TrimBox [8.50"),
        "trim box inset by the bleed"
    );
    let mut png = Vec::new();
    o.dpi = 300;
    let info = render_print(&o, OutputFormat::Png, &mut png).unwrap();
    assert_eq!((info.width, info.height), (2551, 3579));
}
