//! Embedded fonts and text layout: bidirectional reordering (`unicode-bidi`),
//! shaping with kerning, ligatures and joining (`rustybuzz`), and font fallback.
//!
//! Each character is drawn by the first font of a chain that has it: the chosen font,
//! then its DejaVu companion, then the script fonts (Arabic, Hebrew, Devanagari, Thai,
//! Chinese/Japanese/Korean), then the other DejaVu. Text no font can draw is refused
//! by validation ([`unsupported`]) before it reaches a poster; layout itself never
//! fails (such a character would show the font's `.notdef` box).

use std::ops::Range;
use std::sync::OnceLock;

use tiny_skia::{Path, PathBuilder};

/// The embedded typefaces (see `NOTICE.md` for their sources and licences).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Font {
    /// DejaVu Sans: the fixed words, and Latin, Greek, Cyrillic, Arabic, Hebrew.
    Sans,
    /// DejaVu Serif: the classic title and message.
    Serif,
    /// Noto Serif Display: the `display` font option.
    Display,
    /// Comfortaa: the `rounded` font option.
    Rounded,
    /// Dancing Script: the `script` font option (CFF outlines).
    Script,
    /// Noto Naskh Arabic.
    Arabic,
    /// Noto Sans Hebrew.
    Hebrew,
    /// Noto Sans Devanagari.
    Devanagari,
    /// Noto Sans Thai.
    Thai,
    /// Droid Sans Fallback: Chinese, Japanese, Korean (stored deflated, inflated on
    /// first use).
    Cjk,
}

const SANS_TTF: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
const SERIF_TTF: &[u8] = include_bytes!("../fonts/DejaVuSerif.ttf");
const DISPLAY_TTF: &[u8] = include_bytes!("../fonts/NotoSerifDisplay-Regular.ttf");
const ROUNDED_TTF: &[u8] = include_bytes!("../fonts/Comfortaa-Regular.ttf");
const SCRIPT_OTF: &[u8] = include_bytes!("../fonts/DancingScript-Regular.otf");
const ARABIC_TTF: &[u8] = include_bytes!("../fonts/NotoNaskhArabic-Regular.ttf");
const HEBREW_TTF: &[u8] = include_bytes!("../fonts/NotoSansHebrew-Regular.ttf");
const DEVANAGARI_TTF: &[u8] = include_bytes!("../fonts/NotoSansDevanagari-Regular.ttf");
const THAI_TTF: &[u8] = include_bytes!("../fonts/NotoSansThai-Regular.ttf");
/// zlib stream of DroidSansFallbackFull.ttf (4 MB raw, 2 MB deflated); the PDF
/// writer embeds it as is (FlateDecode).
pub(crate) const CJK_TTF_Z: &[u8] = include_bytes!("../fonts/DroidSansFallbackFull.ttf.z");

/// Script fonts tried after the chosen font and its DejaVu companion.
const SCRIPT_FALLBACKS: [Font; 5] = [
    Font::Arabic,
    Font::Hebrew,
    Font::Devanagari,
    Font::Thai,
    Font::Cjk,
];

/// The font choices for the title and message: (option value, font, name for people).
pub const TITLE_FONTS: [(&str, &str); 4] = [
    ("classic", "DejaVu Serif"),
    ("display", "Noto Serif Display"),
    ("rounded", "Comfortaa"),
    ("script", "Dancing Script"),
];

impl Font {
    /// The title font for a `font` option value (see [`TITLE_FONTS`]).
    pub(crate) fn for_title(option: &str) -> Option<Font> {
        match option {
            "classic" => Some(Font::Serif),
            "display" => Some(Font::Display),
            "rounded" => Some(Font::Rounded),
            "script" => Some(Font::Script),
            _ => None,
        }
    }

