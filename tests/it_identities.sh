#!/bin/bash
# it_identities.sh BUILD_DIR SOURCE_DIR - the identity stratifiers of issue 13
# (docs/catalog.md, "Identity columns"): race_source, ethnicity_source,
# sexual_orientation, gender_identity.
#  - an extract with the four columns (codes, standard codes of data/sogi.tsv,
#    the catalog's map. entries, empty fields) read with
#    configs/catalog-identities.ini: every one-way identity table's released
#    members equal python3's own count from the file (an oracle that shares no
#    code with the node), and each table adds up to the total;
#  - a value that is no code: the row is rejected (BAD_CODE), and no output
#    or log line quotes the value; with --strict the error names the column;
#  - a missing column: every member UNKNOWN there, with a warning;
#  - the default catalog ignores the columns: the same file with and without
#    them gives byte-identical cells, and [report] stratifiers =
#    sexual_orientation is refused (the default catalog does not offer it);
#  - FHIR: US Core sexual orientation / gender identity Observations and the
#    Patient genderIdentity extension are read (latest before the year's end);
#    the race and ethnicity extensions' ombCategory and detailed codings give
#    race_detail, race_group and race_aic (expected cells computed here).
set -u
BUILD=${1:?usage: it_identities.sh BUILD_DIR SOURCE_DIR}
SRC=$(cd "${2:?usage: it_identities.sh BUILD_DIR SOURCE_DIR}" && pwd)
BIN=$BUILD/bin
. "$SRC/tests/support/it_lib.sh" equity-node equity-gen-extract
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
NODE=$BIN/equity-node
CAT=$SRC/configs/catalog-identities.ini
printf '[node]\ncatalog = %s\n[policy]\nmin_k = 2\n' "$CAT" >"$W/id.ini"
printf '[policy]\nmin_k = 2\n' >"$W/def.ini"

"$BIN/equity-gen-extract" --rows 6000 --seed 3 --out "$W/base.csv" || fail "generator failed"
python3 - "$W" <<'PY' || fail "rewrite failed"
import csv, sys, random
W = sys.argv[1]
rows = list(csv.reader(open(W + '/base.csv', newline='')))
random.seed(7)
# value written -> stratum (codes, standard codes, catalog maps, case, empty)
SRC = {'SELF': 'SELF', 'self': 'SELF', 'IMPUTED': 'IMPUTED', 'INDIRECT': 'IMPUTED',
       'BISG': 'IMPUTED', 'DIRECT': 'SELF', 'UNKNOWN': 'UNKNOWN', '': 'UNKNOWN'}
SO = {'STRAIGHT': 'STRAIGHT', '20430005': 'STRAIGHT', 'heterosexual': 'STRAIGHT',
      '38628009': 'LESBIAN_GAY', 'GAY': 'LESBIAN_GAY', 'BISEXUAL': 'BISEXUAL',
      '42035005': 'BISEXUAL', 'SOMETHING_ELSE': 'SOMETHING_ELSE', 'ASKU': 'DONT_KNOW',
      'DONT_KNOW': 'DONT_KNOW', 'DECLINED': 'DECLINED', 'UNK': 'UNKNOWN', '': 'UNKNOWN'}
GI = {'FEMALE': 'FEMALE', 'LA22879-3': 'FEMALE', 'woman': 'FEMALE', 'MALE': 'MALE',
      'LA22878-5': 'MALE', 'LA22881-9': 'TRANSGENDER_FEMALE', 'TRANSGENDER_MALE': 'TRANSGENDER_MALE',
      'LA22882-7': 'NONBINARY', 'non_binary': 'NONBINARY', 'LA46-8': 'OTHER',
      'LA20384-6': 'DONT_KNOW', 'DECLINED': 'DECLINED', 'asked_declined': 'DECLINED',
      '': 'UNKNOWN', 'UNKNOWN': 'UNKNOWN'}
cols = [('race_source', SRC), ('ethnicity_source', SRC), ('sexual_orientation', SO),
        ('gender_identity', GI)]
h = rows[0] + [c for c, _ in cols]
mi = h.index('member_months')
count = {c: {} for c, _ in cols}
out = [h]
for r in rows[1:]:
    vals = [random.choice(sorted(m)) for _, m in cols]
    out.append(r + vals)
    if float(r[mi]) > 0:
        for (c, m), v in zip(cols, vals):
            count[c][m[v]] = count[c].get(m[v], 0) + 1
