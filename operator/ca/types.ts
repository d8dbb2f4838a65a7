// The CA's vocabulary, shared by every module in operator/ca: the secret keys and annotations, the target a
// call works on, and the outcome, status, result, error and Event reasons a call hands back.
import { InputError, type FieldIssue, type Warning } from '../api/errors.js';
import type { CaMode } from '../api/types.js';
import type { ResolvedInstall } from '../api/install.js';
import { ownershipLabels } from '../render/labels.js';
import type { KeyPairPem } from './generate.js';
import type { RotationPhase } from './rotation.js';
import { CACERTS_SECRET, caSettingsFrom, type CaSettings } from './settings.js';
import type { CertInfo } from './validate.js';

export const ROOT_KEYS = {
  cert: 'root-cert.pem',
  key: 'root-key.pem',
  previousCert: 'previous-root-cert.pem',
  previousKey: 'previous-root-key.pem',
} as const;

export const ANNOTATION_PHASE = 'ca.operator.istio.io/rotation-phase';
export const ANNOTATION_SINCE = 'ca.operator.istio.io/rotation-since';
/** The settings and cacerts name last used, so `ca status`/`ca rotate` work without the IstioOperator file. */
export const ANNOTATION_SETTINGS = 'ca.operator.istio.io/settings';
/** istiod's own self-signed CA (mode `istiod`), read only for `ca status`. */
export const ISTIOD_SELF_SIGNED_SECRET = 'istio-ca-secret';

/** Workload certificates live 24h and proxies renew them at half-life, so a day lets every workload pick up a new trust bundle. */
export const DEFAULT_OVERLAP_MS = 86_400_000;

/** What a call to the cluster needs to know about the CA, taken from the resolved IstioOperator. */
export interface CaTarget {
  mode: CaMode;
  /** The Istio namespace: where istiod runs and reads its CA secret. */
  namespace: string;
  /** The secret istiod mounts as cacerts (the user's in provided mode). */
  secretName: string;
  settings: CaSettings;
  /** Ownership labels for the secrets we create, so `uninstall --purge` finds them. */
  labels: Record<string, string>;
  /** `external` mode: where istiod gets certificates from. */
  address?: string;
}

export function caTargetFrom(install: ResolvedInstall): CaTarget {
  const spec = install.iop.spec;
  const ca = spec.components?.ca;
  const mode: CaMode = ca?.mode ?? 'istiod';
  const version = String(spec.tag ?? spec.values?.global?.tag ?? '');
  const t: CaTarget = {
    mode,
    // Where istiod runs: its secret volume can only name a secret in its own namespace.
    namespace: install.pilotNamespace,
    secretName: ca?.secretName || CACERTS_SECRET,
    // Settings are validated for every mode: a typo in a lifetime should not wait for the day the mode changes.
    settings: caSettingsFrom(ca, 'spec.components.ca'),
    labels: ownershipLabels('pilot', install.owner, version),
  };
  if (ca?.address) t.address = ca.address;
  return t;
}

/** Operator mode: the root secret as read, the previous root present only during a rotation. */
export interface RootState {
  current: KeyPairPem;
  previous?: KeyPairPem;
  phase: RotationPhase;
  since?: Date;
}

export type CaOutcome = 'none' | 'validated' | 'created' | 'renewed' | 'rotation-started' | 'switched' | 'old-root-dropped';

export interface CaStatus {
  mode: CaMode;
  namespace: string;
  /** The secret istiod mounts (operator and provided modes). */
  secretName?: string;
  /** Operator mode: the secret holding the root (never mounted). */
  rootSecretName?: string;
  /** The certificate istiod signs workload certificates with. */
  intermediate?: CertInfo;
  /** The roots workloads trust (root-cert.pem): two during a root rotation. */
  roots: CertInfo[];
  rotation?: { phase: RotationPhase; since?: string };
  /** Operator mode: when the CA next needs a step (renewal or rotation phase); requeue by then. */
  nextCheck?: string;
  /** `external` mode: the signer's address. */
  address?: string;
}

export interface CaResult {
  mode: CaMode;
  outcome: CaOutcome;
  /** One or more sentences for logs, Events and the CLI. */
  message: string;
  warnings: Warning[];
  status: CaStatus;
  /** Secrets written (or, with dryRun, that would be): empty when nothing was due. */
  written: string[];
  /** istiod Deployments restarted so they load the changed cacerts (`namespace/name`). */
  restarted: string[];
  /** Write requests this call made (0 when nothing was due, and always 0 in dry run). */
  writes: number;
}

export interface PrepareCaOptions {
  /** Decide and report, write nothing. */
  dryRun?: boolean;
  /** How long both roots stay trusted in each root rotation phase (default 24h). */
  overlapMs?: number;
  /** `ca rotate`: renew the intermediate now, or start a root rotation now. */
  rotate?: 'intermediate' | 'root';
  /**
   * Restart the istiod Deployments that mount cacerts after it changed (default true). istiod reads its
   * plug-in CA at start; without AUTO_RELOAD_PLUGIN_CERTS it would keep signing with the old intermediate.
   */
  restartIstiod?: boolean;
}

/** A provided (or operator-managed) CA secret that istiod cannot use. Issues name the secret and key. */
export class CaSecretError extends InputError {
  constructor(issues: FieldIssue[]) {
    super(issues);
    this.name = 'CaSecretError';
  }
}

/** Event reason (type Warning) when prepareCa throws CaSecretError: the CA secret cannot be used. */
export const EVENT_CA_INVALID = 'CASecretInvalid';

/** The Event reason (type Normal) for an outcome that changed something; undefined when nothing changed. */
export function eventReason(o: CaOutcome): string | undefined {
  return {
    none: undefined,
    validated: undefined,
    created: 'CACreated',
    renewed: 'CAIntermediateRenewed',
    'rotation-started': 'CARootRotationStarted',
    switched: 'CAIntermediateSwitched',
    'old-root-dropped': 'CAOldRootDropped',
  }[o];
}
