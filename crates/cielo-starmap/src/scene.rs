//! The poster as a display list: every backend (PNG bands, SVG, PDF) draws the same
//! items, and the preview is the same list built at a smaller scale.

use tiny_skia::{Path, PathBuilder, Rect};

use crate::astro::{MoonPhase, Observer, Sky};
use crate::catalog::{constellations, star_index, stars, Vertex};
use crate::ephemeris::Body;
use crate::options::{Rgb, StarmapOptions, Theme};
use crate::text::{layout, line_path, wrap, Font, Line};
use crate::time::TimeScales;
use crate::words::Words;
use crate::Error;

/// A colour with opacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Color {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: f32,
}

impl Color {
    fn of(c: Rgb, a: f32) -> Self {
        Self {
            r: c.0,
            g: c.1,
            b: c.2,
            a: a.clamp(0.0, 1.0),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Paint {
    Fill(Color),
    /// Colour and line width in output units.
    Stroke(Color, f32),
}

#[derive(Debug, Clone)]
pub(crate) enum Shape {
    Circle {
        cx: f32,
        cy: f32,
        r: f32,
    },
    /// `even_odd` selects the even-odd fill rule (used to cut the sky disc out).
    Path {
        path: Path,
        even_odd: bool,
    },
    /// A line of text, baseline starting at (x, y); `path` is its outline.
    Text {
        line: Line,
        x: f32,
        y: f32,
        path: Option<Path>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Item {
    pub shape: Shape,
    pub paint: Paint,
    /// Vertical extent in output units, for culling per band.
    pub y0: f32,
    pub y1: f32,
}

/// A poster, drawn in output units (pixels for raster output, points for PDF/SVG).
#[derive(Debug, Clone)]
pub(crate) struct Scene {
    pub width: f32,
    pub height: f32,
    /// Bleed on each side, output units (the trim box is the page inset by it).
    pub bleed: f32,
    /// Text must lie inside this box (the trim box less the safe area); a label
    /// of the sky that would not is left out.
    pub safe: Option<Rect>,
    pub background: Color,
    pub items: Vec<Item>,
}

impl Scene {
    fn push(&mut self, shape: Shape, paint: Paint) {
        let pad = match paint {
            Paint::Stroke(_, w) => w,
            Paint::Fill(_) => 1.0,
        };
        let (y0, y1) = match &shape {
            Shape::Circle { cy, r, .. } => (cy - r, cy + r),
            Shape::Path { path, .. } => (path.bounds().top(), path.bounds().bottom()),
            Shape::Text { path: Some(p), .. } => (p.bounds().top(), p.bounds().bottom()),
            Shape::Text { path: None, .. } => return,
        };
        self.items.push(Item {
            shape,
            paint,
            y0: y0 - pad,
            y1: y1 + pad,
        });
    }

    fn text(&mut self, line: Line, cx: f32, y: f32, color: Color) {
        let x = cx - line.width / 2.0;
        let path = line_path(&line, x, y);
        if let (Some(safe), Some(p)) = (self.safe, &path) {
            let b = p.bounds();
            if b.left() < safe.left()
                || b.right() > safe.right()
                || b.top() < safe.top()
                || b.bottom() > safe.bottom()
            {
                return;
            }
        }
        self.push(Shape::Text { line, x, y, path }, Paint::Fill(color));
    }
}

impl Scene {
    /// Every item moved by (dx, dy).
    fn translate(&mut self, dx: f32, dy: f32) {
        let t = tiny_skia::Transform::from_translate(dx, dy);
        for item in &mut self.items {
            match &mut item.shape {
                Shape::Circle { cx, cy, .. } => {
                    *cx += dx;
                    *cy += dy;
                }
                Shape::Path { path, .. } => {
                    if let Some(p) = path.clone().transform(t) {
                        *path = p;
                    }
                }
                Shape::Text { x, y, path, .. } => {
                    *x += dx;
                    *y += dy;
                    *path = path.take().and_then(|p| p.transform(t));
                }
            }
            item.y0 += dy;
            item.y1 += dy;
        }
    }
}

/// A framed mockup of the poster on a wall, `size` output units square: the
/// poster's own scene (the same drawing as preview and print), moved into a
/// frame with a mat and a soft shadow.
pub(crate) fn build_mockup(opts: &StarmapOptions, size: f32) -> Result<Scene, Error> {
    let (tw, th) = opts.trim_mm();
    let (tw, th) = (tw as f32, th as f32);
    // The framed poster takes about two thirds of the picture's longer side.
    let frame_mm = 0.035 * tw.max(th);
    let mat_mm = 0.07 * tw.max(th);
    let outer_w = tw + 2.0 * (frame_mm + mat_mm);
    let outer_h = th + 2.0 * (frame_mm + mat_mm);
    let u = 0.72 * size / outer_w.max(outer_h);
    let mut o = opts.clone();
    o.bleed_mm = 0.0;
    o.safe_mm = 0.0;
    let mut poster = build(&o, f64::from(u), tw * u, th * u)?;
    let (ox, oy) = (
        (size - outer_w * u) / 2.0,
        (size - outer_h * u) / 2.0 - 0.03 * size,
    );
    let mut scene = Scene {
        width: size,
        height: size,
        bleed: 0.0,
        safe: None,
        background: Color::of(Rgb(0xe9, 0xe4, 0xda), 1.0),
        items: Vec::new(),
    };
    let rect =
        |x: f32, y: f32, w: f32, h: f32| Rect::from_xywh(x, y, w, h).map(PathBuilder::from_rect);
    // The wall darkens a little towards the floor.
    for i in 0..8 {
        let y = size * (0.55 + 0.0563 * i as f32);
        if let Some(path) = rect(0.0, y, size, size - y) {
            scene.push(
                Shape::Path {
                    path,
                    even_odd: false,
                },
                Paint::Fill(Color::of(Rgb(0x8a, 0x80, 0x70), 0.025)),
            );
        }
    }
    // A soft shadow below and right of the frame.
    for i in 1..=6 {
        let g = i as f32 * 0.004 * size;
        if let Some(path) = rect(
            ox + 0.006 * size - g / 2.0,
            oy + 0.012 * size - g / 2.0,
            outer_w * u + g,
            outer_h * u + g,
        ) {
            scene.push(
                Shape::Path {
                    path,
                    even_odd: false,
                },
                Paint::Fill(Color::of(Rgb(0x20, 0x1a, 0x12), 0.05)),
            );
        }
    }
    if let Some(path) = rect(ox, oy, outer_w * u, outer_h * u) {
        scene.push(
            Shape::Path {
                path,
                even_odd: false,
            },
            Paint::Fill(Color::of(Rgb(0x1d, 0x1b, 0x19), 1.0)),
        );
    }
    let f = frame_mm * u;
    if let Some(path) = rect(ox + f, oy + f, outer_w * u - 2.0 * f, outer_h * u - 2.0 * f) {
        scene.push(
            Shape::Path {
                path,
                even_odd: false,
            },
            Paint::Fill(Color::of(Rgb(0xf6, 0xf4, 0xef), 1.0)),
        );
    }
    let (px, py) = (ox + (frame_mm + mat_mm) * u, oy + (frame_mm + mat_mm) * u);
    if let Some(path) = rect(px, py, tw * u, th * u) {
        scene.push(
            Shape::Path {
                path,
                even_odd: false,
            },
            Paint::Fill(poster.background),
        );
    }
    poster.translate(px, py);
    scene.items.append(&mut poster.items);
    // The glass: a faint light across the top left.
    let mut pb = PathBuilder::new();
    pb.move_to(px, py);
    pb.line_to(px + 0.55 * tw * u, py);
    pb.line_to(px, py + 0.45 * th * u);
    pb.close();
    if let Some(path) = pb.finish() {
        scene.push(
            Shape::Path {
                path,
                even_odd: false,
            },
            Paint::Fill(Color::of(Rgb(0xff, 0xff, 0xff), 0.035)),
        );
    }
    Ok(scene)
}

/// Where one sky goes on the poster: the horizon circle of the projection, the
/// visible shape inside it, and how far its cover may reach.
#[derive(Debug, Clone, Copy)]
struct Frame {
    cx: f32,
    cy: f32,
    /// Radius of the horizon circle of the projection.
    r: f32,
    shape: SkyShapeKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SkyShapeKind {
    Circle,
    Square,
    Heart,
}

impl SkyShapeKind {
    fn of(id: &str) -> Self {
        match id {
            "square" => Self::Square,
            "heart" => Self::Heart,
            _ => Self::Circle,
        }
    }

    /// Half of the visible shape's width, as a fraction of the horizon radius.
    fn half_width(self) -> f32 {
        match self {
            Self::Circle => 1.0,
            // The square's corners sit on the horizon: the whole square is sky.
            Self::Square => std::f32::consts::FRAC_1_SQRT_2,
            Self::Heart => heart_outline(1.0).1,
        }
    }

    /// Half of the visible shape's height, as a fraction of the horizon radius
    /// (above, below the centre).
    fn half_heights(self) -> (f32, f32) {
        match self {
            Self::Circle => (1.0, 1.0),
            Self::Square => (
                std::f32::consts::FRAC_1_SQRT_2,
                std::f32::consts::FRAC_1_SQRT_2,
            ),
            Self::Heart => {
                let (_, _, top, bottom) = heart_outline(1.0);
                (top, bottom)
            }
        }
    }
}

/// A heart inside the unit horizon circle: (points, half width, top, bottom), the
/// points relative to the centre in units of the radius.
fn heart_outline(r: f32) -> (Vec<(f32, f32)>, f32, f32, f32) {
    let n = 360;
    let raw: Vec<(f32, f32)> = (0..n)
        .map(|i| {
            let t = std::f32::consts::TAU * i as f32 / n as f32;
            let x = 16.0 * t.sin().powi(3);
            let y =
                -(13.0 * t.cos() - 5.0 * (2.0 * t).cos() - 2.0 * (3.0 * t).cos() - (4.0 * t).cos());
            (x, y)
        })
        .collect();
    let (y0, y1) = raw
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    let mid = (y0 + y1) / 2.0;
    let far = raw
        .iter()
        .map(|(x, y)| (x * x + (y - mid) * (y - mid)).sqrt())
        .fold(0.0f32, f32::max);
    let k = 0.985 * r / far;
    let pts: Vec<(f32, f32)> = raw.iter().map(|(x, y)| (x * k, (y - mid) * k)).collect();
    let half_w = pts.iter().map(|p| p.0.abs()).fold(0.0, f32::max);
    (pts, half_w, (mid - y0) * k, (y1 - mid) * k)
}

impl Frame {
    fn proj(&self) -> Projection {
        Projection {
            cx: self.cx,
            cy: self.cy,
            r: self.r,
        }
    }

    /// The visible shape as a path.
    fn outline(&self) -> Option<Path> {
        let mut pb = PathBuilder::new();
        match self.shape {
            SkyShapeKind::Circle => pb.push_circle(self.cx, self.cy, self.r),
            SkyShapeKind::Square => {
                let s = self.r * std::f32::consts::FRAC_1_SQRT_2;
                pb.push_rect(Rect::from_xywh(self.cx - s, self.cy - s, 2.0 * s, 2.0 * s)?);
            }
            SkyShapeKind::Heart => {
                let (pts, ..) = heart_outline(self.r);
                for (i, (x, y)) in pts.iter().enumerate() {
                    if i == 0 {
                        pb.move_to(self.cx + x, self.cy + y);
                    } else {
                        pb.line_to(self.cx + x, self.cy + y);
                    }
                }
                pb.close();
            }
        }
        pb.finish()
    }

    /// Visible extents: left/right half width, top and bottom from the centre.
    fn extents(&self) -> (f32, f32, f32) {
        let (t, b) = self.shape.half_heights();
        (self.shape.half_width() * self.r, t * self.r, b * self.r)
    }

    /// How far from the centre anything of this sky can reach (halos and labels
    /// poke out of the horizon by at most 0.12 R): the cover paints up to there.
    fn reach(&self) -> f32 {
        self.r * 1.12
    }
}

/// One sky to draw: where, when, and the words under it.
struct SkyInput<'a> {
    lat: f64,
    lon: f64,
    at: jiff::Timestamp,
    tz: Option<&'a str>,
    place: Option<&'a str>,
}

/// Build the poster for `opts` where one millimetre is `units_per_mm` output units.
pub(crate) fn build(
    opts: &StarmapOptions,
    units_per_mm: f64,
    out_w: f32,
    out_h: f32,
) -> Result<Scene, Error> {
    opts.check()?;
    let theme = opts.effective_theme();
    let layout = opts.layout_data();
    let u = units_per_mm as f32;
    let bleed = opts.bleed_mm as f32 * u;
    // Layout works on the trim box; the bleed only extends the background.
    let (tw, th) = opts.trim_mm();
    let (w, h) = (tw as f32 * u, th as f32 * u);
    // Type and margins scale with the poster's short side.
    let s = w.min(h);
    let lang = crate::words::words(&opts.language);
    let safe = opts.safe_mm as f32 * u;
    let mut scene = Scene {
        width: out_w,
        height: out_h,
        bleed,
        safe: Rect::from_xywh(bleed + safe, bleed + safe, w - 2.0 * safe, h - 2.0 * safe),
        background: Color::of(
            if layout.full_bleed {
                theme.disc
            } else {
                theme.background
            },
            1.0,
        ),
        items: Vec::new(),
    };
    let title_font = Font::for_title(&opts.font).unwrap_or(Font::Serif);
    let first = SkyInput {
        lat: opts.lat,
        lon: opts.lon,
        at: opts.at,
        tz: opts.tz.as_deref(),
        place: opts.place.as_deref(),
    };
    let margin = 0.075 * s;
    let label_room = 0.035 * s;
    let gap = 0.05 * s;
    let hair = 0.0009 * s;
    let shape = if layout.full_bleed {
        SkyShapeKind::Circle
    } else {
        SkyShapeKind::of(&opts.shape)
    };
    let half_w = shape.half_width();
    let (top_f, bottom_f) = shape.half_heights();

    if layout.skies == 2 {
        let second = opts.second.as_ref().ok_or_else(|| Error::Invalid {
            field: "second",
            message: "the pair layout needs a second sky".into(),
        })?;
        let second = SkyInput {
            lat: second.lat,
            lon: second.lon,
            at: second.at,
            tz: second.tz.as_deref(),
            place: second.place.as_deref(),
        };
        let title = title_lines(opts, &theme, s, 0.8 * w, title_font, lang);
        let cell_w = w / 2.0;
        let facts_a = fact_lines(&first, &theme, s, 0.9 * cell_w, lang);
        let facts_b = fact_lines(&second, &theme, s, 0.9 * cell_w, lang);
        let facts_h = height(&facts_a).max(height(&facts_b));
        let title_h = height(&title);
        // The horizon radius: the visible shape fills the cell, its cover stays in it.
        let by_width = ((cell_w / 2.0 - label_room) / half_w).min(cell_w / 2.0 / 1.12);
        let avail_h = h - 2.0 * margin - 2.0 * label_room - gap - facts_h - title_h;
        let by_height = avail_h / (top_f + bottom_f);
        let r = (by_width * 0.86).min(by_height);
        let content =
            r * (top_f + bottom_f) + 2.0 * label_room + gap * 0.6 + facts_h + gap * 0.6 + title_h;
        let top = bleed + ((h - content) / 2.0).max(margin);
        let cy = top + label_room + r * top_f;
        for (i, (sky_in, facts)) in [(first, facts_a), (second, facts_b)]
            .into_iter()
            .enumerate()
        {
            let cx = bleed + cell_w * (i as f32 + 0.5);
            let frame = Frame { cx, cy, r, shape };
            draw_sky(
                &mut scene, opts, &theme, &sky_in, &frame, s, hair, lang, true,
            )?;
            cardinal_points(&mut scene, &frame, &theme, s, label_room, lang);
            draw_lines(
                &mut scene,
                facts,
                cx,
                cy + r * bottom_f + label_room + gap * 0.6,
            );
        }
        draw_lines(
            &mut scene,
            title,
            bleed + w / 2.0,
            cy + r * bottom_f + label_room + gap * 1.2 + facts_h,
        );
        frame_rect(&mut scene, &theme, bleed, w, h, s, hair);
        return Ok(scene);
    }

    let mut text = title_lines(opts, &theme, s, 0.8 * w, title_font, lang);
    text.extend(fact_lines(&first, &theme, s, 0.8 * w, lang));
    let text_h = height(&text);
    let panel_h = if layout.moon_panel { 0.16 * s } else { 0.0 };

    if layout.full_bleed {
        // The sky covers the page above a band of words; its horizon is off the page.
        let band = text_h + 1.4 * margin;
        let sky_h = h - band;
        let r = 0.62 * w.max(sky_h);
        let frame = Frame {
            cx: bleed + w / 2.0,
            cy: bleed + sky_h / 2.0,
            r,
            shape,
        };
        draw_sky(
            &mut scene, opts, &theme, &first, &frame, s, hair, lang, false,
        )?;
        // The band of words (and the bleed below and beside it) in the theme's background.
        if let Some(rect) = Rect::from_xywh(0.0, bleed + sky_h, out_w, out_h - bleed - sky_h) {
            scene.push(
                Shape::Path {
                    path: PathBuilder::from_rect(rect),
                    even_odd: false,
                },
                Paint::Fill(Color::of(theme.background, 1.0)),
            );
        }
        let mut pb = PathBuilder::new();
        pb.move_to(bleed + 0.3 * w, bleed + sky_h);
        pb.line_to(bleed + 0.7 * w, bleed + sky_h);
        if let Some(path) = pb.finish() {
            scene.push(
                Shape::Path {
                    path,
                    even_odd: false,
                },
                Paint::Stroke(Color::of(theme.frame, 0.8), hair * 1.6),
            );
        }
        draw_lines(
            &mut scene,
            text,
            bleed + w / 2.0,
            bleed + sky_h + 0.5 * margin,
        );
        return Ok(scene);
    }

    let by_width = (w - 2.0 * (margin + label_room)) / 2.0 / half_w;
    let by_height = (h - 2.0 * (margin + label_room) - gap - text_h - panel_h) / (top_f + bottom_f);
    let r = by_width.min(by_height);
    let content = r * (top_f + bottom_f) + 2.0 * label_room + gap + panel_h + text_h;
    let top = bleed + ((h - content) / 2.0).max(margin);
    let frame = Frame {
        cx: bleed + w / 2.0,
        cy: top + label_room + r * top_f,
        r,
        shape,
    };
    let phase = draw_sky(
        &mut scene, opts, &theme, &first, &frame, s, hair, lang, true,
    )?;
    cardinal_points(&mut scene, &frame, &theme, s, label_room, lang);
    frame_rect(&mut scene, &theme, bleed, w, h, s, hair);
    let below = frame.cy + r * bottom_f + label_room;
    if layout.moon_panel {
        moon_panel(
            &mut scene,
            &theme,
            &phase,
            frame.cx,
            below + gap * 0.5,
            panel_h,
            s,
            title_font,
            lang,
        );
    }
    draw_lines(&mut scene, text, frame.cx, below + gap * 0.6 + panel_h);
    Ok(scene)
}

/// The Moon as the panel shows it: its phase and the angle of its bright limb from
/// the local vertical, as seen from the place.
struct PhaseSeen {
    phase: MoonPhase,
    /// Angle of the bright limb on the page with the zenith up (radians, screen axes).
    limb_angle: f32,
}

/// Draw one sky in its frame; returns the Moon's phase as seen there.
#[allow(clippy::too_many_arguments)]
fn draw_sky(
    scene: &mut Scene,
    opts: &StarmapOptions,
    theme: &Theme,
    input: &SkyInput<'_>,
    frame: &Frame,
    s: f32,
    hair: f32,
    lang: &Words,
    edge: bool,
) -> Result<PhaseSeen, Error> {
    let time = TimeScales::from_timestamp(input.at)?;
    let sky = Sky::new(
        Observer {
            lat_deg: input.lat,
            lon_deg: input.lon,
        },
        time,
    );
    let proj = frame.proj();
    if theme.disc != theme.background || frame.shape != SkyShapeKind::Circle {
        if let Some(path) = frame.outline() {
            scene.push(
                Shape::Path {
                    path,
                    even_odd: false,
                },
                Paint::Fill(Color::of(theme.disc, 1.0)),
            );
        }
    }
    if opts.milky_way {
        milky_way(scene, &sky, &proj, theme);
    }
    if opts.grid {
        grid(scene, &proj, theme, hair);
    }
    let star_dirs = sky.all_stars_enu();
    constellation_lines(scene, &sky, &star_dirs, &proj, theme, hair);
    if opts.constellation_names {
        constellation_names(scene, &sky, &proj, theme, s, &opts.language);
    }
    draw_stars(scene, &star_dirs, &proj, theme);
    let phase = bodies(scene, &sky, &proj, theme, s, lang);

    if edge {
        // Lines are clipped to the horizon geometrically; what else may poke out
        // (halos, labels, the Moon near the rim, all within 0.12 R), and for a
        // square or a heart the sky outside the shape, is painted over with the
        // background, which clips without a per-pixel mask.
        let reach = frame.reach();
        let mut pb = PathBuilder::new();
        match frame.shape {
            SkyShapeKind::Circle => pb.push_circle(frame.cx, frame.cy, reach),
            _ => {
                if let Some(rect) =
                    Rect::from_xywh(frame.cx - reach, frame.cy - reach, 2.0 * reach, 2.0 * reach)
                {
                    pb.push_rect(rect);
                }
            }
        }
        let outline = frame.outline();
        if let Some(o) = &outline {
            pb.push_path(o);
        }
        if let Some(path) = pb.finish() {
            scene.push(
                Shape::Path {
                    path,
                    even_odd: true,
                },
                Paint::Fill(Color::of(theme.background, 1.0)),
            );
        }
        if let Some(path) = outline {
            scene.push(
                Shape::Path {
                    path,
                    even_odd: false,
                },
                Paint::Stroke(Color::of(theme.disc_edge, 0.9), hair * 2.2),
            );
        }
    }
    Ok(phase)
}

fn frame_rect(scene: &mut Scene, theme: &Theme, bleed: f32, w: f32, h: f32, s: f32, hair: f32) {
    let inset = 0.035 * s;
    if let Some(frame) = Rect::from_xywh(
        bleed + inset,
        bleed + inset,
        w - 2.0 * inset,
        h - 2.0 * inset,
    ) {
        scene.push(
            Shape::Path {
                path: PathBuilder::from_rect(frame),
                even_odd: false,
            },
            Paint::Stroke(Color::of(theme.frame, 0.8), hair * 1.6),
        );
    }
}

/// The Milky Way: each brightness sample a soft disc of about a degree and a half;
/// overlapping, they make the glow (brighter steps are drawn more opaque).
fn milky_way(scene: &mut Scene, sky: &Sky, proj: &Projection, theme: &Theme) {
    let deg = std::f32::consts::PI / 180.0;
    for s in crate::catalog::milky_way() {
        let v = sky.fixed_enu(s.ra, s.dec);
        if v[2] < -0.03 {
            continue;
        }
        let (x, y) = proj.project(&v);
        // Local scale of the stereographic projection: R / (1 + sin alt) per radian.
        let r = 1.35 * deg * proj.r / (1.0 + v[2] as f32).max(0.5);
        scene.push(
            Shape::Circle { cx: x, cy: y, r },
            Paint::Fill(Color::of(
                theme.milky_way,
                theme.milky_way_alpha * f32::from(s.level) / 3.0,
            )),
        );
    }
}

fn height(lines: &[(Line, Color, f32)]) -> f32 {
    lines.iter().map(|(_, _, lead)| lead).sum()
}

fn draw_lines(scene: &mut Scene, lines: Vec<(Line, Color, f32)>, cx: f32, top: f32) {
    let mut y = top;
    for (line, color, lead) in lines {
        y += lead;
        scene.text(line, cx, y - lead * 0.3, color);
    }
}

/// The title and message, centred, each line with its colour and leading.
fn title_lines(
    opts: &StarmapOptions,
    theme: &Theme,
    s: f32,
    max_w: f32,
    font: Font,
    lang: &Words,
) -> Vec<(Line, Color, f32)> {
    let mut lines = Vec::new();
    let text = Color::of(theme.text, 1.0);
    let title = opts.title.clone().unwrap_or_else(|| lang.title.clone());
    if !title.trim().is_empty() {
        let mut size = 0.05 * s;
        let mut line = layout(font, title.trim(), size, size * 0.08);
        if line.width > max_w {
            size *= max_w / line.width;
            line = layout(font, title.trim(), size, size * 0.08);
        }
        lines.push((line, text, size * 1.45));
    }
    if let Some(msg) = opts.message.as_deref().filter(|m| !m.trim().is_empty()) {
        // Up to four lines; a longer message gets a smaller type rather than cut.
        let mut size = 0.021 * s;
        let mut wrapped = wrap(font, msg.trim(), size, 0.875 * max_w);
        while wrapped.len() > 4 && size > 0.011 * s {
            size *= 0.92;
            wrapped = wrap(font, msg.trim(), size, 0.95 * max_w);
        }
        for (i, l) in wrapped.into_iter().enumerate() {
            lines.push((l, text, if i == 0 { size * 2.1 } else { size * 1.5 }));
        }
    }
    lines
}

/// Place, local date and time, coordinates of one sky.
fn fact_lines(
    sky: &SkyInput<'_>,
    theme: &Theme,
    s: f32,
    max_w: f32,
    lang: &Words,
) -> Vec<(Line, Color, f32)> {
    let text = Color::of(theme.text, 1.0);
    let muted = Color::of(theme.text_muted, 1.0);
    let small = 0.0155 * s;
    let spacing = small * 0.22;
    let mut facts = Vec::new();
    if let Some(place) = sky.place.filter(|p| !p.trim().is_empty()) {
        facts.push(place.trim().to_uppercase());
    }
    facts.push(local_time_text(sky.at, sky.tz, lang));
    facts.push(coordinates_text(sky.lat, sky.lon, lang));
    let mut lines = Vec::new();
    for (i, f) in facts.into_iter().enumerate() {
        let lead = if i == 0 { small * 2.6 } else { small * 1.9 };
        let mut line = layout(Font::Sans, &f, small, spacing);
        if line.width > max_w {
            line = layout(
                Font::Sans,
                &f,
                small * max_w / line.width,
                spacing * max_w / line.width,
            );
        }
        lines.push((line, if i == 0 { text } else { muted }, lead));
    }
    lines
}

/// The Moon-phase panel: the Moon large, as seen (bright limb from the local
/// vertical), its phase's name and illuminated fraction.
#[allow(clippy::too_many_arguments)]
fn moon_panel(
    scene: &mut Scene,
    theme: &Theme,
    seen: &PhaseSeen,
    cx: f32,
    top: f32,
    panel_h: f32,
    s: f32,
    font: Font,
    lang: &Words,
) {
    let r = panel_h * 0.36;
    let mx = cx - 0.11 * s;
    let my = top + panel_h / 2.0;
    draw_moon(
        scene,
        theme,
        mx,
        my,
        r,
        seen.phase.illuminated as f32,
        seen.limb_angle,
        0.0,
    );
    let name = &lang.phases[seen.phase.name_index()];
    let pct = (seen.phase.illuminated * 100.0).round() as u32;
    let ill = lang.illuminated.replace("{p}", &pct.to_string());
    let big = 0.026 * s;
    let small = 0.0155 * s;
    let tx = mx + r + 0.04 * s;
    let l1 = layout(font, name, big, 0.0);
    let l2 = layout(Font::Sans, &ill.to_uppercase(), small, small * 0.22);
    let y1 = my - 0.1 * big;
    let path1 = line_path(&l1, tx, y1);
    scene.push(
        Shape::Text {
            line: l1,
            x: tx,
            y: y1,
            path: path1,
        },
        Paint::Fill(Color::of(theme.text, 1.0)),
    );
    let y2 = my + small * 1.9;
    let path2 = line_path(&l2, tx, y2);
    scene.push(
        Shape::Text {
            line: l2,
            x: tx,
            y: y2,
            path: path2,
        },
        Paint::Fill(Color::of(theme.text_muted, 1.0)),
    );
}

/// Stereographic projection centred on the zenith, north up and east left (the sky
/// seen from below): the horizon is the circle of radius `r`.
pub(crate) struct Projection {
    pub cx: f32,
    pub cy: f32,
    pub r: f32,
}

impl Projection {
    /// Map a unit vector (east, north, up) to output coordinates.
    pub(crate) fn project(&self, v: &[f64; 3]) -> (f32, f32) {
        let k = f64::from(self.r) / (1.0 + v[2]).max(1e-9);
        (self.cx - (v[0] * k) as f32, self.cy - (v[1] * k) as f32)
    }
}

impl Projection {
    /// The part of the straight segment a→b inside the horizon circle, if any.
    pub(crate) fn clip(&self, a: (f32, f32), b: (f32, f32)) -> Option<((f32, f32), (f32, f32))> {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (fx, fy) = (a.0 - self.cx, a.1 - self.cy);
        let qa = dx * dx + dy * dy;
        let qb = 2.0 * (fx * dx + fy * dy);
        let qc = fx * fx + fy * fy - self.r * self.r;
        if qa < 1e-12 {
            return (qc <= 0.0).then_some((a, b));
        }
        let disc = qb * qb - 4.0 * qa * qc;
        if disc <= 0.0 {
            return None;
        }
        let sq = disc.sqrt();
        let t0 = ((-qb - sq) / (2.0 * qa)).max(0.0);
        let t1 = ((-qb + sq) / (2.0 * qa)).min(1.0);
        (t0 < t1).then_some((
            (a.0 + t0 * dx, a.1 + t0 * dy),
            (a.0 + t1 * dx, a.1 + t1 * dy),
        ))
    }
}

fn enu(alt_deg: f64, az_deg: f64) -> [f64; 3] {
    let (sa, ca) = alt_deg.to_radians().sin_cos();
    let (sz, cz) = az_deg.to_radians().sin_cos();
    [ca * sz, ca * cz, sa]
}

fn grid(scene: &mut Scene, proj: &Projection, theme: &Theme, hair: f32) {
    let color = Color::of(theme.grid, theme.grid_alpha);
    for alt in [15.0, 30.0, 45.0, 60.0, 75.0] {
        let (_, y) = proj.project(&enu(alt, 0.0));
        scene.push(
            Shape::Circle {
                cx: proj.cx,
                cy: proj.cy,
                r: proj.cy - y,
            },
            Paint::Stroke(color, hair),
        );
    }
    for az in (0..360).step_by(30) {
        let (x0, y0) = proj.project(&enu(75.0, f64::from(az)));
        let (x1, y1) = proj.project(&enu(0.0, f64::from(az)));
        let mut pb = PathBuilder::new();
        pb.move_to(x0, y0);
        pb.line_to(x1, y1);
        if let Some(path) = pb.finish() {
            scene.push(
                Shape::Path {
                    path,
                    even_odd: false,
                },
                Paint::Stroke(color, hair),
            );
        }
    }
}

fn constellation_lines(
    scene: &mut Scene,
    sky: &Sky,
    star_dirs: &[[f64; 3]],
    proj: &Projection,
    theme: &Theme,
    width: f32,
) {
    let color = Color::of(theme.lines, theme.lines_alpha);
    for c in constellations() {
        let mut pb = PathBuilder::new();
        for polyline in &c.lines {
            let mut prev: Option<[f64; 3]> = None;
            for v in polyline {
                let p = match v {
                    Vertex::Star(h) => star_index(*h).map(|i| star_dirs[i]),
                    Vertex::Fixed([ra, dec]) => Some(sky.fixed_enu(*ra, *dec)),
                };
                let Some(p) = p else { continue };
                if let Some(q) = prev {
                    // Segments reaching far below the horizon would project far outside
                    // the disc; the horizon cut-out hides the rest.
                    // Far below the horizon the projection runs off to infinity.
                    if q[2] > -0.5 && p[2] > -0.5 && (q[2] > 0.0 || p[2] > 0.0) {
                        if let Some(((x0, y0), (x1, y1))) =
                            proj.clip(proj.project(&q), proj.project(&p))
                        {
                            pb.move_to(x0, y0);
                            pb.line_to(x1, y1);
                        }
                    }
                }
                prev = Some(p);
            }
        }
        if let Some(path) = pb.finish() {
            scene.push(
                Shape::Path {
                    path,
                    even_odd: false,
                },
                Paint::Stroke(color, width),
            );
        }
    }
}

fn constellation_names(
    scene: &mut Scene,
    sky: &Sky,
    proj: &Projection,
    theme: &Theme,
    s: f32,
    language: &str,
) {
    let size = 0.0085 * s;
    let color = Color::of(theme.names, 0.9);
    for c in constellations() {
        let v = sky.fixed_enu(c.label[0], c.label[1]);
        if v[2] < 0.12 {
            continue;
        }
        let (x, y) = proj.project(&v);
        let name = crate::catalog::constellation_name(&c.id, language).unwrap_or(&c.name);
        let line = layout(Font::Sans, &name.to_uppercase(), size, size * 0.18);
        scene.text(line, x, y + size * 0.35, color);
    }
}

/// Planets (labelled), the Sun and the Moon with its phase; returns the Moon's phase
/// as seen from the place.
fn bodies(
    scene: &mut Scene,
    sky: &Sky,
    proj: &Projection,
    theme: &Theme,
    s: f32,
    lang: &Words,
) -> PhaseSeen {
    let label = 0.0085 * s;
    for (body, key) in [
        (Body::Mercury, "mercury"),
        (Body::Venus, "venus"),
        (Body::Mars, "mars"),
        (Body::Jupiter, "jupiter"),
        (Body::Saturn, "saturn"),
    ] {
        let v = sky.body_enu(body);
        if v[2] < 0.0 {
            continue;
        }
        let (x, y) = proj.project(&v);
        let r = proj.r * 0.0075;
        let c = Color::of(theme.planet, 1.0);
        scene.push(
            Shape::Circle {
                cx: x,
                cy: y,
                r: r * 2.2,
            },
            Paint::Fill(Color::of(theme.planet, 0.18)),
        );
        scene.push(Shape::Circle { cx: x, cy: y, r }, Paint::Fill(c));
        let title = lang.planets.get(key).map_or(key, String::as_str);
        scene.text(
            layout(Font::Sans, title, label, label * 0.1),
            x,
            y + r * 2.2 + label,
            Color::of(theme.planet, 0.85),
        );
    }
    let sun = sky.body_enu(Body::Sun);
    if sun[2] > 0.0 {
        let (x, y) = proj.project(&sun);
        let r = proj.r * 0.02;
        scene.push(
            Shape::Circle {
                cx: x,
                cy: y,
                r: r * 2.0,
            },
            Paint::Fill(Color::of(theme.planet, 0.2)),
        );
        scene.push(
            Shape::Circle { cx: x, cy: y, r },
            Paint::Fill(Color::of(theme.planet, 1.0)),
        );
    }
    let moon = sky.body_enu(Body::Moon);
    let phase = sky.moon_phase();
    let (x, y) = proj.project(&moon);
    let limb = bright_limb_angle(proj, &moon, &sun);
    if moon[2] > 0.0 {
        let r = proj.r * 0.028;
        draw_moon(scene, theme, x, y, r, phase.illuminated as f32, limb, 0.08);
    }
    // In the panel the zenith is up: turn the chart's angle by that of the zenith
    // (the chart's centre) seen from the Moon.
    let (dx, dy) = (proj.cx - x, proj.cy - y);
    let to_zenith = if dx.hypot(dy) < 1e-3 * proj.r {
        -std::f32::consts::FRAC_PI_2
    } else {
        dy.atan2(dx)
    };
    PhaseSeen {
        phase,
        limb_angle: limb - to_zenith - std::f32::consts::FRAC_PI_2,
    }
}

/// Direction of the Sun from the Moon on the chart (radians, screen axes): the
/// great circle from the Moon towards the Sun, a little way along.
fn bright_limb_angle(proj: &Projection, moon: &[f64; 3], sun: &[f64; 3]) -> f32 {
    let d = moon
        .iter()
        .zip(sun)
        .map(|(a, b)| a * b)
        .sum::<f64>()
        .clamp(-1.0, 1.0);
    let mut t = [
        sun[0] - d * moon[0],
        sun[1] - d * moon[1],
        sun[2] - d * moon[2],
    ];
    let n = (t[0] * t[0] + t[1] * t[1] + t[2] * t[2]).sqrt().max(1e-12);
    t = t.map(|c| c / n);
    let ahead = [
        moon[0] + 0.01 * t[0],
        moon[1] + 0.01 * t[1],
        moon[2] + 0.01 * t[2],
    ];
    let (x, y) = proj.project(moon);
    let (ax, ay) = proj.project(&ahead);
    (ay - y).atan2(ax - x)
}

/// The Moon: dark disc, then the lit part (a half disc towards `angle` plus or minus
/// the half ellipse of the terminator) for an illuminated fraction `k`.
#[allow(clippy::too_many_arguments)]
fn draw_moon(
    scene: &mut Scene,
    theme: &Theme,
    x: f32,
    y: f32,
    r: f32,
    k: f32,
    angle: f32,
    halo: f32,
) {
    let (sa, ca) = angle.sin_cos();
    if halo > 0.0 {
        scene.push(
            Shape::Circle {
                cx: x,
                cy: y,
                r: r * 1.9,
            },
            Paint::Fill(Color::of(theme.moon, halo)),
        );
    }
    scene.push(
        Shape::Circle { cx: x, cy: y, r },
        Paint::Fill(Color::of(theme.moon_dark, 1.0)),
    );
    let mut pb = PathBuilder::new();
    let steps = 64;
    let rot = |px: f32, py: f32| (x + px * ca - py * sa, y + px * sa + py * ca);
    for i in 0..=steps {
        let phi = -std::f32::consts::FRAC_PI_2 + std::f32::consts::PI * i as f32 / steps as f32;
        let (px, py) = rot(r * phi.cos(), r * phi.sin());
        if i == 0 {
            pb.move_to(px, py);
        } else {
            pb.line_to(px, py);
        }
    }
    for i in (0..=steps).rev() {
        let phi = -std::f32::consts::FRAC_PI_2 + std::f32::consts::PI * i as f32 / steps as f32;
        let (px, py) = rot(r * phi.cos() * (1.0 - 2.0 * k), r * phi.sin());
        pb.line_to(px, py);
    }
    pb.close();
    if let Some(path) = pb.finish() {
        scene.push(
            Shape::Path {
                path,
                even_odd: false,
            },
            Paint::Fill(Color::of(theme.moon, 1.0)),
        );
    }
}

fn cardinal_points(
    scene: &mut Scene,
    frame: &Frame,
    theme: &Theme,
    s: f32,
    room: f32,
    lang: &Words,
) {
    let size = 0.012 * s;
    let c = Color::of(theme.text_muted, 1.0);
    let (half_w, top, bottom) = frame.extents();
    let off = room * 0.55;
    let mid = size * 0.36;
    let [n, e, so, w] = &lang.compass;
    scene.text(
        layout(Font::Sans, n, size, 0.0),
        frame.cx,
        frame.cy - top - off + mid,
        c,
    );
    scene.text(
        layout(Font::Sans, so, size, 0.0),
        frame.cx,
        frame.cy + bottom + off + mid,
        c,
    );
    // East is on the left: the chart is the sky seen looking up.
    scene.text(
        layout(Font::Sans, e, size, 0.0),
        frame.cx - half_w - off,
        frame.cy + mid,
        c,
    );
    scene.text(
        layout(Font::Sans, w, size, 0.0),
        frame.cx + half_w + off,
        frame.cy + mid,
        c,
    );
}

/// "13 AUGUST 2024 · 00:30 CEST" (or "13 DE AGOSTO DE 2024 · 00:30 CEST") in the
/// zone (UTC if none).
pub(crate) fn local_time_text(at: jiff::Timestamp, tz: Option<&str>, lang: &Words) -> String {
    let tz = tz
        .and_then(|z| jiff::tz::TimeZone::get(z).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let zoned = at.to_zoned(tz);
    let month = &lang.months[usize::from(zoned.month().unsigned_abs()) - 1];
    let date = lang
        .date
        .replace("{d}", &zoned.day().to_string())
        .replace("{month}", month)
        .replace("{y}", &zoned.year().to_string());
    format!("{date} · {}", zoned.strftime("%H:%M %Z")).to_uppercase()
}

/// "40.4168° N · 3.7038° W" (hemisphere letters in the poster's language)
pub(crate) fn coordinates_text(lat: f64, lon: f64, lang: &Words) -> String {
    let [n, so, e, w] = &lang.latlon;
    let ns = if lat >= 0.0 { n } else { so };
    let ew = if lon >= 0.0 { e } else { w };
    format!("{:.4}° {ns} · {:.4}° {ew}", lat.abs(), lon.abs())
}

/// Star colour from the B−V index (blue-white hot stars to orange cool ones).
fn bv_rgb(bv: f32) -> (f32, f32, f32) {
    const TABLE: [(f32, (f32, f32, f32)); 7] = [
        (-0.3, (155.0, 176.0, 255.0)),
        (0.0, (202.0, 216.0, 255.0)),
        (0.3, (248.0, 247.0, 255.0)),
        (0.6, (255.0, 244.0, 234.0)),
        (1.0, (255.0, 216.0, 170.0)),
        (1.5, (255.0, 187.0, 123.0)),
        (2.0, (255.0, 160.0, 96.0)),
    ];
    let bv = bv.clamp(-0.3, 2.0);
    let i = TABLE
        .iter()
        .position(|(b, _)| *b >= bv)
        .unwrap_or(TABLE.len() - 1)
        .max(1);
    let (b0, c0) = TABLE[i - 1];
    let (b1, c1) = TABLE[i];
    let f = ((bv - b0) / (b1 - b0)).clamp(0.0, 1.0);
    (
        c0.0 + (c1.0 - c0.0) * f,
        c0.1 + (c1.1 - c0.1) * f,
        c0.2 + (c1.2 - c0.2) * f,
    )
}

fn draw_stars(scene: &mut Scene, star_dirs: &[[f64; 3]], proj: &Projection, theme: &Theme) {
    let base = 2.0 * proj.r * 0.0055;
    // Below about half an output unit a disc turns to mush; keep its light by trading
    // size for opacity, which also keeps a downscaled print and a preview alike.
    let min_r = 0.55;
    let tint = theme.star_tint.clamp(0.0, 1.0);
    for (s, v) in stars().iter().zip(star_dirs) {
        if v[2] < -0.02 {
            continue;
        }
        let (x, y) = proj.project(v);
        let r = base * 10f32.powf(-0.17 * (s.mag + 1.0));
        let (tr, tg, tb) = bv_rgb(s.bv);
        let st = theme.star;
        let mix = |a: u8, b: f32| {
            (f32::from(a) * (1.0 - tint) + b * tint)
                .round()
                .clamp(0.0, 255.0) as u8
        };
        let rgb = Rgb(mix(st.0, tr), mix(st.1, tg), mix(st.2, tb));
        let (r, alpha) = if r < min_r {
            (min_r, (r / min_r).powi(2))
        } else {
            (r, 1.0)
        };
        if theme.glow > 0.0 && s.mag < 2.0 {
            scene.push(
                Shape::Circle {
                    cx: x,
                    cy: y,
                    r: r * 2.6,
                },
                Paint::Fill(Color::of(rgb, theme.glow * 0.5)),
            );
        }
        scene.push(
            Shape::Circle { cx: x, cy: y, r },
            Paint::Fill(Color::of(rgb, alpha)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_has_north_up_east_left_and_the_zenith_in_the_centre() {
        let p = Projection {
            cx: 100.0,
            cy: 100.0,
            r: 50.0,
        };
        let near = |(x, y): (f32, f32), (ex, ey): (f32, f32)| {
            (x - ex).abs() < 1e-3 && (y - ey).abs() < 1e-3
        };
        assert!(near(p.project(&enu(90.0, 0.0)), (100.0, 100.0)), "zenith");
        assert!(
            near(p.project(&enu(0.0, 0.0)), (100.0, 50.0)),
            "north on top"
        );
        assert!(
            near(p.project(&enu(0.0, 90.0)), (50.0, 100.0)),
            "east on the left"
        );
        assert!(
            near(p.project(&enu(0.0, 180.0)), (100.0, 150.0)),
            "south at the bottom"
        );
        assert!(
            near(p.project(&enu(0.0, 270.0)), (150.0, 100.0)),
            "west on the right"
        );
        let (a, b) = p.clip((100.0, 100.0), (200.0, 100.0)).unwrap();
        assert!(
            near(a, (100.0, 100.0)) && near(b, (150.0, 100.0)),
            "lines stop at the horizon"
        );
        assert!(
            p.clip((0.0, 0.0), (0.0, 200.0)).is_none(),
            "lines outside stay out"
        );
        // stereographic: r = R tan(z / 2)
        let (_, y) = p.project(&enu(45.0, 180.0));
        assert!((y - 100.0 - 50.0 * (22.5f32).to_radians().tan()).abs() < 1e-3);
    }

    #[test]
    fn polaris_is_drawn_due_north_of_the_centre_from_madrid() {
        let at: jiff::Timestamp = "2024-08-12T22:30:00Z".parse().unwrap();
        let sky = Sky::new(
            Observer {
                lat_deg: 40.4,
                lon_deg: -3.7,
            },
            TimeScales::from_timestamp(at).unwrap(),
        );
        let polaris = stars().iter().find(|s| s.hip == 11767).unwrap();
        let p = Projection {
            cx: 500.0,
            cy: 500.0,
            r: 400.0,
        };
        let (x, y) = p.project(&sky.star_enu(polaris));
        // altitude ≈ latitude, so z ≈ 49.6° and r = 400 tan(z / 2) ≈ 185 above the centre
        let expected = 500.0 - 400.0 * (49.6f32 / 2.0).to_radians().tan();
        assert!(
            (y - expected).abs() < 3.0,
            "above the centre at the pole's altitude: {y} vs {expected}"
        );
        assert!((x - 500.0).abs() < 10.0, "on the meridian: {x}");
    }
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn all_text_stays_inside_the_safe_area_in_every_layout() {
        for layout in crate::layouts() {
            for shape in crate::shapes() {
                let mut o =
                    StarmapOptions::new(40.4, -3.7, "2024-08-12T22:30:00Z".parse().unwrap());
                o.layout = layout.id.clone();
                o.shape = shape.id.clone();
                o.size = "8x10in".into();
                o.safe_mm = 6.35;
                o.bleed_mm = 3.0;
                o.title = Some("Nuestra noche más larga, la de las Perseidas".into());
                o.message = Some("m ".repeat(100));
                o.place = Some("Santa Cruz de Tenerife, Islas Canarias, España".into());
                if layout.skies == 2 {
                    o.second = Some(crate::SecondSky {
                        lat: -33.9,
                        lon: 151.2,
                        at: o.at,
                        tz: Some("Australia/Sydney".into()),
                        place: Some("Sydney, New South Wales, Australia".into()),
                    });
                }
                let u = 300.0 / 25.4;
                let (tw, th) = o.trim_mm();
                let scene = build(&o, u, 1.0, 1.0).unwrap();
                let (b, s) = (3.0 * u as f32, 6.35 * u as f32);
                let (w, h) = (tw as f32 * u as f32, th as f32 * u as f32);
                let mut titles = 0;
                for item in &scene.items {
                    if let Shape::Text {
                        line,
                        path: Some(p),
                        ..
                    } = &item.shape
                    {
                        let r = p.bounds();
                        assert!(
                            r.left() >= b + s - 0.5
                                && r.right() <= b + w - s + 0.5
                                && r.top() >= b + s - 0.5
                                && r.bottom() <= b + h - s + 0.5,
                            "{} {}: text outside the safe area at {r:?}",
                            layout.id,
                            shape.id
                        );
                        let chars: String = line.glyphs.iter().map(|g| g.ch).collect();
                        titles += usize::from(chars.starts_with("Nuestra"));
                    }
                }
                assert_eq!(titles, 1, "{} {}: the title is drawn", layout.id, shape.id);
            }
        }
    }

    #[test]
    fn the_date_line_speaks_the_posters_language() {
        let o = StarmapOptions::new(40.4, -3.7, "2024-08-12T22:30:00Z".parse().unwrap());
        let text =
            |lang: &str| local_time_text(o.at, Some("Europe/Madrid"), crate::words::words(lang));
        assert_eq!(text("en"), "13 AUGUST 2024 · 00:30 CEST");
        assert_eq!(text("es"), "13 DE AGOSTO DE 2024 · 00:30 CEST");
        assert_eq!(text("pt"), "13 DE AGOSTO DE 2024 · 00:30 CEST");
        assert_eq!(text("fr"), "13 AOÛT 2024 · 00:30 CEST");
        assert_eq!(text("de"), "13. AUGUST 2024 · 00:30 CEST");
        assert_eq!(text("it"), "13 AGOSTO 2024 · 00:30 CEST");
    }

    #[test]
    fn coordinates_read_with_hemisphere_letters() {
        assert_eq!(
            coordinates_text(-33.9, 18.4232, crate::words::words("en")),
            "33.9000° S · 18.4232° E"
        );
        assert_eq!(
            coordinates_text(40.4168, -3.7038, crate::words::words("es")),
            "40.4168° N · 3.7038° O"
        );
    }
}
