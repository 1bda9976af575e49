//! Embedded fonts (DejaVu Sans and Serif, Bitstream Vera licence) and simple line
//! layout: character → glyph through the font's cmap, advance widths, letter spacing.
//!
//! A character the chosen font lacks is taken from the other font; if neither has it
//! the font's `.notdef` box is drawn, so unsupported scripts stay visible and never fail.

use std::sync::OnceLock;

use tiny_skia::{Path, PathBuilder};

pub(crate) const SANS_TTF: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
pub(crate) const SERIF_TTF: &[u8] = include_bytes!("../fonts/DejaVuSerif.ttf");

/// The two embedded typefaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Font {
    Sans,
    Serif,
}

impl Font {
    pub(crate) fn face(self) -> &'static ttf_parser::Face<'static> {
        static SANS: OnceLock<ttf_parser::Face<'static>> = OnceLock::new();
        static SERIF: OnceLock<ttf_parser::Face<'static>> = OnceLock::new();
        match self {
            Font::Sans => SANS.get_or_init(|| {
                ttf_parser::Face::parse(SANS_TTF, 0).expect("embedded DejaVu Sans")
            }),
            Font::Serif => SERIF.get_or_init(|| {
                ttf_parser::Face::parse(SERIF_TTF, 0).expect("embedded DejaVu Serif")
            }),
        }
    }

    pub(crate) fn bytes(self) -> &'static [u8] {
        match self {
            Font::Sans => SANS_TTF,
            Font::Serif => SERIF_TTF,
        }
    }

    fn other(self) -> Font {
        match self {
            Font::Sans => Font::Serif,
            Font::Serif => Font::Sans,
        }
    }
}

/// One glyph placed on a line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PlacedGlyph {
    pub font: Font,
    pub id: u16,
    /// The character it shows (for the PDF's text extraction map).
    pub ch: char,
    /// Pen position from the start of the line, in output units.
    pub x: f32,
}

/// A laid-out single line of text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub glyphs: Vec<PlacedGlyph>,
    pub width: f32,
    pub size: f32,
}

/// Lay out `text` in `font` at `size` output units per em, with `spacing` extra
/// units between characters.
pub(crate) fn layout(font: Font, text: &str, size: f32, spacing: f32) -> Line {
    let mut glyphs = Vec::new();
    let mut x = 0.0;
    for ch in text.chars() {
        if ch.is_control() {
            continue;
        }
        let (f, id) = glyph_for(font, ch);
        let face = f.face();
        let scale = size / f32::from(face.units_per_em());
        glyphs.push(PlacedGlyph {
            font: f,
            id: id.0,
            ch,
            x,
        });
        x += f32::from(face.glyph_hor_advance(id).unwrap_or(0)) * scale + spacing;
    }
    let width = if glyphs.is_empty() { 0.0 } else { x - spacing };
    Line {
        glyphs,
        width,
        size,
    }
}

fn glyph_for(font: Font, ch: char) -> (Font, ttf_parser::GlyphId) {
    for f in [font, font.other()] {
        if let Some(id) = f.face().glyph_index(ch) {
            return (f, id);
        }
    }
    (font, ttf_parser::GlyphId(0))
}

/// Break `text` into lines no wider than `max_width`, at spaces.
pub(crate) fn wrap(font: Font, text: &str, size: f32, max_width: f32) -> Vec<Line> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut current = String::new();
        for word in para.split_whitespace() {
            let candidate = if current.is_empty() {
                word.to_owned()
            } else {
                format!("{current} {word}")
            };
            if !current.is_empty() && layout(font, &candidate, size, 0.0).width > max_width {
                lines.push(layout(font, &current, size, 0.0));
                current = word.to_owned();
            } else {
                current = candidate;
            }
        }
        if !current.is_empty() {
            lines.push(layout(font, &current, size, 0.0));
        }
    }
    lines
}

/// Outline of a laid-out line with its baseline starting at (x, y), as one path.
pub(crate) fn line_path(line: &Line, x: f32, y: f32) -> Option<Path> {
    let mut pb = PathBuilder::new();
    for g in &line.glyphs {
        let face = g.font.face();
        let scale = line.size / f32::from(face.units_per_em());
        let mut ob = Outline {
            pb: &mut pb,
            x: x + g.x,
            y,
            scale,
        };
        face.outline_glyph(ttf_parser::GlyphId(g.id), &mut ob);
    }
    pb.finish()
}

struct Outline<'a> {
    pb: &'a mut PathBuilder,
    x: f32,
    y: f32,
    scale: f32,
}

impl Outline<'_> {
    fn p(&self, x: f32, y: f32) -> (f32, f32) {
        (self.x + x * self.scale, self.y - y * self.scale)
    }
}

impl ttf_parser::OutlineBuilder for Outline<'_> {
    fn move_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.p(x, y);
        self.pb.move_to(x, y);
    }
    fn line_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.p(x, y);
        self.pb.line_to(x, y);
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let (x1, y1) = self.p(x1, y1);
        let (x, y) = self.p(x, y);
        self.pb.quad_to(x1, y1, x, y);
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let (x1, y1) = self.p(x1, y1);
        let (x2, y2) = self.p(x2, y2);
        let (x, y) = self.p(x, y);
        self.pb.cubic_to(x1, y1, x2, y2, x, y);
    }
    fn close(&mut self) {
        self.pb.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spanish_accents_map_to_real_glyphs() {
        let line = layout(Font::Serif, "Año Ñandú — canción", 40.0, 0.0);
        assert!(
            line.glyphs.iter().all(|g| g.id != 0),
            "every accented letter has a glyph"
        );
        assert!(line.width > 200.0);
    }

    #[test]
    fn characters_no_font_has_fall_back_to_a_visible_box() {
        let line = layout(Font::Sans, "星空", 40.0, 0.0);
        assert_eq!(line.glyphs.len(), 2);
        assert!(line.glyphs.iter().all(|g| g.id == 0));
        assert!(line.width > 0.0, "the placeholder box takes room");
        assert!(line_path(&line, 0.0, 50.0).is_some(), "and has an outline");
    }

    #[test]
    fn wrapping_keeps_lines_within_the_width() {
        let lines = wrap(
            Font::Sans,
            "para mi amor, que siempre mira las estrellas conmigo",
            20.0,
            200.0,
        );
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.width <= 200.0));
    }
}
