"""Opens an ntop-rs HTML report in headless Chromium and checks what a reader sees.

    python3 tests/report/check.py REPORT.html OUT_DIR

1. Where each chart is: a copy of the report with one measuring script added (and the
   page's Content-Security-Policy taken out, which would block it) is loaded with
   --dump-dom; the script writes every `[data-chart]` figure's box and the page height.
   The report itself has no script, so the copy lays out the same.
2. Screenshots of the report itself: as is, with the network disabled (a dead proxy for
   every URL) and JavaScript off. All three must be pixel-identical: nothing is fetched,
   nothing needs a script.
3. Every chart's box in the screenshot is drawn: enough non-background pixels in several
   colours.

Prints one JSON line (the charts and their ink) and exits non-zero on a failure.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import png  # noqa: E402

WIDTH = 1100

MEASURE = """<script>
addEventListener('load', () => {
  const charts = [...document.querySelectorAll('[data-chart]')].map(f => {
    const r = f.querySelector('svg').getBoundingClientRect();
    return {id: f.dataset.chart, x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height};
  });
  const out = document.createElement('pre');
  out.id = 'measured';
  out.textContent = JSON.stringify({height: document.documentElement.scrollHeight, charts});
  document.body.appendChild(out);
});
</script>"""


def chromium(*args, timeout=120):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        sys.exit("check: chromium is not installed")
    profile = tempfile.mkdtemp(prefix="ntop-chromium-")
    cmd = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
           "--disable-extensions", "--disable-background-networking", "--force-device-scale-factor=1",
           f"--user-data-dir={profile}", *args]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return r


def main():
    report, out = os.path.abspath(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    page = open(report, encoding="utf-8").read()
    failures = []

    measure = os.path.join(out, "measure.html")
    copy = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page, count=1)
    open(measure, "w", encoding="utf-8").write(copy.replace("</body>", MEASURE + "</body>", 1))
    r = chromium(f"--window-size={WIDTH},1000", "--virtual-time-budget=5000", "--dump-dom", "file://" + measure)
    m = re.search(r'<pre id="measured">(.*?)</pre>', r.stdout, re.S)
    if not m:
        sys.exit(f"check: could not measure the page: {r.stderr[-400:]}")
    measured = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    height = min(int(measured["height"]) + 10, 16000)

    shots = {}
    variants = {
        "plain": [],
        "offline": ["--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"],
        "no_js": ["--blink-settings=javaScriptEnabled=false"],
    }
    for name, extra in variants.items():
        path = os.path.join(out, f"{name}.png")
        r = chromium(f"--window-size={WIDTH},{height}", f"--screenshot={path}", *extra, "file://" + report)
        if not os.path.exists(path):
            sys.exit(f"check: no screenshot ({name}): {r.stderr[-400:]}")
        shots[name] = png.read(path)
    base = shots["plain"][2]
    for name in ("offline", "no_js"):
        if shots[name][2] != base:
            failures.append(f"the {name} screenshot differs from the plain one")

    bg = base[2][2]
    ink = {}
    for c in measured["charts"]:
        x, y, w, h = (int(round(c[k])) for k in ("x", "y", "w", "h"))
        if w < 50 or h < 30 or y + h > len(base):
            failures.append(f"chart {c['id']} has no room on the page ({w}x{h} at {x},{y})")
            continue
        region = png.crop(base, x, y, w, h)
        pixels = [p for row in region[::2] for p in row[::2]]
        inked = [p for p in pixels if max(abs(p[0] - bg[0]), abs(p[1] - bg[1]), abs(p[2] - bg[2])) > 24]
        share = len(inked) / max(1, len(pixels))
        colours = len({(p[0] // 32, p[1] // 32, p[2] // 32) for p in inked})
        # Axes, gridlines and labels are grey; the data are drawn in colour.
        data = sum(1 for p in inked if max(p) - min(p) > 40) / max(1, len(pixels))
        ink[c["id"]] = {"share": round(share, 4), "data": round(data, 4), "colours": colours, "box": [x, y, w, h]}
        if share < 0.01 or colours < 2 or data < 0.002:
            failures.append(f"chart {c['id']} looks blank ({share:.2%} inked, {data:.2%} in colour, {colours} colours)")
    print(json.dumps({"height": height, "charts": ink, "failures": failures}))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
