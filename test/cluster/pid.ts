// Process liveness for the harness's pid files. Its own tiny module because the reaper, a detached
// watchdog, must load next to nothing.

/** Whether a process with this pid exists (EPERM: it exists but is not ours to signal). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
