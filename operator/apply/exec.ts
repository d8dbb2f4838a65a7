import { spawn } from 'node:child_process';
import path from 'node:path';

// Exec credential plugins (client.authentication.k8s.io ExecCredential), as client-go runs them: EKS `aws`, GKE
// `gke-gcloud-auth-plugin`, AKS `kubelogin`, and anything printing an ExecCredential. Written here rather than
// taken from @kubernetes/client-node, whose ExecAuth (1.4.0) does not do the job: it sets no KUBERNETES_EXEC_INFO
// (plugins that need `spec.interactive` or the cluster fail or guess), never connects the plugin to the terminal
// (interactive logins such as device-code prompts hang, unseen), swallows the plugin's stderr unless it fails, and
// hands back a client certificate only once: the caller's agent keeps the old one after it expires.

export interface ExecConfig {
  command: string;
  args?: string[];
  env?: Array<{ name: string; value: string }> | null;
  apiVersion?: string;
  installHint?: string;
  provideClusterInfo?: boolean;
  interactiveMode?: 'Never' | 'IfAvailable' | 'Always';
}

export interface ExecResult {
  token?: string;
  cert?: Buffer;
  key?: Buffer;
  /** Epoch ms after which the credential must be fetched again; undefined = until the server refuses it. */
  expiresAt?: number;
}

export interface ExecContext {
  userName: string;
  /** The kubeconfig file that defined the user: a relative command path is relative to its folder, as in kubectl. */
  file: string;
  /** What `provideClusterInfo` passes to the plugin (spec.cluster of KUBERNETES_EXEC_INFO). */
  cluster: Record<string, unknown>;
  /** For tests: whether a terminal is attached (default: stdin is a TTY). */
  isTTY?: boolean;
}

/** Re-run the plugin this long before the credential's expiry, so that no request carries an expired one. */
const EXPIRY_SKEW_MS = 5_000;

export class ExecCredentialSource {
  private cached: ExecResult | undefined;
  private pending: Promise<ExecResult> | undefined;
  /** How many times the plugin ran (tests, and the error after a refused fresh credential). */
  runs = 0;

  constructor(
    private readonly cfg: ExecConfig,
    private readonly ctx: ExecContext,
  ) {
    if (!cfg.command) throw new Error(`user "${ctx.userName}" in ${ctx.file}: exec has no command`);
  }

  /** The cached credential while it is valid, else a fresh one from the plugin (concurrent callers share one run). */
  get(now = Date.now()): Promise<ExecResult> {
    const c = this.cached;
    if (c && (c.expiresAt === undefined || now < c.expiresAt - Math.min(EXPIRY_SKEW_MS, (c.expiresAt - now) / 2)))
      return Promise.resolve(c);
    this.pending ??= this.run().then(
      (r) => {
        this.cached = r;
        this.pending = undefined;
        return r;
      },
      (e) => {
        this.pending = undefined;
        throw e;
      },
    );
    return this.pending;
  }

  /** The server refused the credential (401): the next get() runs the plugin again. */
  invalidate(): void {
    this.cached = undefined;
  }

