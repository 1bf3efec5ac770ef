#!/usr/bin/env bash
# Fetch the browser assets the maps need from the npm registry, pinned, into static/vendor/.
#
# The app serves them itself (Streamlit static serving, /app/static/vendor/...), so the map works
# on an intranet with no internet: folium's defaults point at public CDNs that are slow or blocked
# on mainland networks. Only Leaflet and Leaflet.draw are needed; folium's other defaults (jQuery,
# Bootstrap, Font Awesome, awesome-markers) are not used by the planner's maps and are dropped.
#
# The files are committed; run this only to re-fetch or to move to a new pinned version (then
# update planner/mapview.py's LEAFLET_VERSION / LEAFLET_DRAW_VERSION). `npm pack` checks each
# tarball against the registry's integrity hash; SHA256SUMS pins the extracted files.
#   bash geodata/fetch_vendor.sh          fetch and rewrite SHA256SUMS
#   bash geodata/fetch_vendor.sh --check  only verify the committed files against SHA256SUMS
set -euo pipefail
cd "$(dirname "$0")/.."

LEAFLET=1.9.4
LEAFLET_DRAW=1.0.4
OUT=static/vendor

if [ "${1:-}" = "--check" ]; then
  (cd "$OUT" && sha256sum --quiet -c SHA256SUMS)
  echo "vendored assets match SHA256SUMS"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "leaflet@$LEAFLET" "leaflet-draw@$LEAFLET_DRAW" >/dev/null)

rm -rf "$OUT/leaflet@$LEAFLET" "$OUT/leaflet-draw@$LEAFLET_DRAW"
mkdir -p "$OUT/leaflet@$LEAFLET" "$OUT/leaflet-draw@$LEAFLET_DRAW"

tar xzf "$tmp/leaflet-$LEAFLET.tgz" -C "$tmp" --one-top-level=leaflet
cp "$tmp"/leaflet/package/dist/leaflet.js "$tmp"/leaflet/package/dist/leaflet.css "$OUT/leaflet@$LEAFLET/"
cp -r "$tmp"/leaflet/package/dist/images "$OUT/leaflet@$LEAFLET/"
cp "$tmp"/leaflet/package/LICENSE "$tmp"/leaflet/package/package.json "$OUT/leaflet@$LEAFLET/"

tar xzf "$tmp/leaflet-draw-$LEAFLET_DRAW.tgz" -C "$tmp" --one-top-level=draw
cp "$tmp"/draw/package/dist/leaflet.draw.js "$tmp"/draw/package/dist/leaflet.draw.css "$OUT/leaflet-draw@$LEAFLET_DRAW/"
mkdir -p "$OUT/leaflet-draw@$LEAFLET_DRAW/images"
cp "$tmp"/draw/package/dist/images/spritesheet* "$OUT/leaflet-draw@$LEAFLET_DRAW/images/"
cp "$tmp"/draw/package/package.json "$OUT/leaflet-draw@$LEAFLET_DRAW/"
# The npm package ships no licence file; its package.json says "MIT" and its dist header names
# the authors. Keep both, with the MIT licence text.
{
  echo "Leaflet.draw $LEAFLET_DRAW: licence \"$(node -p "require('$tmp/draw/package/package.json').license")\" (package.json)."
  echo "Copyright notice from dist/leaflet.draw.js:"
  sed -n '2,3p' "$tmp"/draw/package/dist/leaflet.draw.js
  cat <<'MIT'

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
MIT
} > "$OUT/leaflet-draw@$LEAFLET_DRAW/LICENSE"

(cd "$OUT" && find . -type f ! -name SHA256SUMS ! -name README.md | LC_ALL=C sort | xargs sha256sum > SHA256SUMS)
echo "fetched leaflet@$LEAFLET and leaflet-draw@$LEAFLET_DRAW into $OUT"
