#!/usr/bin/env bash
# run.sh - the node benchmark against DuckDB (bench/README.md).
#
# Generates a member-level extract of N rows, runs `equity-node aggregate`
# on it under /usr/bin/time -v (wall time, peak RSS), runs the same grouping
# sets as one DuckDB GROUPING SETS query on the same file with 2 threads,
# checks that both agree on a few totals, and prints the figures with
# PASS/MISS against the targets (node >= 8x faster, peak RSS <= 150 MB).
#
# usage: bench/run.sh [--rows N] [--seed S] [--repeat R] [--keep] [--no-build] [--against REV]
#   --rows N     rows of the extract (default 10000000)
#   --seed S     generator seed (default 1)
#   --repeat R   run each program R times, report the best time (default 1)
#   --keep       keep the extract and outputs in bench/work/
#   --no-build   use build-bench/ as it is
#   --against REV  also time the node of commit REV on the same extract, in
#                the same runs (default 900b1e6, the first wave; none: skip)
# Exit status: 0 when both ran and agree (whether or not the targets are
# met: see PASS/MISS), 1 when something failed or the results disagree,
# 2 on a usage error.
set -euo pipefail

ROWS=10000000
SEED=1
KEEP=0
BUILD=1
REPEAT=1
TARGET_RATIO=8
TARGET_RSS_MB=150
THREADS=2
# The first wave's last commit: the node's time "today" in the speed targets
# of the disclosure and catalog work (within 1.5x of it, docs/catalog.md).
AGAINST=900b1e6
TARGET_AGAINST=1.5

usage() { sed -n '10,20p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
    --rows) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --rows needs a positive integer, got \"${2:-}\"" >&2; exit 2; }
            ROWS=$2; shift 2 ;;
    --seed) [[ "${2:-}" =~ ^[0-9]+$ ]] || { echo "run.sh: --seed needs a non-negative integer, got \"${2:-}\"" >&2; exit 2; }
            SEED=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --repeat) [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --repeat needs a positive integer, got \"${2:-}\"" >&2; exit 2; }
            REPEAT=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --against) [[ "${2:-}" =~ ^([0-9a-fA-F]{7,40}|none)$ ]] || { echo "run.sh: --against needs a commit hash or none, got \"${2:-}\"" >&2; exit 2; }
            AGAINST=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument \"$1\"" >&2; usage >&2; exit 2 ;;
    esac
done

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$BENCH/.." && pwd)
BUILD_DIR=$SRC/build-bench
WORK=$BENCH/work
mkdir -p "$WORK"

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