  private run(): Promise<ExecResult> {
    const cfg = this.cfg;
    const apiVersion = cfg.apiVersion || 'client.authentication.k8s.io/v1';
    const mode = cfg.interactiveMode ?? (apiVersion.endsWith('/v1') ? undefined : 'IfAvailable');
    const who = `exec plugin "${cfg.command}" of user "${this.ctx.userName}" (${this.ctx.file})`;
    if (apiVersion.endsWith('/v1') && !mode) {
      return Promise.reject(new Error(`${who}: interactiveMode must be set for ${apiVersion} (Never, IfAvailable or Always)`));
    }
    const tty = this.ctx.isTTY ?? !!process.stdin.isTTY;
    const interactive = mode !== 'Never' && tty;
    if (mode === 'Always' && !tty) {
      return Promise.reject(
        new Error(
          `${who} needs an interactive terminal (interactiveMode: Always), and standard input is not one; log in from a terminal first, or use a plugin mode that needs no prompt`,
        ),
      );
    }
    const spec: Record<string, unknown> = { interactive };
    if (cfg.provideClusterInfo) spec.cluster = this.ctx.cluster;
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion, kind: 'ExecCredential', spec }) };
    for (const e of cfg.env ?? []) env[e.name] = e.value;
    // kubectl resolves a command with a path separator against the kubeconfig's folder; a bare name via PATH.
    const command =
      cfg.command.includes('/') && !path.isAbsolute(cfg.command) ? path.join(path.dirname(this.ctx.file), cfg.command) : cfg.command;
    this.runs++;
    return new Promise<ExecResult>((resolve, reject) => {
      // The plugin talks to the user on stderr (and reads stdin when interactive), as with kubectl.
      const child = spawn(command, cfg.args ?? [], { env, stdio: [interactive ? 'inherit' : 'ignore', 'pipe', 'pipe'] });
      let out = '';
      let errTail = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => {
        if (interactive) process.stderr.write(d);
        errTail = (errTail + d).slice(-2000);
      });
      child.on('error', (e: NodeJS.ErrnoException) => {
        const hint = cfg.installHint ? `\n${cfg.installHint.trim()}` : '';
        reject(new Error(e.code === 'ENOENT' ? `${who}: command not found${hint}` : `${who}: ${e.message}`));
      });
      child.on('close', (code, sig) => {
        if (code !== 0)
          return reject(
            new Error(
              `${who} failed (${sig ? `killed by ${sig}` : `exit code ${code}`})${errTail.trim() ? `: ${errTail.trim().split('\n').slice(-3).join(' | ')}` : ''}`,
            ),
          );
        try {
          resolve(parseExecCredential(out, apiVersion, who));
        } catch (e) {
          reject(e);
        }
      });
    });
  }
}

/** client.authentication.k8s.io ExecCredential as a plugin prints it: every field as the plugin wrote it. */
interface ExecCredential {
  kind?: unknown;
  apiVersion?: unknown;
  status?: { token?: unknown; clientCertificateData?: unknown; clientKeyData?: unknown; expirationTimestamp?: unknown };
}

export function parseExecCredential(text: string, apiVersion: string, who = 'exec plugin'): ExecResult {
  let obj: ExecCredential | null;
  try {
    obj = JSON.parse(text) as ExecCredential | null;
  } catch {
    throw new Error(`${who} printed no ExecCredential JSON on stdout (got ${JSON.stringify(text.slice(0, 80))})`);
  }
  if (obj?.kind !== 'ExecCredential') throw new Error(`${who} printed kind ${JSON.stringify(obj?.kind)}, expected ExecCredential`);
  if (obj.apiVersion !== apiVersion)
    throw new Error(`${who} printed apiVersion ${JSON.stringify(obj.apiVersion)}, but the kubeconfig asks for ${apiVersion}`);
  const s = obj.status ?? {};
  const r: ExecResult = {};
  if (typeof s.token === 'string' && s.token) r.token = s.token;
  if (s.clientCertificateData || s.clientKeyData) {
    if (!s.clientCertificateData || !s.clientKeyData)
      throw new Error(`${who}: status has only one of clientCertificateData and clientKeyData`);
    r.cert = Buffer.from(String(s.clientCertificateData));
    r.key = Buffer.from(String(s.clientKeyData));
  }
  if (!r.token && !r.cert) throw new Error(`${who}: status has neither a token nor a client certificate`);
  if (s.expirationTimestamp) {
    const t = Date.parse(String(s.expirationTimestamp));
    if (Number.isNaN(t)) throw new Error(`${who}: expirationTimestamp ${JSON.stringify(s.expirationTimestamp)} is not a time`);
    r.expiresAt = t;
  }
  return r;
}