csv.writer(open(W + '/id.csv', 'w', newline=''), lineterminator='\n').writerows(out)
with open(W + '/expect.txt', 'w') as f:
    for c in count:
        for k, n in sorted(count[c].items()):
            f.write('%s,%s,%d\n' % (c, k, n))
# a bad value in row 10, and the file without sexual_orientation
bad = [list(r) for r in out]
bad[10][h.index('gender_identity')] = 'SECRETVALUE'
csv.writer(open(W + '/bad.csv', 'w', newline=''), lineterminator='\n').writerows(bad)
k = h.index('sexual_orientation')
csv.writer(open(W + '/miss.csv', 'w', newline=''), lineterminator='\n').writerows(
    [r[:k] + r[k + 1:] for r in out])
PY

# 1. counts against the oracle
"$NODE" aggregate -q --config "$W/id.ini" --input "$W/id.csv" --k 2 --out "$W/id.cells.csv" \
    || fail "aggregate with catalog-identities.ini"
python3 - "$W/id.cells.csv" "$W/expect.txt" <<'PY' || fail "identity counts differ from the oracle"
import csv, sys
cells = {}
total = None
for r in csv.DictReader(open(sys.argv[1])):
    if r['measure'] != 'population':
        continue
    if r['stratifier'] == 'total':
        total = int(r['members'])
    elif r['suppressed'] == '0':
        cells[(r['stratifier'], r['stratum'])] = int(r['members'])
bad = 0
exp = {}
for line in open(sys.argv[2]):
    s, k, n = line.strip().split(',')
    exp[(s, k)] = int(n)
for s in ('race_source', 'ethnicity_source', 'sexual_orientation', 'gender_identity'):
    got = {k: v for (t, k), v in cells.items() if t == s}
    if not got: print('no released cells of', s); bad = 1
    for k, v in got.items():
        if v != exp.get((s, k), 0): print('%s %s: node %d, oracle %d' % (s, k, v, exp.get((s, k), 0))); bad = 1
    if sum(n for (t, k), n in exp.items() if t == s) != total: print(s, 'does not add up to the total'); bad = 1
    if len(got) != len([1 for (t, k) in exp if t == s]): print(s, 'not every stratum released'); bad = 1
sys.exit(bad)
PY
echo "ok: identity counts equal the oracle's"

# 2. a bad value: rejected, never quoted
"$NODE" aggregate --config "$W/id.ini" --input "$W/bad.csv" --k 2 --out "$W/bad.cells.csv" \
    >"$W/bad.log" 2>&1 || fail "aggregate bad.csv"
grep -q "1 rejected" "$W/bad.log" || fail "the bad row was not rejected"
"$NODE" profile --config "$W/id.ini" --input "$W/bad.csv" >"$W/bad.profile" 2>&1
grep -q "gender_identity is not a standard code" "$W/bad.profile" || fail "the profile does not name the column"
"$NODE" aggregate --config "$W/id.ini" --input "$W/bad.csv" --strict --k 2 --out "$W/strict.csv" \
    >"$W/strict.log" 2>&1 && fail "--strict accepted a bad gender_identity"
grep -q "bad.csv:11:37: gender_identity" "$W/strict.log" || fail "the strict error does not say where"
if grep -q SECRETVALUE "$W/bad.log" "$W/bad.profile" "$W/strict.log" "$W/bad.cells.csv"; then
    fail "a bad identity value is quoted in an output or log"
fi
echo "ok: a bad value rejects its row, named by column only"

# 3. a missing column: all UNKNOWN, with a warning
"$NODE" aggregate --config "$W/id.ini" --input "$W/miss.csv" --k 2 --out "$W/miss.cells.csv" \
    >"$W/miss.log" 2>&1 || fail "aggregate miss.csv"
grep -q "no column sexual_orientation in the extract: every member UNKNOWN" "$W/miss.log" \
    || fail "no warning for the missing column"
tot=$(awk -F, '$3 == "population" && $4 == "total" { print $6 }' "$W/miss.cells.csv")
unk=$(awk -F, '$3 == "population" && $4 == "sexual_orientation" && $5 == "UNKNOWN" { print $6 }' "$W/miss.cells.csv")
[ -n "$tot" ] && [ "$tot" = "$unk" ] || fail "missing column: UNKNOWN $unk, total $tot"
echo "ok: a missing column is UNKNOWN for every member"