# ---- what the benchmark needs -------------------------------------------
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
need_apt=()
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
[ -x /usr/bin/time ] || need_apt+=(time)
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
if [ ${#need_apt[@]} -gt 0 ]; then
    say "installing ${need_apt[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if [ ! -f "$BENCH/node_modules/@duckdb/node-api/package.json" ]; then
    # npm install --no-save, not npm ci: the lock file (exact versions and
    # integrity hashes) has no entries for the other platforms' optional
    # binding packages, which npm ci would insist on.
    say "npm install (@duckdb/node-api into bench/node_modules)"
    (cd "$BENCH" && npm install --no-save --no-audit --no-fund --loglevel=error >/dev/null)
fi

if [ "$BUILD" -eq 1 ]; then
    say "building (Release) in build-bench/"
    cmake -S "$SRC" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DEQ_TESTS=OFF >/dev/null
    cmake --build "$BUILD_DIR" -j"$(nproc)" --target equity-node equity-gen-extract >/dev/null
fi
NODE_BIN=$BUILD_DIR/bin/equity-node
# The node of commit AGAINST, built once per commit into bench/work/ (from
# git archive: no worktree is registered)
AG_BIN=
if [ "$AGAINST" != none ]; then
    command -v git >/dev/null 2>&1 || die "--against needs git (or pass --against none)"
    AG_FULL=$(git -C "$SRC" rev-parse --verify -q "$AGAINST^{commit}") ||
        die "--against: commit $AGAINST is not in this clone (pass --against none to skip)"
    AG_DIR=$WORK/against-${AG_FULL:0:12}
    AG_BIN=$AG_DIR/build/bin/equity-node
    if [ ! -x "$AG_BIN" ]; then
        say "building the node of $AGAINST (Release) in ${AG_DIR#"$SRC"/}"
        rm -rf "$AG_DIR"
        mkdir -p "$AG_DIR/src"
        git -C "$SRC" archive "$AG_FULL" | tar -x -C "$AG_DIR/src"
        cmake -S "$AG_DIR/src" -B "$AG_DIR/build" -DCMAKE_BUILD_TYPE=Release -DEQ_TESTS=OFF >/dev/null
        cmake --build "$AG_DIR/build" -j"$(nproc)" --target equity-node >/dev/null
        [ -x "$AG_BIN" ] || die "the node of $AGAINST did not build"
    fi
fi
GEN_BIN=$BUILD_DIR/bin/equity-gen-extract
[ -x "$NODE_BIN" ] || die "$NODE_BIN is missing (build failed?)"
[ -x "$GEN_BIN" ] || die "$GEN_BIN is missing (build failed?)"

EXTRACT=$WORK/extract-$ROWS-$SEED.csv
CELLS=$WORK/node-cells-$ROWS.csv
CELLS_BUILTIN=$WORK/node-cells-$ROWS.builtin.csv
CELLS_AGAINST=$WORK/node-cells-$ROWS.against.csv
NODE_TIME=$WORK/node-time-$ROWS.txt
NODE_LOG=$WORK/node-log-$ROWS.txt
DUCK_JSON=$WORK/duckdb-$ROWS.json
DUCK_TIME=$WORK/duckdb-time-$ROWS.txt
cleanup() {
    if [ "$KEEP" -eq 0 ]; then
        rm -f "$EXTRACT" "$CELLS" "$CELLS_BUILTIN" "$CELLS_AGAINST" "$NODE_TIME" "$NODE_LOG" "$DUCK_JSON" "$DUCK_TIME"
    fi
}
trap cleanup EXIT

# ---- the input ----------------------------------------------------------------
say "generating $ROWS rows (seed $SEED)"
gen_t0=$(date +%s.%N)
"$GEN_BIN" --rows "$ROWS" --seed "$SEED" --out "$EXTRACT"
gen_t1=$(date +%s.%N)
FILE_BYTES=$(stat -c %s "$EXTRACT")
# Warm the page cache once, for both programs.
cat "$EXTRACT" >/dev/null
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# elapsed "h:mm:ss" or "m:ss.ss" of time -v into seconds.
elapsed_of() {
    sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$1" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.3f\n", s }'
}
rss_mb_of() {
    sed -n 's/.*Maximum resident set size (kbytes): //p' "$1" | awk '{ printf "%.1f\n", $1 / 1024 }'
}

# ---- the node and DuckDB, REPEAT times each, alternating ---------------------
# Each figure is the best (smallest) of the runs: on a shared 2-core machine
# the slower runs measure the neighbours. Peak RSS is the largest.
min_of() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }
max_of() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 > a + 0) ? b : a }'; }
NODE_S= NODE_READ_S= NODE_RSS= DUCK_S= DUCK_PROC_S= DUCK_RSS=
for run in $(seq 1 "$REPEAT"); do
    say "equity-node aggregate (run $run of $REPEAT)"
    rm -f "$CELLS"
    node_rc=0
    /usr/bin/time -v -o "$NODE_TIME" "$NODE_BIN" aggregate --input "$EXTRACT" --out "$CELLS" \
        2>"$NODE_LOG" || node_rc=$?
    if [ "$node_rc" -ne 0 ] || [ ! -s "$CELLS" ]; then
        tail -5 "$NODE_LOG" >&2 || true
        die "equity-node aggregate failed (exit $node_rc) or wrote no cells file"
    fi
    s=$(elapsed_of "$NODE_TIME")
    # The node logs how long reading and tallying took ("... rejected (X s)");
    # the rest of its time is suppression and output.
    r=$(sed -n 's/.* rows read, .*(\([0-9.]*\) s)$/\1/p' "$NODE_LOG" | head -1)
    if [ "$(min_of "$NODE_S" "$s")" = "$s" ]; then NODE_S=$s; NODE_READ_S=$r; fi
    NODE_RSS=$(max_of "$NODE_RSS" "$(rss_mb_of "$NODE_TIME")")

    # The same with the compiled-in catalog (--catalog builtin, the
    # hand-written tally): the catalog file must stay within 1.5x of it and
    # give the same bytes (docs/catalog.md).
    say "equity-node aggregate --catalog builtin (run $run of $REPEAT)"
    /usr/bin/time -v -o "$NODE_TIME" "$NODE_BIN" aggregate --input "$EXTRACT" --catalog builtin \
        --out "$CELLS_BUILTIN" 2>"$NODE_LOG" || die "equity-node aggregate --catalog builtin failed"
    BUILTIN_S=$(min_of "${BUILTIN_S:-}" "$(elapsed_of "$NODE_TIME")")
    cmp -s "$CELLS" "$CELLS_BUILTIN" || die "the catalog file and the compiled-in catalog gave different cells"
    rm -f "$CELLS_BUILTIN"

    if [ -n "$AG_BIN" ]; then
        # Commit AGAINST's node on the same extract: its cells differ where
        # later work changed them (exact cents, the disclosure model), so
        # only its time is used.
        say "equity-node aggregate of $AGAINST (run $run of $REPEAT)"
        /usr/bin/time -v -o "$NODE_TIME" "$AG_BIN" aggregate --input "$EXTRACT" \
            --out "$CELLS_AGAINST" 2>"$NODE_LOG" || die "the node of $AGAINST failed"
        AG_S=$(min_of "${AG_S:-}" "$(elapsed_of "$NODE_TIME")")
        rm -f "$CELLS_AGAINST"
    fi

    say "DuckDB GROUPING SETS, $THREADS threads (run $run of $REPEAT)"
    (cd "$BENCH" && /usr/bin/time -v -o "$DUCK_TIME" node duckdb_grouping_sets.mjs \
        --input "$EXTRACT" --threads "$THREADS" >"$DUCK_JSON") || die "the DuckDB query failed"
    s=$(sed -n 's/.*"seconds":\([0-9.eE+-]*\),.*/\1/p' "$DUCK_JSON")
    [ -n "$s" ] || die "no query time in $DUCK_JSON"
    DUCK_S=$(min_of "$DUCK_S" "$s")
    DUCK_PROC_S=$(min_of "$DUCK_PROC_S" "$(elapsed_of "$DUCK_TIME")")
    DUCK_RSS=$(max_of "$DUCK_RSS" "$(rss_mb_of "$DUCK_TIME")")
