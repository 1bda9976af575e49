//! The Grafana dashboard in deploy/ shows only series that docs/operations.md
//! documents, and every documented series is on the dashboard.

use std::collections::BTreeSet;

fn series_in(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("cielo_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len()
            && (bytes[end].is_ascii_lowercase()
                || bytes[end] == b'_'
                || bytes[end].is_ascii_digit())
        {
            end += 1;
        }
        let name = &text[start..end];
        let name = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        found.insert(name.to_string());
        i = end;
    }
    found
}

#[test]
fn the_dashboard_and_the_documented_series_agree() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let dashboard =
        std::fs::read_to_string(format!("{root}/deploy/grafana/cielo-dashboard.json")).unwrap();
    let parsed: serde_json::Value =
        serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    let exprs: String = parsed["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().unwrap_or_default().to_string() + "\n")
        .collect();
    let docs = std::fs::read_to_string(format!("{root}/docs/operations.md")).unwrap();
    let table = &docs[docs.find("## Metrics").expect("a metrics section")..];
    let documented: BTreeSet<String> = table
        .lines()
        .filter(|l| l.starts_with("| `cielo_"))
        .flat_map(series_in)
        .filter(|s| !s.starts_with("cielo_shop"))
        .collect();
    let shown = series_in(&exprs);
    let undocumented: Vec<_> = shown.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "on the dashboard, not in docs/operations.md: {undocumented:?}"
    );
    let missing: Vec<_> = documented.difference(&shown).collect();
    assert!(
        missing.is_empty(),
        "documented, not on the dashboard: {missing:?}"
    );
}
