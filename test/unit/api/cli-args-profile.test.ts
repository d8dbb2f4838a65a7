import test from 'ava';
import { parseArgs, parseDuration, FLAGS } from '../../../operator/cli/args.js';
import { lineDiff } from '../../../operator/cli/profile.js';
import { InputError } from '../../../operator/api/errors.js';

const specs = [
  FLAGS.filename,
  FLAGS.set,
  FLAGS.revision,
  FLAGS.dryRun,
  FLAGS.wait,
  FLAGS.timeout,
  FLAGS.yes,
  FLAGS.force,
  FLAGS.kubeconfig,
  FLAGS.context,
];

test('args: repeated lists, short and long forms, booleans, durations, positionals', (t) => {
  const a = parseArgs(
    [
      '-f',
      'a.yaml',
      '--filename=b.yaml',
      '-fc.yaml',
      '--set',
      'hub=x',
      '-s',
      'tag=1',
      '-r',
      'canary',
      '--dry-run',
      '--wait=false',
      '--timeout',
      '90s',
      '-y',
      'pos',
      '--',
      '--not-a-flag',
    ],
    specs,
  );
  t.deepEqual(a.flags.filename, ['a.yaml', 'b.yaml', 'c.yaml']);
  t.deepEqual(a.flags.set, ['hub=x', 'tag=1']);
  t.is(a.flags.revision, 'canary');
  t.true(a.flags['dry-run']);
  t.false(a.flags.wait);
  t.is(a.flags.timeout, 90_000);
  t.true(a.flags.yes);
  t.false(a.flags.force);
  t.deepEqual(a.positional, ['pos', '--not-a-flag']);
  const d = parseArgs([], specs);
  t.true(d.flags.wait);
  t.is(d.flags.timeout, 300_000);
  t.true(parseArgs(['--help'], specs).help);
});

test('args: unknown flag lists the valid ones; missing values and bad booleans are errors', (t) => {
  const e = t.throws(() => parseArgs(['--fliename', 'x'], specs, 'render'), { instanceOf: InputError });
  t.is(e!.issues[0].path, '--fliename');
  t.regex(e!.issues[0].hint!, /-f, --filename FILE/);
  t.throws(() => parseArgs(['--revision'], specs), { message: /needs a value/ });
  t.throws(() => parseArgs(['--wait=maybe'], specs), { message: /not a boolean/ });
  t.throws(() => parseArgs(['-q'], specs), { message: /unknown flag/ });
});

test('durations', (t) => {
  t.is(parseDuration('1h30m'), 5_400_000);
  t.is(parseDuration('500ms'), 500);
  t.is(parseDuration('30'), 30_000);
  t.throws(() => parseDuration('5 minutes', '--timeout'), { message: /--timeout/ });
});

test('profile diff: unified hunks, empty when equal', (t) => {
  t.is(lineDiff('a\nb\n', 'a\nb\n', 'x', 'y'), '');
  const d = lineDiff('1\n2\n3\n4\n5\n6\n7\n8\n9\n', '1\n2\n3\n4\nfive\n6\n7\n8\n9\n', 'x', 'y');
  t.is(d, '--- x\n+++ y\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n');
});
