// A small line-based unified diff (LCS), enough for per-object YAML of a few hundred lines.
// Output follows `diff -u`: ---/+++ headers, @@ hunks with 3 lines of context.

type Op = { t: ' ' | '-' | '+'; line: string };

function lcsOps(a: string[], b: string[]): Op[] {
  // Trim the common prefix/suffix first: most object diffs change a few lines in the middle.
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const A = a.slice(pre, a.length - suf);
  const B = b.slice(pre, b.length - suf);
  const n = A.length;
  const m = B.length;
  const dp: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) dp[i]![j] = A[i] === B[j] ? dp[i + 1]![j + 1]! + 1 : Math.max(dp[i + 1]![j]!, dp[i]![j + 1]!);
  const mid: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (A[i] === B[j]) {
      mid.push({ t: ' ', line: A[i]! });
      i++;
      j++;
    } else if (dp[i + 1]![j]! >= dp[i]![j + 1]!) mid.push({ t: '-', line: A[i++]! });
    else mid.push({ t: '+', line: B[j++]! });
  }
  while (i < n) mid.push({ t: '-', line: A[i++]! });
  while (j < m) mid.push({ t: '+', line: B[j++]! });
  return [
    ...a.slice(0, pre).map((line) => ({ t: ' ' as const, line })),
    ...mid,
    ...a.slice(a.length - suf).map((line) => ({ t: ' ' as const, line })),
  ];
}

function splitLines(s: string): string[] {
  if (!s) return [];
  const l = s.split('\n');
  if (l[l.length - 1] === '') l.pop();
  return l;
}

/** Unified diff of two texts; '' when equal. */
export function unifiedDiff(a: string, b: string, nameA: string, nameB: string, context = 3): string {
  if (a === b) return '';
  const A = splitLines(a);
  const B = splitLines(b);
  const ops = lcsOps(A, B);
  const out = [`--- ${nameA}`, `+++ ${nameB}`];
  // Positions of changes; group into hunks whose contexts touch.
  const changed = ops.map((o, k) => (o.t !== ' ' ? k : -1)).filter((k) => k >= 0);
  let k = 0;
  while (k < changed.length) {
    let start = Math.max(0, changed[k]! - context);
    let end = changed[k]!;
    while (k + 1 < changed.length && changed[k + 1]! - end <= 2 * context) end = changed[++k]!;
    end = Math.min(ops.length - 1, end + context);
    k++;
    let la = 0;
    let lb = 0;
    for (let x = 0; x < start; x++) {
      if (ops[x]!.t !== '+') la++;
      if (ops[x]!.t !== '-') lb++;
    }
    const hunk = ops.slice(start, end + 1);
    const ca = hunk.filter((o) => o.t !== '+').length;
    const cb = hunk.filter((o) => o.t !== '-').length;
    out.push(`@@ -${ca ? la + 1 : la},${ca} +${cb ? lb + 1 : lb},${cb} @@`);
    for (const o of hunk) out.push(o.t + o.line);
    start = end + 1;
  }
  return out.join('\n') + '\n';
}
