import test from 'ava';
import { unifiedDiff } from '../../../operator/apply/textdiff.js';

test('equal texts give no diff', (t) => {
  t.is(unifiedDiff('a\nb\n', 'a\nb\n', 'x', 'y'), '');
});

test('one changed line in the middle gives one hunk with 3 lines of context', (t) => {
  const a = Array.from({ length: 20 }, (_, i) => `line${i}`).join('\n') + '\n';
  const b = a.replace('line10', 'LINE10');
  const d = unifiedDiff(a, b, 'live', 'desired');
  t.is(
    d,
    [
      '--- live',
      '+++ desired',
      '@@ -8,7 +8,7 @@',
      ' line7',
      ' line8',
      ' line9',
      '-line10',
      '+LINE10',
      ' line11',
      ' line12',
      ' line13',
      '',
    ].join('\n'),
  );
});

test('distant changes make separate hunks; additions and deletions are counted', (t) => {
  const a = Array.from({ length: 30 }, (_, i) => `l${i}`);
  const b = [...a];
  b.splice(2, 1);
  b.splice(25, 0, 'new');
  const d = unifiedDiff(a.join('\n'), b.join('\n'), 'a', 'b');
  const hunks = d.split('\n').filter((l) => l.startsWith('@@'));
  t.is(hunks.length, 2);
  t.true(d.includes('-l2\n'));
  t.true(d.includes('+new\n'));
});

test('diff from nothing is all additions', (t) => {
  t.is(unifiedDiff('', 'a\nb\n', '/dev/null', 'new'), '--- /dev/null\n+++ new\n@@ -0,0 +1,2 @@\n+a\n+b\n');
});
