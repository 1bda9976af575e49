//! SVG output: the same display list as the raster, as vector shapes. Text is written
//! as glyph outlines (with the words in `aria-label`), so the file needs no font.

use std::fmt::Write as _;
use std::io::Write;

use tiny_skia::{Path, PathSegment};

use crate::scene::{Color, Only, Paint, Scene, Shape};

pub(crate) fn write_svg<W: Write>(scene: &Scene, mut out: W) -> std::io::Result<()> {
    let mut s = String::with_capacity(1 << 20);
    let (w, h) = (scene.width, scene.height);
    let _ = write!(
        s,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w:.2}pt" height="{h:.2}pt" viewBox="0 0 {w:.2} {h:.2}">
<rect x="0" y="0" width="{w:.2}" height="{h:.2}" fill="{}"/>
"#,
        hex(scene.background)
    );
    for item in scene.items.iter().filter(|i| i.only != Only::Raster) {
        let paint = paint_attrs(item.paint);
        match &item.shape {
            Shape::Circle { cx, cy, r } => {
                let _ = writeln!(
                    s,
                    r#"<circle cx="{cx:.2}" cy="{cy:.2}" r="{r:.3}" {paint}/>"#
                );
            }
            Shape::Path { path, even_odd } => {
                let rule = if *even_odd {
                    r#" fill-rule="evenodd""#
                } else {
                    ""
                };
                let _ = writeln!(s, r#"<path d="{}"{rule} {paint}/>"#, path_data(path));
            }
            Shape::Text {
                path: Some(path),
                line,
                ..
            } => {
                let words: String = line.glyphs.iter().map(|g| g.ch).collect();
                let _ = writeln!(
                    s,
                    r#"<path aria-label="{}" d="{}" {paint}/>"#,
                    escape(&words),
                    path_data(path)
                );
            }
            Shape::Text { path: None, .. } | Shape::Glow(_) => {}
        }
    }
    s.push_str("</svg>\n");
    out.write_all(s.as_bytes())?;
    out.flush()
}

fn paint_attrs(p: Paint) -> String {
    match p {
        Paint::Fill(c) if c.a >= 1.0 => format!(r#"fill="{}""#, hex(c)),
        Paint::Fill(c) => format!(r#"fill="{}" fill-opacity="{:.3}""#, hex(c), c.a),
        Paint::Stroke(c, w) => {
            format!(
                r#"fill="none" stroke="{}" stroke-opacity="{:.3}" stroke-width="{w:.3}""#,
                hex(c),
                c.a
            )
        }
    }
}

fn hex(c: Color) -> String {
    format!("#{:02x}{:02x}{:02x}", c.r, c.g, c.b)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn path_data(path: &Path) -> String {
    let mut d = String::new();
    for seg in path.segments() {
        let _ = match seg {
            PathSegment::MoveTo(p) => write!(d, "M{:.2} {:.2}", p.x, p.y),
            PathSegment::LineTo(p) => write!(d, "L{:.2} {:.2}", p.x, p.y),
            PathSegment::QuadTo(a, p) => write!(d, "Q{:.2} {:.2} {:.2} {:.2}", a.x, a.y, p.x, p.y),
            PathSegment::CubicTo(a, b, p) => {
                write!(
                    d,
                    "C{:.2} {:.2} {:.2} {:.2} {:.2} {:.2}",
                    a.x, a.y, b.x, b.y, p.x, p.y
                )
            }
            PathSegment::Close => write!(d, "Z"),
        };
    }
    d
}
