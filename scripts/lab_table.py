#!/usr/bin/env python3
"""Scores a detection lab run (scripts/lab-detect.sh): which attacks were caught, how
long after they began, and which alerts matched no attack.

  lab_table.py ATTACKS.tsv ALERTS.ndjson

Prints a Markdown table. Exit status 1 if an attack was missed, caught late (more than
2 s after its first packet; the slow scan is exempt), gave more than 3 `new` reports
(whatever its number of sources), or any alert matched no attack.
"""
import json
import sys

LIMIT = 2.0
MAX_NEWS = 3


def main(attacks_path, alerts_path):
    attacks = []
    with open(attacks_path) as f:
        for line in f:
            start, name, command, kind, src, dst, proto, port = line.rstrip("\n").split("\t")
            attacks.append({
                "start": float(start), "name": name, "command": command, "kind": kind,
                "src": None if src == "-" else src, "dst": None if dst == "-" else dst,
                "proto": proto, "port": None if port == "-" else int(port),
            })
    news = []
    with open(alerts_path) as f:
        for line in f:
            a = json.loads(line)
            if a["state"] == "new":
                news.append(a)
    used = set()
    rows = []
    failed = False
    for atk in attacks:
        hits = [a for a in news
                if (a["kind"], a["src"], a["dst"], a["proto"]) == (atk["kind"], atk["src"], atk["dst"], atk["proto"])
                and (atk["port"] is None or a["port"] == atk["port"]) and a["id"] not in used]
        if not hits:
            rows.append((atk, "**missed**", "-", 0))
            failed = True
            continue
        used.update(a["id"] for a in hits)
        delay = hits[0]["ts"] - atk["start"]
        late = delay > LIMIT and atk["name"] != "slow-scan"
        failed |= late or len(hits) > MAX_NEWS
        rows.append((atk, "yes" + (" (late)" if late else ""), f"{delay:.2f}", len(hits)))
    false = [a for a in news if a["id"] not in used]
    failed |= bool(false)

    print("| attack | command | expected alert | detected | delay (s) | new reports |")
    print("|---|---|---|---|---|---:|")
    for atk, detected, delay, count in rows:
        who = f"{atk['src'] or 'spoofed'} → {atk['dst'] or 'many'}"
        port = f":{atk['port']}" if atk["port"] else ""
        over = " (too many)" if count > MAX_NEWS else ""
        print(f"| {atk['name']} | `{atk['command']}` | {atk['kind']} {atk['proto']}{port} {who} | {detected} | {delay} | {count}{over} |")
    print()
    print(f"False alerts: {len(false)}")
    for a in false:
        print(f"- {a['kind']} {a['src']} -> {a['dst']} {a['proto']} port {a['port']}: {a['summary']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
