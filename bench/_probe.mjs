import { DuckDBInstance } from '@duckdb/node-api';
const f = process.argv[2];
const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
const c = await inst.connect();
for (const q of [
  `select count(*), sum(total_cost), sum(ed_visits) from read_csv('${f}', header=true)`,
  `select race, count(*), sum(total_cost) from read_csv('${f}', header=true) group by grouping sets ((), (race), (county), (language), (race, payer))`,
]) {
  const t = performance.now();
  await c.runAndReadAll(q);
  console.log(((performance.now() - t) / 1000).toFixed(3), q.slice(0, 60));
}
