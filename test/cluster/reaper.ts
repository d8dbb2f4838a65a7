// Runs detached from the process that started a control plane (see startReaper in controlplane.ts).
// If that process dies without calling stop() — a crash, SIGKILL, a killed CI job — this kills the
// components and deletes their data, so a test run never leaves processes or files behind.
// Usage: node reaper.js <watched pid> <data dir> <pids file>
import * as fs from 'node:fs';
import { alive, isOurs } from './pid.js';

const [watchedArg, dataDir, pidsFile] = process.argv.slice(2);
const watched = Number(watchedArg);
if (!watched || !dataDir || !pidsFile) {
  console.error('usage: reaper.js <pid> <dataDir> <pidsFile>');
  process.exit(2);
}

function reap(): void {
  let lines: string[] = [];
  try {
    lines = fs.readFileSync(pidsFile, 'utf8').trim().split('\n');
  } catch {
    /* nothing started yet */
  }
  for (const line of lines) {
    const sp = line.indexOf(' ');
    const pid = Number(line.slice(0, sp));
    const bin = line.slice(sp + 1);
    if (pid && isOurs(pid, bin)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
  }
  // Give the kernel a moment to release etcd's files before deleting them.
  setTimeout(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  }, 300);
}

// Ignore the terminal's Ctrl-C and hangups: only the watched process's end decides.
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});

const timer = setInterval(() => {
  if (!fs.existsSync(dataDir)) {
    clearInterval(timer);
    process.exit(0);
  }
  if (!alive(watched)) {
    clearInterval(timer);
    reap();
  }
}, 500);
