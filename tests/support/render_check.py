#!/usr/bin/env python3
"""render_check.py KIND DOM REF NETLOG CHROMIUM_LOG PNG WIDTH

Checks a report as headless Chromium rendered it (tests/it_report.sh):
  KIND round: DOM is report.html after Chromium's --dump-dom, REF the
              round's pooled.csv (the oracle: what the page must show);
  KIND org:   DOM is an organization's report, REF its kept .submission.pb.
Common checks: Chromium's net log shows no request to a network URL, its
log has no console message nor refused resource, the DOM links nothing
external, the screenshot is a PNG WIDTH pixels wide.
Exits 1 with the first problem, else prints a summary.
"""
import csv
import hashlib
import json
import re
import struct
import sys
from html.parser import HTMLParser


def die(msg):
    print("render_check: " + msg)
    sys.exit(1)


class Dom(HTMLParser):
    """Collects ids, figures (with their tables and rows) and external links."""

    def __init__(self):
        super().__init__()
        self.ids = set()
        self.figures = []          # dicts: id, classes, tables, rows
        self.stack = []            # open figures
        self.external = []
        self.tables = []           # classes of every table
        self.rows = []             # (figure id or None, tr class, text)
        self.cur_row = None
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        for k in ("src", "href", "xlink:href", "action", "poster", "data"):
            v = a.get(k)
            if v and re.match(r"^\s*([a-z][a-z0-9+.-]*:|//)", v, re.I) and not v.startswith("#"):
                self.external.append((tag, k, v))
        if "url(" in a.get("style", ""):
            self.external.append((tag, "style", a["style"]))
        cls = a.get("class", "").split()
        if tag == "figure":
            fig = {"id": a.get("id", ""), "classes": cls, "tables": 0, "svg": 0}
            self.figures.append(fig)
            self.stack.append(fig)
        elif tag == "table":
            self.tables.append(cls)
            if self.stack and "data" in cls:
                self.stack[-1]["tables"] += 1
        elif tag == "svg" and self.stack:
            self.stack[-1]["svg"] += 1
        elif tag in ("script", "link", "iframe", "img", "object", "embed"):
            self.external.append((tag, "element", str(a)))
        if tag == "tr":
            self.cur_row = (self.stack[-1]["id"] if self.stack else None, a.get("class", ""), [])

    def handle_endtag(self, tag):
        if tag == "figure" and self.stack:
            self.stack.pop()
        if tag == "tr" and self.cur_row:
            fid, c, t = self.cur_row
            self.rows.append((fid, c, " ".join(" ".join(t).split())))
            self.cur_row = None

    def handle_data(self, data):
        if self.cur_row:
            self.cur_row[2].append(data)
        self.text.append(data)


def page_requests(netlog):
    """Network URLs the page asked for, from Chromium's net log. The file
    itself loads outside the network stack; the browser's own background
    requests (component updater, accounts) have no initiator ("not an
    origin"); a request made by the page has its origin ("null" for a file)
    as initiator."""
    t = open(netlog, encoding="utf-8", errors="replace").read().rstrip()
    try:
        j = json.loads(t)
    except ValueError:  # a log cut short: close the events array
        j = json.loads(t.rstrip(",") + "]}")
    types = {v: k for k, v in j["constants"]["logEventTypes"].items()}
    if "URL_REQUEST_START_JOB" not in types.values():
        die("not a Chromium net log: " + netlog)
    out = set()
    for e in j["events"]:
        p = e.get("params") or {}
        if types.get(e.get("type")) != "URL_REQUEST_START_JOB" or "url" not in p:
            continue
        if p.get("initiator", "not an origin") != "not an origin":
            out.add(p["url"])
    return out


def common(dom_path, netlog, chromium_log, png, width):
    d = Dom()
    d.feed(open(dom_path, encoding="utf-8").read())
    if d.external:
        die("external resource in the DOM: %r" % (d.external[:3],))
    urls = page_requests(netlog)
    if urls:
        die("the page made network requests: %s" % sorted(urls)[:5])
    log = open(chromium_log, encoding="utf-8", errors="replace").read()
    for pat in (r"CONSOLE\(\d+\)", r"Uncaught", r"Refused to (load|apply|execute)"):
        m = re.search(pat + r".*", log)
        if m:
            die("console message or refused resource: " + m.group(0)[:200])
    head = open(png, "rb").read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        die(png + " is not a PNG")
    w, h = struct.unpack(">II", head[16:24])
    if w != width:
        die("%s is %d px wide, expected %d" % (png, w, width))
    for f in d.figures:
        if "chart" in f["classes"] and (f["tables"] < 1 or f["svg"] < 1):
            die("chart %s lacks its svg or its data table" % f["id"])
    return d