done

# ---- agreement and report -----------------------------------------------------
# Node cells: population.members, ed_rate.numerator and cost_pmpm.numerator
# of the total and of each race stratum, compared with DuckDB's figures.
export CELLS DUCK_JSON
CHECK_OUT=$(node --input-type=module -e '
import { readFileSync } from "node:fs";
const duck = JSON.parse(readFileSync(process.env.DUCK_JSON, "utf8"));
const lines = readFileSync(process.env.CELLS, "utf8").split(/\r?\n/).filter(Boolean);
const head = lines[0].split(",");
const col = (n) => { const i = head.indexOf(n); if (i < 0) throw new Error("cells CSV has no column " + n); return i; };
const [cM, cS, cT, cMem, cNum, cSup] = ["measure", "stratifier", "stratum", "members", "numerator", "suppressed"].map(col);
const want = { population: ["members", cMem], ed_rate: ["ed_visits", cNum], cost_pmpm: ["cost", cNum] };
const node = {};
for (const l of lines.slice(1)) {
  const f = l.split(",");
  if ((f[cS] !== "total" && f[cS] !== "race") || !want[f[cM]]) continue;
  const key = f[cS] === "total" ? "total" : f[cT];
  const [name, c] = want[f[cM]];
  (node[key] ??= {})[name] = f[cSup] === "1" ? "suppressed" : Number(f[c]);
}
// A race stratum is usable when its members and ED visits are released; its
// cost may be withheld (dominance or complementary suppression), then it is
// reported and skipped.
const usable = (o) => o && ["members", "ed_visits"].every((k) => typeof o[k] === "number");
const races = Object.keys(duck.checks.race).filter((r) => usable(node[r]))
  .sort((a, b) => duck.checks.race[b].members - duck.checks.race[a].members);
if (races.length === 0) { console.log("check race: the node released no race stratum"); }
const picks = [["total", duck.checks.total, node.total], ...races.slice(0, 2).map((r) => ["race=" + r, duck.checks.race[r], node[r]])];
let ok = true;
for (const [name, d, n] of picks) {
  for (const k of ["members", "ed_visits", "cost"]) {
    const a = n?.[k], b = d?.[k];
    if (name !== "total" && a === "suppressed") {
      console.log(`check ${name} ${k}: withheld by the node (suppressed), duckdb ${b} skipped`);
      continue;
    }
    const tol = k === "cost" ? 1e-6 * Math.max(1, Math.abs(b)) : 0;
    const good = typeof a === "number" && Number.isFinite(a) && Math.abs(a - b) <= tol;
    ok &&= good;
    console.log(`check ${name} ${k}: node ${a} duckdb ${b} ${good ? "ok" : "DIFFERENT"}`);
  }
}
console.log(ok ? "AGREE" : "DISAGREE");
console.log(`DUCK ${duck.seconds} ${duck.version} ${duck.result_rows}`);
') || die "could not compare the results"

echo "$CHECK_OUT" | grep '^check ' >&2
read -r _ _ DUCK_VER DUCK_ROWS <<<"$(echo "$CHECK_OUT" | grep '^DUCK ')"
AGREE=$(echo "$CHECK_OUT" | grep -E '^(AGREE|DISAGREE)$')
NODE_CELLS=$(($(wc -l <"$CELLS") - 1))

awk -v rows="$ROWS" -v bytes="$FILE_BYTES" -v gen="$(awk -v a="$gen_t0" -v b="$gen_t1" 'BEGIN { print b - a }')" \
    -v ns="$NODE_S" -v bs="${BUILTIN_S:-0}" -v ds="$DUCK_S" -v dps="$DUCK_PROC_S" -v rss="$NODE_RSS" -v drss="$DUCK_RSS" \
    -v ver="$DUCK_VER" -v thr="$THREADS" -v tr="$TARGET_RATIO" -v trss="$TARGET_RSS_MB" \
    -v machine="$(nproc) cores, load average before the runs: $LOAD_BEFORE" \
    -v nread="${NODE_READ_S:-}" -v repeat="$REPEAT" \
    -v ag="$AGAINST" -v ags="${AG_S:-0}" -v tag="$TARGET_AGAINST" \
    -v ncells="$NODE_CELLS" -v drows="$DUCK_ROWS" -v agree="$AGREE" '
BEGIN {
    ratio = (ns > 0) ? ds / ns : 0
    printf "machine              %s\n", machine
    printf "rows                 %d\n", rows
    printf "file size            %.1f MB (%d bytes)\n", bytes / 1048576, bytes
    if (gen > 0) printf "generator            %.2f s\n", gen
    if (repeat > 1) printf "runs                 %d each, best time kept\n", repeat
    printf "node seconds         %.3f (equity-node aggregate, whole process; %d cells; catalog file)\n", ns, ncells
    printf "  compiled-in catalog %.3f (--catalog builtin: same cells)  file/builtin %.2fx %s (target <= 1.5x)\n", bs, (bs > 0 ? ns / bs : 0), (bs > 0 && ns / bs <= 1.5 ? "PASS" : "MISS")
    if (ags > 0) printf "  commit %-12s %.3f (its node, same extract)  now/%s %.2fx %s (target <= %.1fx)\n", ag, ags, ag, ns / ags, (ns / ags <= tag ? "PASS" : "MISS"), tag
    if (nread != "") printf "  of which reading    %.3f (its log; the rest: suppression and output)\n", nread
    printf "DuckDB seconds       %.3f (one GROUPING SETS query, %d threads, DuckDB %s; %d groups; process %.3f s)\n", ds, thr, ver, drows, dps
    printf "ratio                %.1fx (DuckDB / node)  %s (target >= %dx)\n", ratio, (ratio >= tr ? "PASS" : "MISS"), tr
    printf "node peak RSS        %.1f MB  %s (target <= %d MB)\n", rss, (rss <= trss ? "PASS" : "MISS"), trss
    printf "DuckDB peak RSS      %.1f MB (node.js process)\n", drss
    printf "results              %s\n", (agree == "AGREE" ? "agree (members, ED visits, cost: total and two race strata)" : "DISAGREE")
}'
[ "$AGREE" = AGREE ] || exit 1
exit 0
