// Errors are values with a field path and a hint until the CLI or the status writer turns them into words.

/** One problem with the input, located by a dotted field path such as `spec.components.pilot.k8s.replicaCount`. */
export interface FieldIssue {
  path: string;
  message: string;
  /** What would be valid, e.g. `one of: default, demo, minimal`. */
  hint?: string;
}

/** A non-fatal note about the input (legacy field translated, value ignored, ...). Collected, never printed here. */
export interface Warning {
  path: string;
  message: string;
}

/** The input cannot be rendered. Carries every issue found, not just the first. */
export class InputError extends Error {
  readonly issues: FieldIssue[];
  constructor(issues: FieldIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'InputError';
    this.issues = issues;
  }
}

export function formatIssue(i: FieldIssue): string {
  return `${i.path ? i.path + ': ' : ''}${i.message}${i.hint ? ` (${i.hint})` : ''}`;
}

export function formatWarning(w: Warning): string {
  return `${w.path ? w.path + ': ' : ''}${w.message}`;
}

export function fail(path: string, message: string, hint?: string): never {
  throw new InputError([{ path, message, ...(hint ? { hint } : {}) }]);
}
