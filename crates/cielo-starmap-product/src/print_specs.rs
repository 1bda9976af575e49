//! Print specifications per lab and poster size (`data/print-specs.json`): the trim
//! size, the bleed the lab wants on each side and the safe area text must stay in.
//! A print file for a lab is rendered from them at [`crate::PRINT_DPI`]: its pixel
//! size is exactly (trim + 2 × bleed) at 300 DPI, and the PDF's TrimBox and
//! BleedBox say where the cut is.

use std::sync::OnceLock;

use cielo_starmap::StarmapOptions;

const SPECS_JSON: &str = include_str!("../data/print-specs.json");

/// One lab product's print specification.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PrintSpec {
    /// Lab: `printful`, `prodigi` or `local`.
    pub lab: String,
    /// The lab's product, for people.
    pub product: String,
    /// The lab's product or SKU for this size (e.g. `GLOBAL-FAP-A3`).
    pub lab_product: String,
    /// Poster size id (`a3`, `24x36in`).
    pub size: String,
    /// Trim width and height, millimetres (portrait).
    pub trim_mm: [f64; 2],
    /// Bleed on each side, millimetres.
    pub bleed_mm: f64,
    /// Least distance of any text from the trim edge, millimetres.
    pub safe_mm: f64,
}

#[derive(serde::Deserialize)]
struct Specs {
    specs: Vec<PrintSpec>,
}

/// Every print specification.
pub fn print_specs() -> &'static [PrintSpec] {
    static S: OnceLock<Vec<PrintSpec>> = OnceLock::new();
    S.get_or_init(|| {
        serde_json::from_str::<Specs>(SPECS_JSON)
            .expect("embedded print-specs.json is valid")
            .specs
    })
}

/// The specification of `size` at `lab`, if the lab sells it.
pub fn print_spec(lab: &str, size: &str) -> Option<&'static PrintSpec> {
    print_specs()
        .iter()
        .find(|s| s.lab == lab && s.size.eq_ignore_ascii_case(size))
}

/// Why a print file cannot be made for a lab.
#[derive(Debug, thiserror::Error)]
pub enum PrintSpecError {
    /// The stored options are not a star-map line's.
    #[error("the stored options are not a star-map line's: {0}")]
    Options(#[from] serde_json::Error),
    /// The lab has no product of this size.
    #[error("{lab} sells no {size} poster")]
    NoSuchProduct {
        /// The lab.
        lab: String,
        /// The poster size.
        size: String,
    },
}

/// The print options of a stored star-map line for a lab: 300 DPI, the lab's bleed
/// and safe area. `render_print(&opts, Png, w)` then writes a file of exactly
/// [`StarmapOptions::print_pixels`].
pub fn print_options_for_lab(
    stored: &serde_json::Value,
    lab: &str,
) -> Result<StarmapOptions, PrintSpecError> {
    let mut opts = crate::print_options(stored)?;
    let spec = print_spec(lab, &opts.size).ok_or_else(|| PrintSpecError::NoSuchProduct {
        lab: lab.to_string(),
        size: opts.size.clone(),
    })?;
    opts.bleed_mm = spec.bleed_mm;
    opts.safe_mm = spec.safe_mm;
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_is_a_known_size_with_its_trim() {
        assert!(print_specs().len() >= 18);
        for s in print_specs() {
            let size = cielo_starmap::options::size(&s.size)
                .unwrap_or_else(|| panic!("{} {}", s.lab, s.size));
            assert!((size.width_mm - s.trim_mm[0]).abs() < 0.05, "{s:?}");
            assert!((size.height_mm - s.trim_mm[1]).abs() < 0.05, "{s:?}");
            assert!((0.0..=10.0).contains(&s.bleed_mm) && s.safe_mm > 0.0);
        }
    }

    #[test]
    fn print_files_match_the_lab_s_pixel_size_at_300_dpi_bleed_included() {
        let madrid = crate::places::search("madrid", 1)[0].id;
        for spec in print_specs() {
            let line = crate::resolve(
                Some(
                    &serde_json::json!({"place_id": madrid, "date": "2024-08-13", "time": "00:30"}),
                ),
                Some(&spec.size),
            )
            .unwrap();
            let stored = serde_json::to_value(&line).unwrap();
            let opts = print_options_for_lab(&stored, &spec.lab).unwrap();
            let px = |mm: f64| ((mm + 2.0 * spec.bleed_mm) / 25.4 * 300.0).round() as u32;
            assert_eq!(
                opts.print_pixels(),
                (px(spec.trim_mm[0]), px(spec.trim_mm[1])),
                "{spec:?}"
            );
        }
        let a3 = crate::resolve(
            Some(&serde_json::json!({"lat": 1, "lon": 2, "date": "2024-08-13", "time": "00:30"})),
            Some("A3"),
        )
        .unwrap();
        let stored = serde_json::to_value(&a3).unwrap();
        assert!(matches!(
            print_options_for_lab(&stored, "printful"),
            Err(PrintSpecError::NoSuchProduct { .. })
        ));
        assert_eq!(
            print_options_for_lab(&stored, "local")
                .unwrap()
                .print_pixels(),
            (3579, 5031)
        );
        assert_eq!(print_spec("printful", "24x36in").unwrap().bleed_mm, 0.0);
    }
}