# 4. the default catalog ignores the columns
"$NODE" aggregate -q --config "$W/def.ini" --input "$W/base.csv" --k 2 --out "$W/d0.csv" || fail "default base"
"$NODE" aggregate -q --config "$W/def.ini" --input "$W/bad.csv" --k 2 --out "$W/d1.csv" || fail "default id"
cmp -s "$W/d0.csv" "$W/d1.csv" || fail "the default catalog's cells change with the identity columns"
grep -q "sexual_orientation\|race_source" "$W/d0.csv" && fail "the default catalog tallies an identity stratifier"
printf '[policy]\nmin_k = 2\n[report]\nstratifiers = race, sexual_orientation\n' >"$W/def2.ini"
"$NODE" check-config --quiet --config "$W/def2.ini" >"$W/def2.log" 2>&1 \
    && fail "the default catalog accepted [report] stratifiers = sexual_orientation"
grep -q 'stratifier sexual_orientation needs a catalog that defines it' "$W/def2.log" || fail "no reason given: $(cat "$W/def2.log")"
echo "ok: the default catalog ignores the identity columns and refuses their stratifiers"

# 5. FHIR: two copies of each patient so that k = 2 releases every count
mkdir -p "$W/fhir"
python3 - "$W/fhir" <<'PY' || fail "fhir fixture"
import json, sys
d = sys.argv[1]
GI_EXT = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-genderIdentity'
def obs(i, pid, loinc, when, system, code):
    return {'resourceType': 'Observation', 'id': i, 'status': 'final',
            'code': {'coding': [{'system': 'http://loinc.org', 'code': loinc}]},
            'subject': {'reference': 'Patient/' + pid}, 'effectiveDateTime': when,
            'valueCodeableConcept': {'coding': [{'system': system, 'code': code}]}}
SCT = 'http://snomed.info/sct'; NF = 'http://terminology.hl7.org/CodeSystem/v3-NullFlavor'
P, O = [], []
for c in 'ab':
    P.append({'resourceType': 'Patient', 'id': 'p1' + c, 'gender': 'female', 'birthDate': '1980-01-01'})
    P.append({'resourceType': 'Patient', 'id': 'p2' + c, 'gender': 'male', 'birthDate': '1970-01-01',
              'extension': [{'url': GI_EXT, 'valueCodeableConcept': {'coding': [{'system': SCT, 'code': '33791000087105'}]}}]})
    P.append({'resourceType': 'Patient', 'id': 'p3' + c, 'gender': 'male', 'birthDate': '1990-01-01'})
    O.append(obs('o1' + c, 'p1' + c, '76690-7', '2019-05-01', SCT, '42035005'))
    O.append(obs('o2' + c, 'p1' + c, '76691-5', '2023-02-01', SCT, '446141000124107'))
    O.append(obs('o3' + c, 'p3' + c, '76690-7', '2023-02-01', NF, 'ASKU'))
    O.append(obs('o4' + c, 'p3' + c, '76690-7', '2025-02-01', SCT, '20430005'))
open(d + '/Patient.ndjson', 'w').write(''.join(json.dumps(x) + '\n' for x in P))
open(d + '/Observation.ndjson', 'w').write(''.join(json.dumps(x) + '\n' for x in O))
PY
"$NODE" aggregate -q --config "$W/id.ini" --format fhir --period 2023 --input "$W/fhir" --k 2 \
    --out "$W/fhir.cells.csv" || fail "aggregate fhir"
got=$(awk -F, '$3 == "population" && ($4 == "sexual_orientation" || $4 == "gender_identity") && $6 > 0 { printf "%s=%s:%s ", $4, $5, $6 }' "$W/fhir.cells.csv")
want="sexual_orientation=BISEXUAL:2 sexual_orientation=DONT_KNOW:2 sexual_orientation=UNKNOWN:2 gender_identity=FEMALE:2 gender_identity=NONBINARY:2 gender_identity=UNKNOWN:2 "
[ "$got" = "$want" ] || fail "fhir identity strata: got '$got', want '$want'"
echo "ok: FHIR sexual orientation and gender identity read"

