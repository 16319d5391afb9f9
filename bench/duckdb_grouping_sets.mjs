// duckdb_grouping_sets.mjs - the benchmark's peer: the node's default
// aggregation done as ONE DuckDB SQL query with GROUPING SETS over the same
// extract CSV, with the same number of threads.
//
// It computes, for every grouping set the node computes by default (the
// total, every one-way stratifier, the default two-way intersections of
// interfaces.md), the additive statistics behind every measure of
// measures.md: members, member months, numerators and denominators with the
// eligibility conditions as FILTER clauses, sums of squares and the cost
// maximum. Derived stratifiers follow common/catalog.c (race_ethnicity,
// age_std, heba_band, adi_quintile) and the default age bands.
//
// usage: node duckdb_grouping_sets.mjs --input FILE.csv [--threads N]
//                                      [--dump RESULT.json]
// Prints one JSON object on standard output: the DuckDB version, threads,
// the query's wall time in seconds, the number of result rows, and check
// figures (members, ED visits, cost) for the total and each race stratum.
import { performance } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import duckdb, { DuckDBInstance } from '@duckdb/node-api';

function usage(code) {
  const msg = 'usage: node duckdb_grouping_sets.mjs --input FILE.csv [--threads N] [--dump RESULT.json]\n';
  (code === 0 ? process.stdout : process.stderr).write(msg);
  process.exit(code);
}

const args = { threads: 2, input: null, dump: null };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = process.argv[i + 1];
  if (a === '--help' || a === '-h') usage(0);
  else if (a === '--input' && v) { args.input = v; i++; }
  else if (a === '--dump' && v) { args.dump = v; i++; }
  else if (a === '--threads' && v && /^[1-9][0-9]*$/.test(v)) { args.threads = Number(v); i++; }
  else { process.stderr.write(`duckdb_grouping_sets: bad argument "${a}"\n`); usage(2); }
}
if (!args.input) usage(2);

// The stratifiers, in the order of the GROUPING() bit mask (first = most
// significant bit), and the grouping sets of the node's default round.
const DIMS = ['race', 'ethnicity', 'race_ethnicity', 'sex', 'age_band', 'language',
  'non_english', 'payer', 'adi_quintile', 'disability', 'cmc', 'county', 'age_std',
  'heba_band'];
const SETS = [
  [],
  ...DIMS.map((d) => [d]),
  ['race', 'disability'], ['race', 'cmc'], ['race', 'payer'], ['race', 'age_band'],
  ['payer', 'language'], ['ethnicity', 'language'],
];

const sqlString = (s) => `'${s.replaceAll("'", "''")}'`;

const COLUMNS = {
  member_id: 'VARCHAR', period: 'VARCHAR', age: 'INTEGER', sex: 'VARCHAR', race: 'VARCHAR',
  ethnicity: 'VARCHAR', language: 'VARCHAR', payer: 'VARCHAR', adi_decile: 'INTEGER',
  disability: 'VARCHAR', cmc: 'VARCHAR', county: 'VARCHAR', member_months: 'DOUBLE',
  ed_visits: 'INTEGER', ip_admits: 'INTEGER', ip_readmits_30d: 'INTEGER',
  primary_care_visits: 'INTEGER', telehealth_visits: 'INTEGER', scheduled_appts: 'INTEGER',
  no_shows: 'INTEGER', wellness_visit: 'INTEGER', diabetes: 'INTEGER',
  hba1c_poor_control: 'INTEGER', hypertension: 'INTEGER', bp_controlled: 'INTEGER',
  hrsn_screened: 'INTEGER', hrsn_food: 'INTEGER', hrsn_housing: 'INTEGER',
  hrsn_transport: 'INTEGER', hrsn_utilities: 'INTEGER', hrsn_safety: 'INTEGER',
  total_cost: 'DOUBLE', experience_score: 'DOUBLE',
};
const columnsSql = '{' + Object.entries(COLUMNS)
  .map(([k, t]) => `${sqlString(k)}: ${sqlString(t)}`).join(', ') + '}';

