#!/usr/bin/env python3
"""Scores an outlier lab run (scripts/lab-outliers.sh): which behaviour was flagged as
`outlier` naming its host, how long after it began, and the outlier alerts of the
benign-only time.

  outlier_table.py OUT_DIR

Reads OUT_DIR/{start,benign_end,behaviours.tsv,alerts.ndjson,summary.json}. Prints a
Markdown table. Exit status 1 if a behaviour was not flagged naming its host, or the
benign-only time had any outlier alert.
"""
import json
import os
import sys


def main(out):
    read = lambda name: open(os.path.join(out, name)).read()  # noqa: E731
    start, benign_end = float(read("start")), float(read("benign_end"))
    behaviours = []
    for line in read("behaviours.tsv").splitlines():
        ts, name, what, host = line.split("\t")
        behaviours.append({"start": float(ts), "name": name, "what": what, "host": host})
    news = [a for a in map(json.loads, read("alerts.ndjson").splitlines()) if a["state"] == "new"]
    outliers = [a for a in news if a["kind"] == "outlier"]
    status = json.loads(read("summary.json")).get("outliers") or {}

    # An alert is of the benign-only time when the window that showed it (it starts at
    # first_ts and lasts window_secs) ended before the first behaviour began.
    def in_benign_time(a):
        return a["first_ts"] + a["evidence"].get("window_secs", 0) <= benign_end

    benign = [a for a in outliers if in_benign_time(a)]
    benign_minutes = (benign_end - start) / 60 - 2  # the first 2 minutes are learning
    failed = False
    print("| behaviour | host | flagged as outlier | delay (s) | score / threshold | what the alert says |")
    print("|---|---|---|---|---|---|")
    for i, b in enumerate(behaviours):
        end = behaviours[i + 1]["start"] if i + 1 < len(behaviours) else float("inf")
        hit = next((a for a in outliers if a["src"] == b["host"] and b["start"] <= a["ts"] < end + 30), None)
        if hit is None:
            failed = True
            print(f"| {b['what']} | {b['host']} | **missed** | - | - | - |")
            continue
        e = hit["evidence"]
        words = "; ".join(u["text"] for u in e["unusual"])
        print(f"| {b['what']} | {b['host']} | yes | {hit['ts'] - b['start']:.1f} | "
              f"{e['score']:.2f} / {e['threshold']:.2f} | {words} |")
    print()
    rate = len(benign) / benign_minutes * 10 if benign_minutes > 0 else 0
    print(f"Benign-only traffic: {benign_minutes:.1f} minutes after learning, {len(benign)} outlier alerts "
          f"({rate:.1f} per 10 minutes; none allowed)")
    for a in benign:
        print(f"- {a['src']}: {a['summary']}")
    others = [a for a in outliers if not in_benign_time(a)
              and a["src"] not in {b["host"] for b in behaviours}]
    if others:
        print("Also flagged during the behaviours:")
        for a in others:
            print(f"- {a['src']}: {a['summary']}")
    rules = [a for a in news if a["kind"] != "outlier"]
    print(f"Rule alerts: {len(rules)}" + "".join(f"\n- {a['kind']} {a['src']} -> {a['dst']}: {a['summary']}" for a in rules))
    print(f"Model: learned from {status.get('learned_from')}, "
          f"{status.get('clusters')} clusters, threshold {status.get('threshold', 0):.3f}, "
          f"last training {status.get('train_ms', 0):.0f} ms, {status.get('trainings')} trainings")
    failed |= bool(benign)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
