//! The poster as a display list: every backend (PNG bands, SVG, PDF) draws the same
//! items, and the preview is the same list built at a smaller scale.

use tiny_skia::{Path, PathBuilder, Rect};

use crate::astro::{Observer, Sky};
use crate::catalog::{constellations, star_index, stars, Vertex};
use crate::ephemeris::Body;
use crate::options::{Rgb, StarmapOptions, Theme};
use crate::text::{layout, line_path, wrap, Font, Line};
use crate::time::TimeScales;
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
        self.push(Shape::Text { line, x, y, path }, Paint::Fill(color));
    }
}

/// Build the poster for `opts` where one millimetre is `units_per_mm` output units.
pub(crate) fn build(
    opts: &StarmapOptions,
    units_per_mm: f64,
    out_w: f32,
    out_h: f32,
) -> Result<Scene, Error> {
    opts.check()?;
    let theme = opts.theme_data();
    let size = opts.size_data();
    let u = units_per_mm as f32;
    let bleed = opts.bleed_mm as f32 * u;
    // Layout works on the trim box; the bleed only extends the background.
    let w = size.width_mm as f32 * u;
    let h = size.height_mm as f32 * u;
    let mut scene = Scene {
        width: out_w,
        height: out_h,
        background: Color::of(theme.background, 1.0),
        items: Vec::new(),
    };

    let text = TextBlock::new(opts, theme, w);
    let margin = 0.075 * w;
    let label_room = 0.035 * w;
    let gap = 0.05 * w;
    let diameter =
        (w - 2.0 * (margin + label_room)).min(h - 2.0 * (margin + label_room) - gap - text.height);
    let radius = diameter / 2.0;
    let content = diameter + 2.0 * label_room + gap + text.height;
    let top = bleed + ((h - content) / 2.0).max(margin);
    let cx = bleed + w / 2.0;
    let cy = top + label_room + radius;

    let time = TimeScales::from_timestamp(opts.at)?;
    let sky = Sky::new(
        Observer {
            lat_deg: opts.lat,
            lon_deg: opts.lon,
        },
        time,
    );
    let proj = Projection { cx, cy, r: radius };

    if theme.disc != theme.background {
        scene.push(
            Shape::Circle { cx, cy, r: radius },
            Paint::Fill(Color::of(theme.disc, 1.0)),
        );
    }
    let hair = 0.0009 * w;
    if opts.grid {
        grid(&mut scene, &proj, theme, hair);
    }
    let star_dirs = sky.all_stars_enu();
    constellation_lines(&mut scene, &sky, &star_dirs, &proj, theme, hair);
    if opts.constellation_names {
        constellation_names(&mut scene, &sky, &proj, theme, w, opts.spanish());
    }
    draw_stars(&mut scene, &star_dirs, &proj, theme);
    bodies(&mut scene, &sky, &proj, theme, w, opts.spanish());

    // Lines are clipped to the horizon geometrically; what else may poke out (halos,
    // labels, the Moon near the rim, all within 0.12 R) is painted over by a ring of
    // background, which clips without a per-pixel mask or a full-page fill.
    let mut pb = PathBuilder::new();
    pb.push_circle(cx, cy, radius * 1.12);
    pb.push_circle(cx, cy, radius);
    if let Some(path) = pb.finish() {
        scene.push(
            Shape::Path {
                path,
                even_odd: true,
            },
            Paint::Fill(Color::of(theme.background, 1.0)),
        );
    }
    scene.push(
        Shape::Circle { cx, cy, r: radius },
        Paint::Stroke(Color::of(theme.disc_edge, 0.9), hair * 2.2),
    );
    cardinal_points(&mut scene, &proj, theme, w, label_room, opts.spanish());

    let inset = 0.035 * w;
    if let Some(frame) = Rect::from_xywh(
        bleed + inset,
        bleed + inset,
        w - 2.0 * inset,
        h - 2.0 * inset,
    ) {
        let path = PathBuilder::from_rect(frame);
        scene.push(
            Shape::Path {
                path,
                even_odd: false,
            },
            Paint::Stroke(Color::of(theme.frame, 0.8), hair * 1.6),
        );
    }
    text.draw(&mut scene, cx, cy + radius + label_room + gap);
    Ok(scene)
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
    w: f32,
    spanish: bool,
) {
    let size = 0.0085 * w;
    let color = Color::of(theme.names, 0.9);
    for c in constellations() {
        let v = sky.fixed_enu(c.label[0], c.label[1]);
        if v[2] < 0.12 {
            continue;
        }
        let (x, y) = proj.project(&v);
        // The source separates words with U+2005; a plain space reads the same.
        let name = if spanish {
            c.es.replace('\u{2005}', " ")
        } else {
            c.name.clone()
        };
        let line = layout(Font::Sans, &name.to_uppercase(), size, size * 0.18);
        scene.text(line, x, y + size * 0.35, color);
    }
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

fn bodies(scene: &mut Scene, sky: &Sky, proj: &Projection, theme: &Theme, w: f32, spanish: bool) {
    let label = 0.0085 * w;
    for body in [
        Body::Mercury,
        Body::Venus,
        Body::Mars,
        Body::Jupiter,
        Body::Saturn,
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
        let title = planet_name(body, spanish);
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
    if moon[2] > 0.0 {
        moon_with_phase(scene, proj, theme, &moon, &sun);
    }
}

/// The Moon with its phase: lit limb towards the Sun, terminator as a half ellipse.
fn moon_with_phase(
    scene: &mut Scene,
    proj: &Projection,
    theme: &Theme,
    moon: &[f64; 3],
    sun: &[f64; 3],
) {
    let (x, y) = proj.project(moon);
    let r = proj.r * 0.028;
    let cos_elong = moon
        .iter()
        .zip(sun)
        .map(|(a, b)| a * b)
        .sum::<f64>()
        .clamp(-1.0, 1.0);
    // Illuminated fraction from the elongation (phase angle ≈ 180° − elongation).
    let k = ((1.0 - cos_elong) / 2.0) as f32;
    // Direction of the Sun on the chart: a point a little along the great circle.
    let d = cos_elong;
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
    let (ax, ay) = proj.project(&ahead);
    let ang = (ay - y).atan2(ax - x);
    let (sa, ca) = ang.sin_cos();
    scene.push(
        Shape::Circle {
            cx: x,
            cy: y,
            r: r * 1.9,
        },
        Paint::Fill(Color::of(theme.moon, 0.08)),
    );
    scene.push(
        Shape::Circle { cx: x, cy: y, r },
        Paint::Fill(Color::of(theme.moon_dark, 1.0)),
    );
    let mut pb = PathBuilder::new();
    let steps = 48;
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

fn planet_name(body: Body, spanish: bool) -> &'static str {
    match (body, spanish) {
        (Body::Mercury, false) => "Mercury",
        (Body::Mercury, true) => "Mercurio",
        (Body::Venus, _) => "Venus",
        (Body::Mars, false) => "Mars",
        (Body::Mars, true) => "Marte",
        (Body::Jupiter, false) => "Jupiter",
        (Body::Jupiter, true) => "Júpiter",
        (Body::Saturn, false) => "Saturn",
        (Body::Saturn, true) => "Saturno",
        (Body::Sun, false) => "Sun",
        (Body::Sun, true) => "Sol",
        (Body::Moon, false) => "Moon",
        (Body::Moon, true) => "Luna",
    }
}

fn cardinal_points(
    scene: &mut Scene,
    proj: &Projection,
    theme: &Theme,
    w: f32,
    room: f32,
    spanish: bool,
) {
    let size = 0.012 * w;
    let c = Color::of(theme.text_muted, 1.0);
    let off = proj.r + room * 0.55;
    let mid = size * 0.36;
    scene.text(
        layout(Font::Sans, "N", size, 0.0),
        proj.cx,
        proj.cy - off + mid,
        c,
    );
    scene.text(
        layout(Font::Sans, "S", size, 0.0),
        proj.cx,
        proj.cy + off + mid,
        c,
    );
    // East is on the left: the chart is the sky seen looking up.
    scene.text(
        layout(Font::Sans, "E", size, 0.0),
        proj.cx - off,
        proj.cy + mid,
        c,
    );
    let west = if spanish { "O" } else { "W" };
    scene.text(
        layout(Font::Sans, west, size, 0.0),
        proj.cx + off,
        proj.cy + mid,
        c,
    );
}

/// The title, message, place, date and coordinates under the disc.
struct TextBlock {
    lines: Vec<(Line, Color, f32)>,
    height: f32,
}

impl TextBlock {
    fn new(opts: &StarmapOptions, theme: &Theme, w: f32) -> Self {
        let mut lines = Vec::new();
        let text = Color::of(theme.text, 1.0);
        let muted = Color::of(theme.text_muted, 1.0);
        let max_w = 0.8 * w;
        let default_title = if opts.spanish() {
            "EL CIELO NOCTURNO"
        } else {
            "THE NIGHT SKY"
        };
        let title = opts
            .title
            .clone()
            .unwrap_or_else(|| default_title.to_owned());
        if !title.trim().is_empty() {
            let mut size = 0.05 * w;
            let mut line = layout(Font::Serif, title.trim(), size, size * 0.08);
            if line.width > max_w {
                size *= max_w / line.width;
                line = layout(Font::Serif, title.trim(), size, size * 0.08);
            }
            lines.push((line, text, size * 1.45));
        }
        if let Some(msg) = opts.message.as_deref().filter(|m| !m.trim().is_empty()) {
            // Up to four lines; a longer message gets a smaller type rather than cut.
            let mut size = 0.021 * w;
            let mut wrapped = wrap(Font::Serif, msg.trim(), size, 0.7 * w);
            while wrapped.len() > 4 && size > 0.011 * w {
                size *= 0.92;
                wrapped = wrap(Font::Serif, msg.trim(), size, 0.76 * w);
            }
            for (i, l) in wrapped.into_iter().enumerate() {
                lines.push((l, text, if i == 0 { size * 2.1 } else { size * 1.5 }));
            }
        }
        let small = 0.0155 * w;
        let spacing = small * 0.22;
        let mut facts = Vec::new();
        if let Some(place) = opts.place.as_deref().filter(|p| !p.trim().is_empty()) {
            facts.push(place.trim().to_uppercase());
        }
        facts.push(local_time_text(opts));
        facts.push(coordinates_text(opts.lat, opts.lon, opts.spanish()));
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
        let height = lines.iter().map(|(_, _, lead)| lead).sum();
        Self { lines, height }
    }

    fn draw(self, scene: &mut Scene, cx: f32, top: f32) {
        let mut y = top;
        for (line, color, lead) in self.lines {
            y += lead;
            scene.text(line, cx, y - lead * 0.3, color);
        }
    }
}

/// "13 AUGUST 2024 · 00:30 CEST" (or "13 DE AGOSTO DE 2024 · 00:30 CEST") in the
/// option's time zone (UTC if none).
pub(crate) fn local_time_text(opts: &StarmapOptions) -> String {
    const ES_MONTHS: [&str; 12] = [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ];
    let tz = opts
        .tz
        .as_deref()
        .and_then(|z| jiff::tz::TimeZone::get(z).ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let zoned = opts.at.to_zoned(tz);
    let text = if opts.spanish() {
        let month = ES_MONTHS[usize::from(zoned.month().unsigned_abs()) - 1];
        format!(
            "{} de {month} de {} · {}",
            zoned.day(),
            zoned.year(),
            zoned.strftime("%H:%M %Z")
        )
    } else {
        zoned.strftime("%-d %B %Y · %H:%M %Z").to_string()
    };
    text.to_uppercase()
}

/// "40.4168° N · 3.7038° W" (west is "O" in Spanish)
pub(crate) fn coordinates_text(lat: f64, lon: f64, spanish: bool) -> String {
    let ns = if lat >= 0.0 { 'N' } else { 'S' };
    let ew = match (lon >= 0.0, spanish) {
        (true, _) => 'E',
        (false, false) => 'W',
        (false, true) => 'O',
    };
    format!("{:.4}° {ns} · {:.4}° {ew}", lat.abs(), lon.abs())
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
    fn the_date_line_speaks_the_posters_language() {
        let mut o = StarmapOptions::new(40.4, -3.7, "2024-08-12T22:30:00Z".parse().unwrap());
        o.tz = Some("Europe/Madrid".into());
        assert_eq!(local_time_text(&o), "13 AUGUST 2024 · 00:30 CEST");
        o.language = "es".into();
        assert_eq!(local_time_text(&o), "13 DE AGOSTO DE 2024 · 00:30 CEST");
    }

    #[test]
    fn coordinates_read_with_hemisphere_letters() {
        assert_eq!(
            coordinates_text(-33.9, 18.4232, false),
            "33.9000° S · 18.4232° E"
        );
        assert_eq!(
            coordinates_text(40.4168, -3.7038, true),
            "40.4168° N · 3.7038° O"
        );
    }
}
