// The api layer's public surface: everything else imports from here or from the individual files.
export * from './types.js';
export * from './errors.js';
export { parseIstioOperator, loadYamlDocs } from './parse.js';
export { parseSet, applySet, typeValue, type SetFlag } from './setpath.js';
export { parsePath, formatPath, PathSyntaxError, PATH_FORMS, type PathElem } from './path.js';
export { mergeSpec, stripNulls } from './merge.js';
export { listProfiles, loadProfile, BUILTIN_PROFILES, UNSUPPORTED_PROFILES, type ProfileInfo } from './profiles.js';
export { translateLegacy } from './legacy.js';
export { validateSpec } from './validate.js';
export { resolveIstioOperator, resolveParsed, type ResolveInput, type Resolved } from './resolve.js';
export { resolvedInstall, type ResolvedInstall } from './install.js';
export * from './owner.js';
export * from './labels.js';
export * from './names.js';
