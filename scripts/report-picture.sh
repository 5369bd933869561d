#!/usr/bin/env bash
# Makes assets/report.png, README's picture of the HTML report: the demo replayed
# headless with --report, opened in headless Chromium, the top of the page kept.
#
#   scripts/report-picture.sh [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-assets/report.png}
export PATH="$HOME/.cargo/bin:$PATH"
command -v chromium >/dev/null || { echo "report-picture: chromium is not installed (scripts/setup.sh)" >&2; exit 1; }
cargo build --release --quiet --bin ntop-rs
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
./target/release/ntop-rs -r assets/demo.pcap --headless --no-progress --report "$WORK/demo.html" >/dev/null
chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --user-data-dir="$WORK/profile" --window-size=1100,2000 --screenshot="$WORK/shot.png" \
    "file://$WORK/demo.html" >/dev/null 2>&1
python3 - "$WORK/shot.png" "$OUT" <<'PY'
import sys
sys.path.insert(0, "tests/report")
import png
w, h, rows = png.read(sys.argv[1])
png.write(sys.argv[2], png.crop(rows, 0, 0, w, min(h, 2000)))
PY
echo "report-picture: wrote $OUT" >&2
