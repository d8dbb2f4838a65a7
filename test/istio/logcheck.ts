// What in istiod's log says that it did not accept what we rendered. Pure (a log in, problems out), so that it is
// unit-tested on its own: test/unit/istio/logcheck.test.ts.
//
// Grepping for `error` alone is not enough. istiod reports a mesh config it cannot use at *warn* level and then runs
// on Istio's defaults (pkg/config/mesh/meshwatcher/collection.go: "invalid mesh config, using last known state"),
// and it reports an env var it cannot parse at warn level too, then uses the default (pkg/env/var.go). Such an
// istiod becomes ready and looks healthy while ignoring part of our install. So a problem is:
//   1. any line at level `error` or `fatal`, except the few transient ones istiod logs in any cluster (listed below
//      with the reason; the optimistic-concurrency retries only up to a few retries: a fight never stops);
//   2. a `warn` line whose message is one of istiod's messages about its mesh config, mesh networks, injector
//      config or env (CONFIG_WARNINGS: each one quoted from Istio's source, the same in 1.29.6, 1.30.3 and 1.31.0-rc.0);
//   3. a line of Go's or cobra's own that ends the process (`panic:`, `Error: unknown flag ...`).
// Other warnings (readiness chatter such as "discovery is not ready") are not problems; tests print them.

/** istiod's log format: `<RFC3339 time>\t<level>\t[<scope>\t]<message>`. */
export interface LogLine {
  level: string;
  /** The scope (`controllers`, `injection`, ...) or '' for the default scope. */
  scope: string;
  message: string;
  raw: string;
}

const LEVELS = new Set(['debug', 'info', 'warn', 'error', 'fatal']);

/** Parses one line of istiod's log; undefined for lines that are not log entries (multi-line messages, our header). */
export function parseLine(raw: string): LogLine | undefined {
  const f = raw.split('\t');
  if (f.length < 3 || !/^\d{4}-\d\d-\d\dT/.test(f[0]!) || !LEVELS.has(f[1]!)) return undefined;
  // A scoped line has a scope field without spaces; a default-scope message may itself contain tabs.
  const scoped = f.length >= 4 && /^[A-Za-z][A-Za-z0-9_.-]*$/.test(f[2]!);
  return { level: f[1]!, scope: scoped ? f[2]! : '', message: f.slice(scoped ? 3 : 2).join('\t'), raw };
}

export type ProblemKind = 'mesh config' | 'mesh networks' | 'injector config' | 'env' | 'error' | 'crash';

export interface LogProblem {
  kind: ProblemKind;
  line: string;
}

/** istiod's warn-level messages about the configuration we render (prefixes of the message, after the scope). */
export const CONFIG_WARNINGS: Array<{ kind: ProblemKind; pattern: RegExp; source: string }> = [
  {
    kind: 'mesh config',
    pattern: /^invalid mesh config, (using last known state|ignoring)/,
    source: 'pkg/config/mesh/meshwatcher/collection.go: the mesh config is dropped',
  },
  { kind: 'mesh config', pattern: /^warnings occurred during mesh validation/, source: 'pkg/config/mesh/mesh.go ApplyMeshConfig' },
  { kind: 'mesh config', pattern: /^Using default mesh - missing file/, source: 'pilot/pkg/bootstrap/mesh.go: no mesh config mounted' },
  { kind: 'mesh networks', pattern: /^invalid mesh networks, using last known state/, source: 'pkg/config/mesh/meshwatcher/collection.go' },
  { kind: 'mesh networks', pattern: /^Using default mesh networks - missing file/, source: 'pilot/pkg/bootstrap/mesh.go' },
  { kind: 'injector config', pattern: /^Failed to parse injectFile/, source: 'pkg/kube/inject/webhook.go loadConfig' },
  { kind: 'injector config', pattern: /^failed to read injection config from ConfigMap/, source: 'pkg/kube/inject/watcher.go' },
  { kind: 'env', pattern: /^Invalid environment variable value/, source: 'pkg/env/var.go: the value is replaced by the default' },
];