    /// The font file (TrueType or OpenType/CFF).
    pub(crate) fn bytes(self) -> &'static [u8] {
        match self {
            Font::Sans => SANS_TTF,
            Font::Serif => SERIF_TTF,
            Font::Display => DISPLAY_TTF,
            Font::Rounded => ROUNDED_TTF,
            Font::Script => SCRIPT_OTF,
            Font::Arabic => ARABIC_TTF,
            Font::Hebrew => HEBREW_TTF,
            Font::Devanagari => DEVANAGARI_TTF,
            Font::Thai => THAI_TTF,
            Font::Cjk => {
                static RAW: OnceLock<Vec<u8>> = OnceLock::new();
                RAW.get_or_init(|| {
                    miniz_oxide::inflate::decompress_to_vec_zlib(CJK_TTF_Z)
                        .expect("embedded CJK font inflates")
                })
            }
        }
    }

    /// Whether the outlines are CFF (embedded in PDF as FontFile3/OpenType).
    pub(crate) fn is_cff(self) -> bool {
        matches!(self, Font::Script)
    }

    /// PostScript-style name used in the PDF.
    pub(crate) fn pdf_name(self) -> &'static str {
        match self {
            Font::Sans => "DejaVuSans",
            Font::Serif => "DejaVuSerif",
            Font::Display => "NotoSerifDisplay-Regular",
            Font::Rounded => "Comfortaa-Regular",
            Font::Script => "DancingScript-Regular",
            Font::Arabic => "NotoNaskhArabic-Regular",
            Font::Hebrew => "NotoSansHebrew-Regular",
            Font::Devanagari => "NotoSansDevanagari-Regular",
            Font::Thai => "NotoSansThai-Regular",
            Font::Cjk => "DroidSansFallbackFull",
        }
    }

    /// The parsed face (shaping tables and, through `Deref`, the `ttf-parser` face).
    pub(crate) fn face(self) -> &'static rustybuzz::Face<'static> {
        const N: usize = 10;
        static FACES: [OnceLock<rustybuzz::Face<'static>>; N] = [const { OnceLock::new() }; N];
        FACES[self as usize].get_or_init(|| {
            rustybuzz::Face::from_slice(self.bytes(), 0).expect("embedded font parses")
        })
    }

    fn has(self, ch: char) -> bool {
        if self == Font::Cjk && !is_cjk(ch) {
            // Inflating 4 MB for a character the other fonts may have is wasteful,
            // and its Latin is not the look we want.
            return false;
        }
        self.face().glyph_index(ch).is_some()
    }

    /// The fallback chain starting at this font.
    fn chain(self) -> impl Iterator<Item = Font> {
        let companion = match self {
            Font::Sans => Font::Serif,
            _ => Font::Sans,
        };
        let same = match self {
            Font::Sans | Font::Serif => None,
            Font::Rounded => Some(Font::Sans),
            _ => Some(Font::Serif),
        };
        std::iter::once(self)
            .chain(same)
            .chain(SCRIPT_FALLBACKS)
            .chain(std::iter::once(companion))
    }
}

fn is_cjk(ch: char) -> bool {
    matches!(ch as u32,
        0x1100..=0x11FF | 0x2E80..=0x2FDF | 0x3000..=0x30FF | 0x3100..=0x31FF
        | 0x3200..=0x9FFF | 0xA960..=0xA97F | 0xAC00..=0xD7FF | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFFEF | 0x20000..=0x3FFFF)
}

/// Characters that draw nothing by themselves and follow their neighbours' font:
/// joiners, variation selectors, direction marks.
fn is_invisible(ch: char) -> bool {
    matches!(ch as u32, 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2069 | 0xFE00..=0xFE0F | 0xFEFF)
}

/// The characters of `text` that no embedded font can draw (each once, in order),
/// starting from the chosen font. Empty: the text can be printed.
pub(crate) fn unsupported(text: &str, font: Font) -> Vec<char> {
    let mut missing: Vec<char> = Vec::new();
    for ch in text.chars() {
        if ch.is_whitespace() || ch.is_control() || is_invisible(ch) || missing.contains(&ch) {
            continue;
        }
        let combining = unicode_bidi::bidi_class(ch) == unicode_bidi::BidiClass::NSM;
        let drawable = font.chain().any(|f| f.has(ch)) || (combining && Font::Sans.has(ch));
        if !drawable {
            missing.push(ch);
        }
    }
    missing
}

