#!/usr/bin/env bash
# Renders the gallery: every layout and shape, the Moon's phase, the Milky Way and the
# six languages. Each poster is the print renderer's own output at 8x10 in or 12x16 in,
# 72 DPI (the type and the sky scale with the poster).
#
#   bash docs/starmaps/make.sh            # release build of the example, then the images
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$HERE/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
cargo build --release -q -p cielo-starmap --example starmap
BIN="$CARGO_TARGET_DIR/release/examples/starmap"
r() { "$BIN" render --dpi 72 "$@"; }

# Themes (classic layout, circle), in Spanish, English, Italian, Portuguese.
r --lat 40.4168 --lon -3.7038 --at 2024-08-13T00:30 --tz Europe/Madrid --place "Madrid, España" \
  --title "La noche de las Perseidas" --message "Donde empezó todo" --lang es \
  --theme classic-dark --size 12x16in --out "$HERE/classic-dark.png"
r --lat -34.6037 --lon -58.3816 --at 2019-03-16T23:40 --tz America/Argentina/Buenos_Aires \
  --place "Buenos Aires, Argentina" --title "Cielo del sur" --message "Para vos, siempre" --lang es \
  --theme midnight-blue --size 12x16in --out "$HERE/midnight-blue.png"
r --lat 64.1466 --lon -21.9426 --at 2025-12-21T20:00 --tz Atlantic/Reykjavik --place "Reykjavík, Ísland" \
  --title "The longest night" --lang en --theme minimal-light --size 12x16in --out "$HERE/minimal-light.png"
r --lat 19.4326 --lon -99.1332 --at 2000-01-01T00:00 --tz America/Mexico_City --place "Ciudad de México" \
  --title "Año nuevo, siglo nuevo" --lang es --theme colour --size 12x16in --out "$HERE/colour.png"

# Layouts and shapes.
r --lat 48.8566 --lon 2.3522 --at 2024-06-21T23:30 --tz Europe/Paris --place "Paris, France" \
  --title "Notre nuit" --message "Sous le ciel de Paris" --lang fr --layout full-bleed \
  --theme midnight-blue --font display --size 12x16in --out "$HERE/layout-full-bleed-fr.png"
r --lat 52.52 --lon 13.405 --at 2024-09-18T02:30 --tz Europe/Berlin --place "Berlin, Deutschland" \
  --title "Unsere Nacht" --message "Vollmond über Berlin" --lang de --layout moon-panel --shape heart \
  --theme minimal-light --font rounded --size 12x16in --out "$HERE/layout-moon-panel-heart-de.png"
r --lat 38.7223 --lon -9.1393 --at 2023-07-15T22:00 --tz Europe/Lisbon --place "Lisboa, Portugal" \
  --second-lat -22.9068 --second-lon -43.1729 --second-at 2023-07-15T18:00 --second-tz America/Sao_Paulo \
  --second-place "Rio de Janeiro, Brasil" --title "Dois céus, uma noite" --lang pt --layout pair \
  --shape square --theme colour --font script --size 12x16in --out "$HERE/layout-pair-square-pt.png"
r --lat 41.9028 --lon 12.4964 --at 2010-05-28T21:45 --tz Europe/Rome --place "Roma, Italia" \
  --second-lat 41.9028 --second-lon 12.4964 --second-at 2020-05-28T21:45 --second-tz Europe/Rome \
  --second-place "Roma, dieci anni dopo" --title "Dieci anni" --lang it --layout pair \
  --theme classic-dark --font display --size 12x16in --out "$HERE/layout-pair-two-dates-it.png"
r --lat 40.7128 --lon -74.006 --at 2024-02-14T21:00 --tz America/New_York --place "New York" \
  --title "我们的夜晚" --message "ليلتنا الأولى · our first night" --lang en --shape square \
  --theme classic-dark --colors background=#0b1d3a,stars=#fff4d6,lines=#7f9cc8,text=#f5e6c8 \
  --size 12x16in --out "$HERE/shape-square-custom-colours-scripts.png"
r --lat -33.8688 --lon 151.2093 --at 2024-05-10T22:00 --tz Australia/Sydney --place "Sydney" \
  --title "Under the Southern Cross" --message "Where the Milky Way runs overhead" --lang en \
  --shape heart --theme midnight-blue --font script --size 12x16in --out "$HERE/shape-heart-milky-way.png"

# The framed mockup (the same drawing in a frame on a wall).
"$BIN" render --lat 40.4168 --lon -3.7038 --at 2024-08-13T00:30 --tz Europe/Madrid --place "Madrid, España" \
  --title "La noche de las Perseidas" --lang es --theme midnight-blue --layout moon-panel --size 18x24in \
  --mockup 900 --out "$HERE/mockup-moon-panel-es.png"
