//! The poster's fixed words in each language (`data/words.json`): default title,
//! date format and month names, compass points, planet and Moon-phase names.

use std::collections::HashMap;
use std::sync::OnceLock;

const WORDS_JSON: &str = include_str!("../data/words.json");

/// The fixed words of one language.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Words {
    /// The language's name in itself (`Español`).
    pub name: String,
    /// Default title.
    pub title: String,
    /// Date pattern with `{d}`, `{month}`, `{y}`.
    pub date: String,
    /// Month names, January first.
    pub months: [String; 12],
    /// Compass points on the chart: north, east, south, west.
    pub compass: [String; 4],
    /// Hemisphere letters of coordinates: north, south, east, west.
    pub latlon: [String; 4],
    /// Planet names by lower-case English name.
    pub planets: HashMap<String, String>,
    /// Moon phases: new, waxing crescent, first quarter, waxing gibbous, full, waning
    /// gibbous, last quarter, waning crescent.
    pub phases: [String; 8],
    /// Illuminated fraction pattern with `{p}` (percent).
    pub illuminated: String,
    /// "The Moon".
    pub moon: String,
}

fn all() -> &'static HashMap<String, Words> {
    static W: OnceLock<HashMap<String, Words>> = OnceLock::new();
    W.get_or_init(|| serde_json::from_str(WORDS_JSON).expect("embedded words.json is valid"))
}

/// The words of a language (English for an unknown one; validate first).
pub fn words(lang: &str) -> &'static Words {
    all().get(lang).unwrap_or_else(|| &all()["en"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_word() {
        for lang in crate::LANGUAGES {
            let w = all().get(lang).unwrap_or_else(|| panic!("{lang}"));
            for p in ["mercury", "venus", "mars", "jupiter", "saturn"] {
                assert!(w.planets.contains_key(p), "{lang} {p}");
            }
            assert!(w.date.contains("{d}") && w.date.contains("{month}") && w.date.contains("{y}"));
            assert!(w.illuminated.contains("{p}"));
        }
    }
}