/// One glyph placed on a line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PlacedGlyph {
    pub font: Font,
    pub id: u16,
    /// The first character of its cluster (for the PDF's text extraction map).
    pub ch: char,
    /// Pen position from the start of the line, in output units.
    pub x: f32,
    /// Offset below the baseline, in output units (marks, Devanagari matras).
    pub dy: f32,
}

/// A laid-out single line of text, glyphs in visual order (left to right).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Line {
    pub glyphs: Vec<PlacedGlyph>,
    pub width: f32,
    pub size: f32,
}

/// Lay out `text` in `font` at `size` output units per em, with `spacing` extra
/// units between the letters of alphabetic scripts (never inside joined scripts).
pub(crate) fn layout(font: Font, text: &str, size: f32, spacing: f32) -> Line {
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    let mut glyphs = Vec::new();
    let mut x = 0.0f32;
    let mut trailing = 0.0f32;
    if !text.is_empty() {
        let bidi = unicode_bidi::BidiInfo::new(&text, None);
        for para in &bidi.paragraphs {
            let (levels, runs) = bidi.visual_runs(para, para.range.clone());
            for run in runs {
                let rtl = levels[run.start].is_rtl();
                let mut segments = font_segments(&text, run, font);
                if rtl {
                    segments.reverse();
                }
                for (f, range) in segments {
                    shape_segment(
                        &text[range],
                        f,
                        rtl,
                        size,
                        spacing,
                        (&mut x, &mut trailing),
                        &mut glyphs,
                    );
                }
            }
        }
    }
    let width = (x - trailing).max(0.0);
    Line {
        glyphs,
        width,
        size,
    }
}

/// Split a run (logical order) into pieces drawn by one font each.
fn font_segments(text: &str, run: Range<usize>, font: Font) -> Vec<(Font, Range<usize>)> {
    let mut out: Vec<(Font, Range<usize>)> = Vec::new();
    for (i, ch) in text[run.clone()].char_indices() {
        let at = run.start + i;
        let end = at + ch.len_utf8();
        let follows = ch.is_whitespace()
            || is_invisible(ch)
            || unicode_bidi::bidi_class(ch) == unicode_bidi::BidiClass::NSM;
        if let Some((f, r)) = out.last_mut() {
            // Spaces, marks and joiners stay with the run they follow when its font
            // has them (or when no font has them); other characters by their font.
            let stays = follows && (f.has(ch) || !font.chain().any(|g| g.has(ch)));
            if stays || *f == pick(font, ch) {
                r.end = end;
                continue;
            }
        }
        out.push((pick(font, ch), at..end));
    }
    out
}

fn pick(font: Font, ch: char) -> Font {
    font.chain().find(|f| f.has(ch)).unwrap_or(font)
}