def check_round(d, pooled):
    rows = list(csv.DictReader(open(pooled, encoding="utf-8")))
    pairs = {(r["measure"], r["stratifier"]) for r in rows}
    measures = {r["measure"] for r in rows}
    for sid in ["summary", "contents", "variation", "quality", "withheld", "trends", "method",
                "cost-of-gap"] + ["m-" + m for m in measures]:
        if sid not in d.ids:
            die("section #%s missing" % sid)
    est = [f for f in d.figures if f["id"].startswith("est-")]
    if len(est) != len(pairs):
        die("%d estimate charts, expected %d (one per measure and stratifier of pooled.csv)"
            % (len(est), len(pairs)))
    def anchor(m, s):
        return re.sub(r"[^A-Za-z0-9_-]", "_", "est-%s-%s" % (m, s))
    missing = [p for p in pairs if anchor(*p) not in d.ids]
    if missing:
        die("no chart for %s" % missing[:3])
    funnels = [f for f in d.figures if "funnel" in f["classes"]]
    if not funnels:
        die("no funnel plot although the terms allow per-organization figures")
    trends = [f for f in d.figures if f["id"].startswith("trend-")]
    if not trends:
        die("no trend chart although an earlier round was released")
    forests = [f for f in d.figures if f["id"].startswith("rr-")]
    if not forests:
        die("no RR forest plot")
    # Every withheld pooled cell is shown as withheld in its chart's table.
    withheld = [r for r in rows if r["suppressed"] == "1"]
    if not withheld:
        die("the fixture has no withheld cell")
    for r in withheld:
        fid = anchor(r["measure"], r["stratifier"])
        mine = [x for x in d.rows if x[0] == fid and x[2].startswith(r["stratum"] + " ")]
        if not mine:
            die("withheld cell %s/%s/%s is missing from chart %s" % (r["measure"], r["stratifier"], r["stratum"], fid))
        cls, text = mine[0][1], mine[0][2]
        if "withheld" not in cls or "withheld" not in text or r["reason"] not in text:
            die("withheld cell %s/%s/%s not shown as withheld with reason %s: %r"
                % (r["measure"], r["stratifier"], r["stratum"], r["reason"], text))
    aian = [x for x in d.rows if x[0] == "est-population-race" and x[2].startswith("AIAN ")]
    if not aian or "min_orgs" not in aian[0][2]:
        die("AIAN population is not shown as withheld for min_orgs")
    n_tables = sum(1 for t in d.tables if "data" in t)
    print("round report: %d charts (%d estimates, %d RR forests, %d funnels, %d trends), "
          "%d data tables, %d withheld cells shown as withheld" %
          (len([f for f in d.figures if "chart" in f["classes"]]), len(est), len(forests),
           len(funnels), len(trends), n_tables, len(withheld)))


def check_org(d, pb):
    sha = hashlib.sha256(open(pb, "rb").read()).hexdigest()
    if sha not in " ".join(d.text):
        die("the SHA-256 of the kept submission is not on the page")
    for sid in ("sent", "withheld", "spine", "spine-total"):
        if sid not in d.ids:
            die("section #%s missing" % sid)
    if not any("sent" in t for t in d.tables):
        die("no table of the cells sent")
    sent = [x for x in d.rows if x[1] in ("released", "withheld")]
    if not sent:
        die("no cell rows")
    print("organization report: %d charts, %d rows of cells" %
          (len([f for f in d.figures if "chart" in f["classes"]]), len(sent)))


def main():
    if len(sys.argv) != 8:
        die(__doc__)
    kind, dom, ref, netlog, clog, png, width = sys.argv[1:]
    d = common(dom, netlog, clog, png, int(width))
    if kind == "round":
        check_round(d, ref)
    elif kind == "org":
        check_org(d, ref)
    else:
        die("KIND must be round or org")


main()