// Derived stratifiers, as common/catalog.c defines them. Empty fields
// (NULL) are the UNKNOWN stratum, as the node's reader treats them.
const SQL = `
WITH m AS (
  SELECT
    coalesce(race, 'UNKNOWN') AS race,
    coalesce(ethnicity, 'UNKNOWN') AS ethnicity,
    CASE
      WHEN ethnicity = 'HISPANIC' THEN 'HISPANIC'
      WHEN ethnicity = 'NOT_HISPANIC' THEN
        CASE WHEN race IS NULL OR race = 'UNKNOWN' THEN 'UNKNOWN'
             WHEN race = 'DECLINED' THEN 'DECLINED'
             ELSE 'NH_' || race END
      WHEN ethnicity = 'DECLINED' OR race = 'DECLINED' THEN 'DECLINED'
      ELSE 'UNKNOWN'
    END AS race_ethnicity,
    coalesce(sex, 'U') AS sex,
    CASE
      WHEN age IS NULL THEN 'UNKNOWN'
      WHEN age <= 4 THEN '0-4' WHEN age <= 11 THEN '5-11' WHEN age <= 17 THEN '12-17'
      WHEN age <= 25 THEN '18-25' WHEN age <= 44 THEN '26-44' WHEN age <= 64 THEN '45-64'
      WHEN age <= 74 THEN '65-74' ELSE '75+'
    END AS age_band,
    coalesce(language, 'und') AS language,
    CASE
      WHEN language = 'eng' THEN 'no'
      WHEN language IS NULL OR language = 'und' THEN 'unknown'
      ELSE 'yes'
    END AS non_english,
    coalesce(payer, 'UNKNOWN') AS payer,
    CASE
      WHEN adi_decile IS NULL THEN 'UNKNOWN'
      ELSE CAST((adi_decile - 1) // 2 + 1 AS VARCHAR)
    END AS adi_quintile,
    coalesce(disability, 'U') AS disability,
    coalesce(cmc, 'U') AS cmc,
    coalesce(county, 'UNKNOWN') AS county,
    CASE
      WHEN age IS NULL THEN 'UNKNOWN'
      WHEN age = 0 THEN '0' WHEN age <= 4 THEN '1-4' WHEN age <= 14 THEN '5-14'
      WHEN age <= 24 THEN '15-24' WHEN age <= 34 THEN '25-34' WHEN age <= 44 THEN '35-44'
      WHEN age <= 54 THEN '45-54' WHEN age <= 64 THEN '55-64' WHEN age <= 74 THEN '65-74'
      WHEN age <= 84 THEN '75-84' ELSE '85+'
    END AS age_std,
    CASE
      WHEN payer = 'DUAL' OR adi_decile = 10 THEN 'top'
      WHEN adi_decile IS NULL THEN 'unknown'
      WHEN adi_decile <= 5 THEN 'bottom'
      ELSE 'middle'
    END AS heba_band,
    member_months, ed_visits, ip_admits, ip_readmits_30d, primary_care_visits,
    telehealth_visits, scheduled_appts, no_shows, wellness_visit, diabetes,
    hba1c_poor_control, hypertension, bp_controlled, hrsn_screened, hrsn_food,
    hrsn_housing, hrsn_transport, hrsn_utilities, hrsn_safety, total_cost,
    experience_score
  FROM read_csv(${sqlString(args.input)}, header = true, delim = ',', quote = '"',
                auto_detect = false, columns = ${columnsSql})
  -- members with no enrolled month belong to no population (node/tally.h)
  WHERE member_months > 0
)
SELECT
  GROUPING(${DIMS.join(', ')}) AS gid,
  ${DIMS.join(', ')},
  -- all members (population, ed_rate, ip_rate, wellness, hrsn_screening, cost_pmpm)
  count(*) AS members,
  sum(member_months) AS member_months,
  sum(ed_visits) AS ed_visits,
  sum(ip_admits) AS ip_admits,
  count(*) FILTER (WHERE wellness_visit = 1) AS wellness,
  count(*) FILTER (WHERE hrsn_screened = 1) AS screened,
  sum(total_cost) AS cost,
  sum(total_cost * total_cost) AS cost_sq,
  max(total_cost) AS cost_max,
  -- readmit_30d: members with an admission
  count(*) FILTER (WHERE ip_admits > 0) AS members_ip,
  sum(member_months) FILTER (WHERE ip_admits > 0) AS months_ip,
  sum(ip_readmits_30d) AS readmits,
  -- no_show: members with scheduled appointments
  count(*) FILTER (WHERE scheduled_appts > 0) AS members_sched,
  sum(member_months) FILTER (WHERE scheduled_appts > 0) AS months_sched,
  sum(scheduled_appts) AS sched,
  sum(no_shows) AS no_shows,
  -- telehealth_share: members with any visit
  count(*) FILTER (WHERE primary_care_visits + telehealth_visits > 0) AS members_visit,
  sum(member_months) FILTER (WHERE primary_care_visits + telehealth_visits > 0) AS months_visit,
  sum(primary_care_visits + telehealth_visits) AS visits,
  sum(telehealth_visits) AS tele,
  -- diabetes_poor_control
  count(*) FILTER (WHERE diabetes = 1) AS members_diab,
  sum(member_months) FILTER (WHERE diabetes = 1) AS months_diab,
  count(*) FILTER (WHERE diabetes = 1 AND hba1c_poor_control = 1) AS poor_control,
  -- bp_control
  count(*) FILTER (WHERE hypertension = 1) AS members_htn,
  sum(member_months) FILTER (WHERE hypertension = 1) AS months_htn,
  count(*) FILTER (WHERE hypertension = 1 AND bp_controlled = 1) AS bp_controlled,
  -- hrsn_* among the screened
  sum(member_months) FILTER (WHERE hrsn_screened = 1) AS months_screened,
  count(*) FILTER (WHERE hrsn_screened = 1 AND hrsn_food = 1) AS food,
  count(*) FILTER (WHERE hrsn_screened = 1 AND hrsn_housing = 1) AS housing,
  count(*) FILTER (WHERE hrsn_screened = 1 AND hrsn_transport = 1) AS transport,
  count(*) FILTER (WHERE hrsn_screened = 1 AND hrsn_utilities = 1) AS utilities,
  count(*) FILTER (WHERE hrsn_screened = 1 AND hrsn_safety = 1) AS safety,
  count(*) FILTER (WHERE hrsn_screened = 1 AND (hrsn_food = 1 OR hrsn_housing = 1
                   OR hrsn_transport = 1 OR hrsn_utilities = 1 OR hrsn_safety = 1)) AS hrsn_any,
  -- experience: respondents
  count(experience_score) AS members_exp,
  sum(member_months) FILTER (WHERE experience_score IS NOT NULL) AS months_exp,
  sum(experience_score) AS exp_sum,
  sum(experience_score * experience_score) AS exp_sq
FROM m
GROUP BY GROUPING SETS (${SETS.map((s) => '(' + s.join(', ') + ')').join(', ')})
`;

