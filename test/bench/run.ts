import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageRoot } from '../../operator/paths.js';
import { operatorSection } from './operator.js';
import { installSection } from './install.js';
import { podsSection } from './pods.js';

// `npm run bench`: figures for the issue's performance targets, printed next to the targets.
// Not a CI gate (timings on a shared 2-core machine are noisy); a section prints its numbers and a verdict.
// Sections are independent: later benchmarks (install, operator reconcile) are added to SECTIONS; a section that
// needs a cluster is skipped, with the reason printed, when no kubeconfig is configured.

interface Section {
  name: string;
  /** Needs a reachable cluster (ISTIO_OPERATOR_TEST_KUBECONFIG or KUBECONFIG). */
  needsCluster?: boolean;
  run(): Promise<void>;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const ms = (n: number) => `${n.toFixed(2)} ms`;
const verdict = (value: number, target: number) => (value <= target ? 'OK' : 'OVER TARGET');

function stats(samples: number[]): { median: number; p90: number; min: number; max: number } {
  const s = [...samples].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), p90: quantile(s, 0.9), min: s[0]!, max: s[s.length - 1]! };
}

function line(label: string, value: string, target?: string, ok?: string): void {
  console.log(`  ${label.padEnd(44)} ${value.padStart(12)}${target ? `   target ${target.padEnd(10)} ${ok ?? ''}` : ''}`);
}

const IN_PROCESS_TARGET_MS = 5;
const WHOLE_PROCESS_TARGET_MS = 300;
const RUNS = 100;
// Enough for V8 to finish compiling the hot paths: with 20, background JIT threads were still busy and the CPU
// figure (which counts them) ran ~1 ms above wall time. The first, cold render is reported on its own line.
const WARMUP = 100;