# 5b. FHIR detailed race and ethnicity (US Core race / ethnicity extensions,
# ombCategory and detailed codings): race_detail, race_group, race_aic and
# race computed here from the fixture with data/race-detail.tsv and the rules
# of docs/catalog.md, two copies of each patient so that k = 2 releases all.
mkdir -p "$W/fhir_rd"
python3 - "$W/fhir_rd" "$SRC/data/race-detail.tsv" >"$W/fhir_rd.want" <<'PY' || fail "fhir race fixture"
import json, sys
d, tsv = sys.argv[1], sys.argv[2]
CDC = 'urn:oid:2.16.840.1.113883.6.238'
RACE = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race'
ETH = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity'
tab = {}
for line in open(tsv):
    if line.startswith('#') or line.startswith('code\t'):
        continue
    code, cdc, group, minimum = line.rstrip('\n').split('\t')[:4]
    if cdc:
        tab[cdc] = (code, group, minimum)
OMB = {'1002-5': 'AIAN', '2028-9': 'ASIAN', '2054-5': 'BLACK', '2076-8': 'NHPI', '2106-3': 'WHITE'}
# (race ombCategory, race detailed, ethnicity ombCategory, ethnicity detailed)
people = [
    (['2028-9'], ['2034-7', '2036-2'], ['2186-5'], []),   # Chinese and Filipino
    (['2028-9'], ['2034-7'], [], []),                     # Chinese
    ([], ['2034-7', '2039-6'], [], []),                   # Chinese and Japanese, no ombCategory
    (['2106-3'], ['2047-9'], [], []),                     # White, Vietnamese
    (['2106-3'], [], ['2135-2'], ['2148-5']),             # White, Mexican
    ([], [], [], ['2182-4']),                             # Cuban only
    (['2028-9'], ['2035-4'], [], []),                     # Asian, a detailed code the table lacks
    (['2131-1'], ['2034-7'], [], []),                     # Other Race and Chinese: contradicts
    ([], [], [], []),                                     # nothing
]
def ext(url, omb, det):
    e = [{'url': 'ombCategory', 'valueCoding': {'system': CDC, 'code': c}} for c in omb]
    e += [{'url': 'detailed', 'valueCoding': {'system': CDC, 'code': c}} for c in det]
    return {'url': url, 'extension': e + [{'url': 'text', 'valueString': 'x'}]}
P, want = [], {}
def count(k):
    want[k] = want.get(k, 0) + 2
for i, (ro, rd, eo, ed) in enumerate(people):
    for c in 'ab':
        x = []
        if ro or rd: x.append(ext(RACE, ro, rd))
        if eo or ed: x.append(ext(ETH, eo, ed))
        P.append({'resourceType': 'Patient', 'id': 'r%d%s' % (i, c), 'gender': 'female',
                  'birthDate': '1980-01-01', 'extension': x})
    # the oracle: responses = detailed codes of the table and minimum categories
    dets = [tab[c] for c in rd + ed if c in tab]
    unknown_detail = any(c not in tab for c in rd + ed)
    mins = {OMB[c] for c in ro if c in OMB} | {t[2] for t in dets}
    if eo == ['2135-2'] or any(c in tab or 2137 <= int(c[:4]) <= 2184 for c in ed): mins.add('HISPANIC')
    races = mins - {'HISPANIC'}
    # race as the adapter gives it (a race code per coding, several: MULTI)
    coded = {OMB[c] for c in ro if c in OMB} | {'OTHER' for c in ro if c == '2131-1'} | {t[2] for t in dets if t[2] != 'HISPANIC'}
    race = 'UNKNOWN' if not coded else coded.pop() if len(coded) == 1 else 'MULTI'
    eth = 'HISPANIC' if 'HISPANIC' in mins else 'NOT_HISPANIC' if eo == ['2186-5'] else 'UNKNOWN'
    # one race reported: race is that one; several: MULTI
    if races and race != (next(iter(races)) if len(races) == 1 else 'MULTI'):
        dets, mins, races, unknown_detail = [], set(), set(), False   # left out
    if unknown_detail: dets = []
    codes = {t[0] for t in dets}
    groups = {t[1] for t in dets}
    other_min = lambda m: len(mins) > 1 or (mins and next(iter(mins)) != m)
    rdet = 'UNKNOWN' if not codes else 'MULTIPLE' if len(codes) > 1 or other_min(dets[0][2]) else dets[0][0]
    rgrp = 'UNKNOWN' if not groups else 'MULTIPLE' if len(groups) > 1 or other_min(dets[0][2]) else dets[0][1]
    count(('race', race)); count(('race_detail', rdet)); count(('race_group', rgrp))
    aic = set(races) or ({race} if race in OMB.values() or race == 'MENA' else set())
    if eth == 'HISPANIC': aic.add('HISPANIC')
    for a in aic or {'UNKNOWN'}: count(('race_aic', a))
