// Process liveness for the harness's pid files. Its own tiny module because the reaper, a detached
// watchdog, must load next to nothing.
import * as fs from 'node:fs';

/** Whether a process with this pid exists (EPERM: it exists but is not ours to signal). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Guards against pid reuse: a pid is ours only while its executable is still the program we started. */
export function isOurs(pid: number, bin: string): boolean {
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    return cmd === bin;
  } catch {
    return process.platform !== 'linux' && alive(pid);
  }
}

/** Resident memory of a process in KiB (VmRSS), or undefined once it is gone or off Linux. */
export function rssKiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
