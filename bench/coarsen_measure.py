#!/usr/bin/env python3
"""coarsen_measure.py BUILD_DIR [RUNS] - information kept with and without coarsening
(issue 13), measured on the node: small generated populations
(equity-gen-extract --race-detail yes), run through the real equity-node with
configs/catalog-identities.ini, in two releases of the same file:

  blanking:   race, ethnicity, race_ethnicity and race_detail (the detail table
              alone: a withheld detailed cell is blank; its members are covered
              only by their minimum category);
  coarsening: the same plus race_group (a withheld detailed cell whose group
              cell is released is coarsened to it, docs/catalog.md).

Every default measure is on, no intersections, k = 11. The members of each
detailed stratum are counted here from the extract (the code list of
data/race-detail.tsv, read by this script, and the "alone" rule of
docs/catalog.md), not by the node. For the population measure it prints, per
population size, summed over RUNS seeds:
  small       members in detailed strata of 1..10 members (bench/coarsen_estimate.py's
              base);
  withheld    members in withheld detailed cells (any reason), and such cells;
  group       of the small members, the share covered by a released race_group
              cell (0 when blanking: there is no group table);
  any level   of the small members, the share covered by a released cell at the
              group or minimum level (race, or ethnicity HISPANIC);
  withheld_in_group  of the members in withheld detailed cells, the share whose
              group cell is released;
  notes       withheld detailed cells whose CSV reason carries coarsened_to.
"""
import csv, os, subprocess, sys, tempfile
from collections import Counter

BUILD = sys.argv[1] if len(sys.argv) > 1 else 'build'
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 10
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, '..')
K = 11
rows = [l.rstrip('\n').split('\t') for l in open(os.path.join(SRC, 'data', 'race-detail.tsv'))
        if not l.startswith('#') and l.strip()][1:]
code_of = {}
for code, cdc, group, minimum, _ in rows:
    code_of[code] = code
    if cdc:
        code_of[cdc] = code
group_of = {r[0]: r[2] for r in rows}
min_of = {r[0]: r[3] for r in rows}
gmin = {r[2]: r[3] for r in rows}
MINS = {'AIAN': 'AIAN', 'ASIAN': 'ASIAN', 'BLACK': 'BLACK', 'MENA': 'MENA', 'NHPI': 'NHPI',
        'WHITE': 'WHITE', 'HISPANIC': 'HISPANIC', '1002-5': 'AIAN', '2028-9': 'ASIAN', '2054-5': 'BLACK', '2118-8': 'MENA',
        '2076-8': 'NHPI', '2106-3': 'WHITE', '2135-2': 'HISPANIC'}


def detail_stratum(value):
    """The race_detail stratum of one member ("alone"), from docs/catalog.md."""
    det, mins = set(), set()
    for t in value.replace('|', ';').split(';'):
        t = t.strip().upper()
        if not t:
            continue
        if t in code_of:
            det.add(code_of[t])
            mins.add(min_of[code_of[t]])
        else:
            mins.add(MINS[t])
    if not det:
        return 'UNKNOWN'
    if len(det) == 1:
        d = next(iter(det))
        return d if mins == {min_of[d]} else 'MULTIPLE'
    return 'MULTIPLE'


def node(extract, out, strats, catalog, work):
    ini = os.path.join(work, 'n.ini')
    with open(ini, 'w') as f:
        f.write('[node]\norg = org:m\n[report]\nstratifiers = %s\nintersections = none\n' % strats)
    subprocess.run([os.path.join(BUILD, 'bin', 'equity-node'), 'aggregate', '--config', ini,
                    '--input', extract, '--catalog', catalog, '--out', out, '-q'], check=True)
    cells = {}
    with open(out) as f:
        for r in csv.DictReader(f):
            if r['measure'] == 'population':
                cells[(r['stratifier'], r['stratum'])] = r
    return cells


def released(cells, table, stratum):
    c = cells.get((table, stratum))
    return c is not None and c['suppressed'] == '0'


def main():
    catalog = os.path.join(SRC, 'configs', 'catalog-identities.ini')
    gen = os.path.join(BUILD, 'bin', 'equity-gen-extract')
    print('members runs release     small  group   any_level  withheld(members/cells)  '
          'withheld_in_group  notes')
    with tempfile.TemporaryDirectory() as work:
        for n in (1000, 5000, 20000):
            tot = {m: Counter() for m in ('blanking', 'coarsening')}
            for seed in range(1, RUNS + 1):
                ext = os.path.join(work, 'x.csv')
                subprocess.run([gen, '--rows', str(n), '--seed', str(seed), '--race-detail', 'yes',
                                '--out', ext], check=True)
                cnt = Counter()
                with open(ext) as f:
                    for r in csv.DictReader(f):
                        if float(r['member_months'] or 0) > 0:
                            cnt[detail_stratum(r['race_detail'])] += 1
                for mode, strats in (('blanking', 'race ethnicity race_ethnicity race_detail'),
                                     ('coarsening', 'race ethnicity race_ethnicity race_detail '
                                      'race_group')):
                    cells = node(ext, os.path.join(work, 'c.csv'), strats, catalog, work)
                    t = tot[mode]
                    for d, v in cnt.items():
                        if d in ('MULTIPLE', 'UNKNOWN'):
                            continue
                        small = 0 < v < K
                        withheld = not released(cells, 'race_detail', d)
                        g, m = group_of[d], min_of[d]
                        up = ('ethnicity', 'HISPANIC') if m == 'HISPANIC' else ('race', m)
                        in_g = released(cells, 'race_group', g)
                        in_m = released(cells, *up)
                        if withheld:
                            t['w_group'] += v if in_g else 0
                            t['w_members'] += v
                            t['w_cells'] += 1
                            c = cells.get(('race_detail', d))
                            t['notes'] += c is not None and 'coarsened_to' in c['reason']
                        if small:
                            t['small'] += v
                            t['group'] += v if in_g else 0
                            t['any'] += v if (in_g or in_m) else 0
            for mode in ('blanking', 'coarsening'):
                t = tot[mode]
                s = t['small'] or 1
                w = t['w_members'] or 1
                print('%7d %4d %-10s %6d  %5.1f%%  %6.1f%%   %8d / %-5d           %5.1f%%       %5d' %
                      (n, RUNS, mode, t['small'], 100.0 * t['group'] / s, 100.0 * t['any'] / s,
                       t['w_members'], t['w_cells'], 100.0 * t['w_group'] / w, t['notes']))


if __name__ == '__main__':
    main()