const inProcess: Section = {
  name: 'render, in process (resolve + render + serialize)',
  async run() {
    const { resolveIstioOperator } = await import('../../operator/api/resolve.js');
    const { render } = await import('../../operator/render/index.js');
    // What the CLI writes: the chunks of yamlChunks (serialize.ts says why not one string).
    const { yamlChunks } = await import('../../operator/render/serialize.js');
    const devNull = fs.openSync('/dev/null', 'w');
    for (const profile of ['default', 'demo']) {
      // Each phase timed apart so an over-target figure says where the time goes.
      const phases = { resolve: [] as number[], render: [] as number[], serialize: [] as number[] };
      // Writing is not part of the target, but a bigger render costs there too (encoding it): shown on its own.
      const written: number[] = [];
      const cpu: number[] = [];
      const once = (record: boolean) => {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const r = resolveIstioOperator({ sets: [`profile=${profile}`] });
        const t1 = performance.now();
        const objects = render(r.install).objects;
        const t2 = performance.now();
        const chunks = yamlChunks(objects);
        const t3 = performance.now();
        for (const c of chunks) fs.writeSync(devNull, c);
        const t4 = performance.now();
        if (record) {
          const c = process.cpuUsage(c0);
          cpu.push((c.user + c.system) / 1000);
          phases.resolve.push(t1 - t0);
          phases.render.push(t2 - t1);
          phases.serialize.push(t3 - t2);
          written.push(t4 - t0);
        }
        return { total: t3 - t0, bytes: chunks.reduce((n, c) => n + c.length, 0), objects: objects.length };
      };
      let last = { total: 0, bytes: 0, objects: 0 };
      for (let i = 0; i < WARMUP; i++) last = once(false);
      const samples: number[] = [];
      for (let i = 0; i < RUNS; i++) samples.push(once(true).total);
      const s = stats(samples);
      console.log(
        `  profile ${profile}: ${RUNS} runs after ${WARMUP} warm-up; ${last.objects} objects, ${(last.bytes / 1024).toFixed(0)} KiB of YAML`,
      );
      line('median', ms(s.median), `<= ${IN_PROCESS_TARGET_MS} ms`, verdict(s.median, IN_PROCESS_TARGET_MS));
      line('p90', ms(s.p90));
      line('min / max', `${s.min.toFixed(2)} / ${s.max.toFixed(2)} ms`);
      // CPU time is what the render costs; wall time adds whatever else the shared machine runs meanwhile.
      line(
        'median CPU time (user + system)',
        ms(stats(cpu).median),
        `<= ${IN_PROCESS_TARGET_MS} ms`,
        verdict(stats(cpu).median, IN_PROCESS_TARGET_MS),
      );
      line(
        'median resolve / render / serialize',
        Object.values(phases)
          .map((p) => stats(p).median.toFixed(2))
          .join(' / ') + ' ms',
      );
      line('median with writing it to /dev/null', ms(stats(written).median));
      // The figures above are warm (JIT-compiled, caches filled); a CLI run or the operator's first reconcile
      // pays the cold one.
      const cold = Array.from({ length: COLD_RUNS }, () => coldRender(profile)).filter((c): c is ColdRender => !!c);
      if (cold.length) {
        line(`first render in a fresh process (median of ${cold.length})`, ms(stats(cold.map((c) => c.firstMs)).median));
        line(
          '  its CPU time; loading the modules before it',
          `${stats(cold.map((c) => c.firstCpuMs)).median.toFixed(1)} / ${stats(cold.map((c) => c.importMs)).median.toFixed(1)} ms`,
        );
      }
    }
    fs.closeSync(devNull);
    line('peak RSS of this process', `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  },
};

const COLD_RUNS = 5;
interface ColdRender {
  importMs: number;
  firstMs: number;
  firstCpuMs: number;
}

/** One resolve + render + serialize in a new Node process, as the first render of the CLI or operator is. */
function coldRender(profile: string): ColdRender | undefined {
  const url = (rel: string) => JSON.stringify(new URL(rel, import.meta.url).href);
  const script = [
    'const t0 = performance.now();',
    `const { resolveIstioOperator } = await import(${url('../../operator/api/resolve.js')});`,
    `const { render } = await import(${url('../../operator/render/index.js')});`,
    `const { yamlChunks } = await import(${url('../../operator/render/serialize.js')});`,
    'const t1 = performance.now();',
    'const c0 = process.cpuUsage();',
    `yamlChunks(render(resolveIstioOperator({ sets: [${JSON.stringify(`profile=${profile}`)}] }).install).objects);`,
    'const t2 = performance.now();',
    'const c = process.cpuUsage(c0);',
    'console.log(JSON.stringify({ importMs: t1 - t0, firstMs: t2 - t1, firstCpuMs: (c.user + c.system) / 1000 }));',
  ].join('\n');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: packageRoot, encoding: 'utf8' });
  try {
    return r.status === 0 ? (JSON.parse(r.stdout.trim().split('\n').pop()!) as ColdRender) : undefined;
  } catch {
    return undefined;
  }
}

/** Peak RSS of a child from GNU time when it is installed; the wall time is measured here either way. */
function timeChild(args: string[]): {
  wallMs: number;
  status: number | null;
  rssKiB?: number;
  cpuMs?: number;
  stderr: string;
  stdoutBytes: number;
} {
  const gnuTime = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  const cmd = gnuTime ?? process.execPath;
  const argv = gnuTime ? ['-f', '__RSS_KIB__=%M __CPU_S__=%U %S', process.execPath, ...args] : args;
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, { cwd: packageRoot, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const wallMs = performance.now() - t0;
  const m = /__RSS_KIB__=(\d+) __CPU_S__=([\d.]+) ([\d.]+)/.exec(r.stderr ?? '');
  return {
    wallMs,
    status: r.status,
    ...(m ? { rssKiB: Number(m[1]), cpuMs: (Number(m[2]) + Number(m[3])) * 1000 } : {}),
    stderr: (r.stderr ?? '').replace(/__RSS_KIB__=.*\n?/, ''),
    stdoutBytes: (r.stdout ?? '').length,
  };
}

const wholeProcess: Section = {
  name: 'render, whole process (`node bin/istio-operator.js render --set profile=demo`)',
  async run() {
    const args = [path.join('bin', 'istio-operator.js'), 'render', '--set', 'profile=demo'];
    const warm = timeChild(args); // fills the OS page cache; not counted
    if (warm.status !== 0) {
      console.log(`  render exited ${warm.status}: ${warm.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
      return;
    }
    const runs = Array.from({ length: 7 }, () => timeChild(args));
    const failed = runs.filter((r) => r.status !== 0);
    if (failed.length) console.log(`  ${failed.length} run(s) failed`);
    const s = stats(runs.map((r) => r.wallMs));
    console.log(`  ${runs.length} runs, ${(warm.stdoutBytes / 1024).toFixed(0)} KiB on stdout`);
    line('median wall time', ms(s.median), `<= ${WHOLE_PROCESS_TARGET_MS} ms`, verdict(s.median, WHOLE_PROCESS_TARGET_MS));
    line('min / max', `${s.min.toFixed(0)} / ${s.max.toFixed(0)} ms`);
    const cpu = runs.map((r) => r.cpuMs).filter((v): v is number => v !== undefined);
    if (cpu.length)
      line(
        'median CPU time (user + system)',
        ms(stats(cpu).median),
        `<= ${WHOLE_PROCESS_TARGET_MS} ms`,
        verdict(stats(cpu).median, WHOLE_PROCESS_TARGET_MS),
      );
    const rss = runs.map((r) => r.rssKiB).filter((v): v is number => v !== undefined);
    if (rss.length) line('peak RSS (max over runs)', `${(Math.max(...rss) / 1024).toFixed(0)} MiB`);
    else line('peak RSS', 'n/a (no /usr/bin/time)');
    // For scale: how much of the wall time is Node itself starting, and the CLI without rendering.
    const bare = stats(Array.from({ length: 5 }, () => timeChild(['-e', '0']).wallMs));
    line('for scale: `node -e 0` median', ms(bare.median));
    const help = stats(Array.from({ length: 5 }, () => timeChild([path.join('bin', 'istio-operator.js'), '--help']).wallMs));
    line('for scale: `istio-operator --help` median', ms(help.median));
  },
};

export const SECTIONS: Section[] = [inProcess, wholeProcess, installSection, operatorSection, podsSection];

function clusterConfigured(): string | undefined {
  return process.env.ISTIO_OPERATOR_TEST_KUBECONFIG || process.env.KUBECONFIG || undefined;
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const os = await import('node:os');
  // Shared machines: the load average says how much the figures below are worth.
  console.log(
    `istio-operator bench — node ${process.version}, ${os.cpus().length} CPU(s), load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}\n`,
  );
  let failures = 0;
  for (const s of SECTIONS) {
    if (only.length && !only.some((o) => s.name.includes(o))) continue;
    console.log(`## ${s.name}`);
    if (s.needsCluster && !clusterConfigured()) {
      console.log('  skipped: needs a cluster; set ISTIO_OPERATOR_TEST_KUBECONFIG or KUBECONFIG\n');
      continue;
    }
    try {
      await s.run();
    } catch (e) {
      failures++;
      console.log(`  failed: ${(e as Error).message}`);
    }
    console.log('');
  }
  if (failures) process.exitCode = 1;
}

await main();