open(d + '/Patient.ndjson', 'w').write(''.join(json.dumps(x) + '\n' for x in P))
for k in sorted(want): print('%s=%s:%d' % (k[0], k[1], want[k]))
PY
"$NODE" aggregate -q --config "$W/id.ini" --format fhir --period 2023 --input "$W/fhir_rd" --k 2 \
    --out "$W/fhir_rd.cells.csv" || fail "aggregate fhir race"
awk -F, '$3 == "population" && ($4 == "race" || $4 == "race_detail" || $4 == "race_group" || $4 == "race_aic") && $6 > 0 { print $4 "=" $5 ":" $6 }' \
    "$W/fhir_rd.cells.csv" | sort >"$W/fhir_rd.got"
cmp -s "$W/fhir_rd.want" "$W/fhir_rd.got" || fail "fhir detailed race: $(diff "$W/fhir_rd.want" "$W/fhir_rd.got" | tr '\n' ' ')"
grep -q "race_detail=MULTIPLE" "$W/fhir_rd.got" && grep -q "race_detail=CHINESE:2" "$W/fhir_rd.got" \
    || fail "fhir detailed race: no CHINESE or MULTIPLE cell"
"$NODE" profile --config "$W/id.ini" --format fhir --period 2023 --input "$W/fhir_rd" >"$W/fhir_rd.profile" 2>&1
grep -q "Detailed race responses: 14 members with some, 2 left out" "$W/fhir_rd.profile" \
    || fail "fhir profile: $(grep -i detailed "$W/fhir_rd.profile")"
# the default catalog reads no responses
"$NODE" profile --config "$W/def.ini" --format fhir --period 2023 --input "$W/fhir_rd" >"$W/fd.profile" 2>&1
grep -q "Detailed race responses" "$W/fd.profile" && fail "the default catalog reads detailed race responses"
echo "ok: FHIR detailed race and ethnicity read (race_detail, race_group, race_aic)"
# 6. the generator: --identities keeps the other columns, writes valid codes
# and HEDIS numerators only inside their denominators
"$BIN/equity-gen-extract" --rows 20000 --seed 9 --out "$W/g0.csv" || fail "gen"
"$BIN/equity-gen-extract" --rows 20000 --seed 9 --identities yes --out "$W/g1.csv" || fail "gen --identities"
cut -d, -f1-33 "$W/g1.csv" | cmp -s - "$W/g0.csv" || fail "--identities changes the other columns"
python3 - "$W/g1.csv" <<'PY' || fail "generated identity columns"
import csv, sys
r = list(csv.DictReader(open(sys.argv[1])))
bad = 0
for k, a, b in (('hedis_ppc_prenatal', 'hedis_ppc_denominator', None), ('hedis_ppc_postpartum', 'hedis_ppc_denominator', None),
                ('hedis_fum_7d', 'hedis_fum_30d', None), ('hedis_fum_30d', 'hedis_fum_denominator', None),
                ('hedis_cis_combo10', 'hedis_cis_denominator', None)):
    if any(x[k] == '1' and x[a] != '1' for x in r): print(k, 'outside', a); bad = 1
share = lambda c, v: sum(x[c] in v for x in r) / len(r)
imp = share('race_source', ('IMPUTED', 'INDIRECT'))
lgb = share('sexual_orientation', ('LESBIAN_GAY', 'BISEXUAL', '38628009', '42035005'))
unk = share('sexual_orientation', ('', 'UNKNOWN', 'DECLINED', 'DONT_KNOW', 'ASKU'))
if not 0.03 < imp < 0.08: print('imputed race share', imp); bad = 1
if not 0.003 < lgb < 0.05 or unk < 0.7: print('sexual orientation shares', lgb, unk); bad = 1
if sum(x['hedis_ppc_denominator'] == '1' for x in r) < 50: print('too few PPC deliveries'); bad = 1
sys.exit(bad)
PY
echo "ok: equity-gen-extract --identities"
echo "PASS: it_identities"