fn shape_segment(
    s: &str,
    font: Font,
    rtl: bool,
    size: f32,
    spacing: f32,
    (x, trailing): (&mut f32, &mut f32),
    out: &mut Vec<PlacedGlyph>,
) {
    let face = font.face();
    let scale = size / face.units_per_em() as f32;
    let mut buf = rustybuzz::UnicodeBuffer::new();
    buf.push_str(s);
    buf.set_direction(if rtl {
        rustybuzz::Direction::RightToLeft
    } else {
        rustybuzz::Direction::LeftToRight
    });
    buf.guess_segment_properties();
    let shaped = rustybuzz::shape(face, &[], buf);
    // Letter spacing only for scripts whose letters stand apart.
    let spaced = s.chars().all(|c| (c as u32) < 0x0590 || c.is_whitespace());
    let infos = shaped.glyph_infos();
    let positions = shaped.glyph_positions();
    for (info, pos) in infos.iter().zip(positions) {
        let ch = s
            .get(info.cluster as usize..)
            .and_then(|t| t.chars().next())
            .unwrap_or(' ');
        out.push(PlacedGlyph {
            font,
            id: info.glyph_id as u16,
            ch,
            x: *x + pos.x_offset as f32 * scale,
            dy: -(pos.y_offset as f32) * scale,
        });
        *x += pos.x_advance as f32 * scale;
        *trailing = 0.0;
        if spaced && pos.x_advance != 0 {
            *x += spacing;
            *trailing = spacing;
        }
    }
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
        let scale = line.size / face.units_per_em() as f32;
        let mut ob = Outline {
            pb: &mut pb,
            x: x + g.x,
            y: y + g.dy,
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

    fn ids(line: &Line) -> Vec<u16> {
        line.glyphs.iter().map(|g| g.id).collect()
    }

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
    fn kerning_pulls_pairs_together() {
        // "AV" is narrower than "A" + "V" laid out apart.
        let av = layout(Font::Serif, "AV", 100.0, 0.0).width;
        let apart =
            layout(Font::Serif, "A", 100.0, 0.0).width + layout(Font::Serif, "V", 100.0, 0.0).width;
        assert!(av < apart - 1.0, "AV {av} vs {apart}");
    }

    #[test]
    fn chinese_is_drawn_by_the_cjk_font_not_as_boxes() {
        let line = layout(Font::Serif, "我们的夜晚", 40.0, 0.0);
        assert_eq!(line.glyphs.len(), 5);
        assert!(line.glyphs.iter().all(|g| g.font == Font::Cjk && g.id != 0));
        assert!(unsupported("我们的夜晚", Font::Serif).is_empty());
        assert!(line_path(&line, 0.0, 50.0).is_some());
    }

    #[test]
    fn arabic_is_joined_and_runs_right_to_left() {
        let text = "ليلتنا الأولى";
        let line = layout(Font::Serif, text, 40.0, 4.0);
        assert!(line
            .glyphs
            .iter()
            .all(|g| g.id != 0 && g.font == Font::Arabic));
        // Joined: the shaped glyphs are the contextual forms, not the isolated
        // letters the cmap gives.
        let face = Font::Arabic.face();
        let isolated: Vec<u16> = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| face.glyph_index(c).unwrap().0)
            .collect();
        let shaped = ids(&line);
        let same = shaped.iter().filter(|g| isolated.contains(g)).count();
        assert!(same < isolated.len() / 2, "{shaped:?} vs {isolated:?}");
        // Right to left: the first letter (lam, ل) is the rightmost glyph.
        let first = line
            .glyphs
            .iter()
            .filter(|g| g.ch == 'ل')
            .map(|g| g.x)
            .fold(f32::MIN, f32::max);
        let last = line
            .glyphs
            .iter()
            .find(|g| g.ch == 'ى')
            .map(|g| g.x)
            .unwrap();
        assert!(first > last, "ل at {first}, ى at {last}");
        // Letter spacing never breaks the joins.
        assert_eq!(line.width, layout(Font::Serif, text, 40.0, 0.0).width);
    }

    #[test]
    fn mixed_directions_keep_each_run_in_its_order() {
        let line = layout(Font::Sans, "Ana ❤ عمر", 40.0, 0.0);
        let a = line.glyphs.iter().find(|g| g.ch == 'A').unwrap().x;
        let ain = line.glyphs.iter().find(|g| g.ch == 'ع').unwrap().x;
        assert!(a < ain, "Latin first on the left, Arabic after it");
    }

    #[test]
    fn text_no_font_can_draw_is_named() {
        assert_eq!(
            unsupported("Hola 🦄 mundo \u{1F984}", Font::Serif),
            vec!['🦄']
        );
        // No embedded font has Hangul syllables or Tamil: refused, not boxes.
        assert_eq!(unsupported("별빛", Font::Serif), vec!['별', '빛']);
        let tamil = unsupported("வணக்கம்", Font::Sans);
        assert!(tamil.contains(&'வ'), "{tamil:?}");
        for ok in [
            "Nuestra noche",
            "Ночь",
            "שלום",
            "नमस्ते",
            "สวัสดี",
            "星空 ほし",
            "ليلتنا الأولى",
            "e\u{301}",
        ] {
            assert!(
                unsupported(ok, Font::Script).is_empty(),
                "{ok}: {:?}",
                unsupported(ok, Font::Script)
            );
        }
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