/**
 * Error lines istiod logs in any cluster while it starts, none about what we rendered. Each is listed with why; the
 * tests that depend on what it retries (failurePolicy switched to Fail) prove it recovered.
 */
export const TRANSIENT_ERRORS: Array<{ pattern: RegExp; why: string; maxRetries?: number }> = [
  {
    pattern: /^error handling \S+, retrying \(retry count: (\d+)\): webhook is not ready, retry\tcontroller=validation$/,
    why: 'its validation controller checks its own webhook through the API server before its endpoint is Ready (in a cluster: before the pod is Ready), and retries',
  },
  {
    pattern:
      /^failed to updated: Operation cannot be fulfilled on validatingwebhookconfigurations\.admissionregistration\.k8s\.io "[^"]+": the object has been modified; please apply your changes to the latest version and try again\tname=\S+ resource version=\d+$/,
    why: 'the detail of the retry line below, logged just before it',
  },
  {
    pattern:
      /^error handling \S+, retrying \(retry count: (\d+)\): fail to update webhook: Operation cannot be fulfilled on validatingwebhookconfigurations\.admissionregistration\.k8s\.io "[^"]+": the object has been modified; please apply your changes to the latest version and try again\tcontroller=validation$/,
    why: "its validation controller updates the validator (caBundle, then failurePolicy once its webhook answers) from its watch cache; an update made before the cache saw istiod's previous one is refused by resourceVersion and retried on the fresh object (pkg/webhooks/validation/controller updateValidatingWebhookConfiguration). Two istiods fighting over one validator (two default revisions at once) retry without end: beyond a few retries it is a problem",
    maxRetries: 3,
  },
  {
    pattern:
      /^error handling \S+, retrying \(retry count: (\d+)\): error when updating configmap istio-ca-root-cert: Operation cannot be fulfilled on configmaps "istio-ca-root-cert": the object has been modified; please apply your changes to the latest version and try again\tcontroller=namespace controller$/,
    why: 'its namespace controller upserts istio-ca-root-cert for every event of a namespace (the Namespace itself, its istio-ca-root-cert, its istio-ca-crl: pilot/pkg/serviceregistry/kube/controller/namespacecontroller.go reconcileCACertAndCRL), from its cache; when the ConfigMap changed after the cache saw it (an earlier event of the same namespace, or the istiod of another mesh, wrote it) the update is refused by resourceVersion and retried on the fresh object',
    maxRetries: 3,
  },
];

/** Whether an error line is one of TRANSIENT_ERRORS within its retry budget. */
function transient(message: string): boolean {
  return TRANSIENT_ERRORS.some((e) => {
    const m = e.pattern.exec(message);
    return !!m && (e.maxRetries === undefined || Number(m[1]) <= e.maxRetries);
  });
}

/** Every problem in the log (see the header), in order. */
export function configProblems(log: string): LogProblem[] {
  const out: LogProblem[] = [];
  for (const raw of log.split('\n')) {
    if (/^panic: /.test(raw) || /^Error: /.test(raw)) {
      out.push({ kind: 'crash', line: raw });
      continue;
    }
    const l = parseLine(raw);
    if (!l) continue;
    if (l.level === 'error' || l.level === 'fatal') {
      if (l.level === 'error' && transient(l.message)) continue;
      const about = CONFIG_WARNINGS.find((w) => w.pattern.test(l.message));
      out.push({ kind: about?.kind ?? 'error', line: raw });
    } else if (l.level === 'warn') {
      const about = CONFIG_WARNINGS.find((w) => w.pattern.test(l.message));
      if (about) out.push({ kind: about.kind, line: raw });
    }
  }
  return out;
}

/** Lines at `level` (for printing the warnings that are not problems). */
export function linesAt(log: string, level: 'error' | 'warn'): string[] {
  return log.split('\n').filter((raw) => parseLine(raw)?.level === level);
}

/** Problem lines, shortened for an assertion message (a template error quotes the whole template). */
export function showProblems(problems: LogProblem[], max = 400): string[] {
  return problems.map((p) => `[${p.kind}] ${p.line.length > max ? `${p.line.slice(0, max)}...` : p.line}`);
}
