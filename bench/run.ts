// `npm run bench` (`-- --quick` for a short smoke run): runs the scenarios, prints a table and
// writes bench/results.json. Each scenario measures the project and its baseline side by side in
// several rounds and reports medians, so the ratios hold on a noisy machine.
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { type BenchContext, type Measurement, median, type Scenario, type ScenarioResult } from './lib';
import { chainLatencyScenario } from './scenarios/chain';
import { peerBullmqScenario } from './scenarios/bullmq';
import { dispatchBuiltinPostgresScenario, dispatchBuiltinScenario, dispatchRemoteBatchScenario, dispatchRemoteScenario } from './scenarios/dispatch';
import { fanout1000Scenario, fanout5000Scenario } from './scenarios/fanout';
import { enqueueScenario, queryScenario } from './scenarios/query';
import { scaleScenario } from './scenarios/scale';

const SCENARIOS: Scenario[] = [
  dispatchBuiltinScenario,
  dispatchRemoteScenario,
  dispatchRemoteBatchScenario,
  chainLatencyScenario,
  fanout1000Scenario,
  fanout5000Scenario,
  queryScenario,
  enqueueScenario,
  scaleScenario,
  dispatchBuiltinPostgresScenario,
  peerBullmqScenario,
];

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
  const ctx: BenchContext = { quick, databaseUrl: process.env.DATABASE_URL || null, redisUrl: process.env.REDIS_URL || null };
  const rounds = quick ? 1 : 3;
  const results: Record<string, ScenarioResult | { skipped: string }> = {};
  for (const scenario of SCENARIOS) {
    if (only && !only.includes(scenario.name)) continue;
    const why = scenario.skip?.(ctx) ?? null;
    if (why) {
      process.stdout.write(`${scenario.name}: skipped (${why})\n`);
      results[scenario.name] = { skipped: why };
      continue;
    }
    const ms: Measurement[] = [];
    for (let r = 0; r < rounds; r++) {
      const m = await scenario.round(ctx);
      ms.push(m);
      // Each round's own figures, so that a median taken over a noisy round can be read as such.
      if (rounds > 1) process.stdout.write(`  round ${r + 1}: ${round(m.value)} ${m.unit}${m.baseline == null ? '' : ` (baseline ${round(m.baseline)}, ratio ${round(m.value / m.baseline, 3)})`}\n`);
    }
    const first = ms[0] as (typeof ms)[number];
    const value = median(ms.map((m) => m.value));
    const baselines = ms.flatMap((m) => (m.baseline == null ? [] : [m.baseline]));
    const baseline = baselines.length ? median(baselines) : null;
    const extra = first.extra
      ? Object.fromEntries(Object.keys(first.extra).map((k) => {
          const xs = ms.map((m) => m.extra?.[k]);
          return [k, xs.every((x) => typeof x === 'number') ? median(xs as number[]) : String(xs[0])];
        }))
      : undefined;
    const result: ScenarioResult = {
      value: round(value),
      unit: first.unit,
      baseline: baseline == null ? null : round(baseline),
      baselineName: first.baselineName,
      // Each round measures the project and its baseline side by side, so a round's ratio is one
      // paired reading; the ratio is the median of those (not a ratio of medians from different rounds).
      ratio: baseline ? round(median(ms.map((m) => (m.baseline ? m.value / m.baseline : NaN))), 3) : null,
      samples: rounds,
      ...(extra ? { extra } : {}),
    };
    results[scenario.name] = result;
    const extras = extra ? ` ${Object.entries(extra).map(([k, v]) => `${k}=${typeof v === 'number' ? round(v) : v}`).join(' ')}` : '';
    process.stdout.write(`${scenario.name}: ${result.value} ${result.unit} (baseline ${result.baseline}, ratio ${result.ratio})${extras}\n`);
  }
  const machine = { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: round(totalmem() / 1024 ** 3, 1), node: process.version, quick, at: new Date().toISOString() };
  if (!only) writeFileSync(join(__dirname, 'results.json'), `${JSON.stringify({ machine, scenarios: results }, null, 2)}\n`);
  printTable(results);
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function printTable(results: Record<string, ScenarioResult | { skipped: string }>): void {
  const rows = Object.entries(results).map(([name, r]) =>
    'skipped' in r ? [name, 'skipped', '', '', '', r.skipped] : [name, String(r.value), r.unit, String(r.baseline ?? ''), String(r.ratio ?? ''), r.baselineName],
  );
  const head = ['scenario', 'figure', 'unit', 'baseline', 'ratio', 'baseline is'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  process.stdout.write(`\n${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