// GROUPING() sets bit (n-1-i) when DIMS[i] is rolled up (not grouped).
function gidOf(set) {
  let gid = 0;
  DIMS.forEach((d, i) => { if (!set.includes(d)) gid |= 1 << (DIMS.length - 1 - i); });
  return gid;
}
const gidToName = new Map(SETS.map((s) => [gidOf(s), s.length ? s.join('*') : 'total']));

const num = (v) => (v === null || v === undefined ? null : Number(v));

const t0 = performance.now();
const instance = await DuckDBInstance.create(':memory:', { threads: String(args.threads) });
const connection = await instance.connect();
const t1 = performance.now();
const reader = await connection.runAndReadAll(SQL);
const rows = reader.getRowObjects();
const t2 = performance.now();

const checks = { total: null, race: {} };
const perSet = {};
for (const r of rows) {
  const name = gidToName.get(Number(r.gid)) ?? `gid${r.gid}`;
  perSet[name] = (perSet[name] ?? 0) + 1;
  const fig = { members: num(r.members), ed_visits: num(r.ed_visits), cost: num(r.cost) };
  if (name === 'total') checks.total = fig;
  else if (name === 'race') checks.race[r.race] = fig;
}

if (args.dump) {
  const plain = rows.map((r) => {
    const o = { stratifier: gidToName.get(Number(r.gid)) ?? `gid${r.gid}` };
    for (const [k, v] of Object.entries(r)) if (k !== 'gid') o[k] = typeof v === 'bigint' ? Number(v) : v;
    return o;
  });
  writeFileSync(args.dump, JSON.stringify(plain, null, 1));
}

process.stdout.write(JSON.stringify({
  peer: 'duckdb',
  version: duckdb.version(),
  threads: args.threads,
  input: args.input,
  seconds: (t2 - t1) / 1000,
  setup_seconds: (t1 - t0) / 1000,
  grouping_sets: SETS.length,
  result_rows: rows.length,
  rows_per_set: perSet,
  checks,
}) + '\n');
connection.closeSync?.();
