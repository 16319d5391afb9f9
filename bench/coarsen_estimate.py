#!/usr/bin/env python3
"""coarsen_estimate.py [RUNS] - information kept with and without coarsening (issue 13),
estimated on small generated populations, BEFORE the node codes it: a planning figure, not
a measurement of the node.

Members get a detailed race and ethnicity category of data/race-detail.tsv with invented
shares (below: Asian 6 %, Hispanic 18 %, MENA 1.5 % of members, split evenly-ish inside).
A detailed cell with 1..k-1 members (k = 11, privacy.md) is small and withheld; with one
withheld child in a group whose other children are released, the smallest other non-empty
child is withheld too (complementary suppression, else group - siblings recovers it).
Without coarsening only the detailed table is released: a member of a small detailed stratum
is covered by no released cell finer than the minimum category. With coarsening the group
cell (East Asian, ...) is released when it has >= k members, and its minimum covers the
rest; a group withheld alone under its minimum gets a complementary partner the same way.
Prints, per population size, the share of members in small detailed strata that a released
cell covers at the group level, with and without coarsening."""
import os, random, sys

K = 11
HERE = os.path.dirname(os.path.abspath(__file__))
rows = [l.rstrip('\n').split('\t') for l in open(os.path.join(HERE, '..', 'data', 'race-detail.tsv'))
        if not l.startswith('#') and l.strip()][1:]
share_min = {'ASIAN': 0.06, 'HISPANIC': 0.18, 'MENA': 0.015}
weight = {}
for code, _cdc, group, minimum, _label in rows:
    n_in = sum(1 for r in rows if r[3] == minimum)
    weight[code] = share_min[minimum] / n_in * (1.5 if rows.index([code, _cdc, group, minimum, _label]) % 3 == 0 else 0.75)
parent = {r[0]: r[2] for r in rows}
gmin = {r[2]: r[3] for r in rows}


def protect(counts):
    """Withheld set of one table's cells under a released margin."""
    w = {c for c, n in counts.items() if 0 < n < K}
    if len(w) == 1:
        rest = sorted((n, c) for c, n in counts.items() if n > 0 and c not in w)
        if rest:
            w.add(rest[0][1])
    return w


def one(n, rng):
    codes = list(weight)
    rest = 1 - sum(weight.values())
    draw = rng.choices(codes + [None], weights=[weight[c] for c in codes] + [rest], k=n)
    cnt = {c: 0 for c in codes}
    for d in draw:
        if d:
            cnt[d] += 1
    small = {c for c, v in cnt.items() if 0 < v < K}
    small_members = sum(cnt[c] for c in small)
    withheld = set()
    for g in set(parent.values()):
        withheld |= protect({c: cnt[c] for c in codes if parent[c] == g})
    gcnt = {}
    for c in codes:
        gcnt[parent[c]] = gcnt.get(parent[c], 0) + cnt[c]
    gw = set()
    for m in set(gmin.values()):
        gw |= protect({g: v for g, v in gcnt.items() if gmin[g] == m})
    covered = sum(cnt[c] for c in small if parent[c] not in gw)
    lost_detail = sum(cnt[c] for c in withheld)
    return small_members, covered, lost_detail


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    rng = random.Random(13)
    print('members  runs  in_small_strata  covered_blanking  covered_coarsening  withheld_detail')
    for n in (1000, 5000, 20000):
        s = c = w = 0
        for _ in range(runs):
            a, b, d = one(n, rng)
            s += a; c += b; w += d
        pct = 100.0 * c / s if s else 0.0
        print('%7d  %4d  %15d  %15.1f%%  %17.1f%%  %15d' % (n, runs, s, 0.0, pct, w))


if __name__ == '__main__':
    main()
