// The one path grammar of the IstioOperator API: `--set PATH=VALUE`, validation, and `k8s.overlays[].patches[].path`
// all parse paths here, so a form accepted in one place is accepted in all. It covers every form istioctl accepts
// (its util.PathFromString and values.splitPath):
//   a.b.c          map keys; a literal dot inside a key is written `\.` (annotation names)
//   a[2], a.[2]    the list element at that index; [-1] appends (istioctl's insert index)
//   a.[key:value]  the list element whose field `key` equals `value` (e.g. containers.[name:discovery])
//   a.[:value]     the element of a list of scalars equal to `value` (e.g. args.[:--log_as_json])
// Several selectors may follow one key (`a[0][1]`); a leading or trailing dot is ignored, as istioctl does.

export type PathElem =
  | { kind: 'key'; key: string }
  | { kind: 'index'; index: number }
  | { kind: 'select'; field: string; value: string }
  | { kind: 'value'; value: string };

/** A path that cannot be parsed; the message says where and why. */
export class PathSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PathSyntaxError';
  }
}

/** What a path may look like, for error hints. */
export const PATH_FORMS = 'keys separated by "." (a literal dot as "\\."), list elements as [N], [key:value] or [:value]';

export function parsePath(path: string): PathElem[] {
  if (typeof path !== 'string' || path.trim() === '') throw new PathSyntaxError('the path is empty');
  const s = path.replace(/^\.(?!\.)/, '').replace(/(?<![.\\])\.$/, '');
  const elems: PathElem[] = [];
  let i = 0;
  const n = s.length;
  while (i < n) {
    // One step: an optional key, then any number of [..] selectors, then '.' or the end.
    let key = '';
    let sawKey = false;
    while (i < n && s[i] !== '.' && s[i] !== '[') {
      if (s[i] === ']') throw new PathSyntaxError(`unexpected "]" at position ${i + 1}`);
      if (s[i] === '\\' && i + 1 < n) {
        key += s[i + 1];
        i += 2;
      } else key += s[i++];
      sawKey = true;
    }
    if (sawKey) elems.push({ kind: 'key', key });
    let sawBracket = false;
    while (i < n && s[i] === '[') {
      const close = s.indexOf(']', i);
      if (close < 0) throw new PathSyntaxError(`unclosed "[" at position ${i + 1}`);
      elems.push(bracket(s.slice(i + 1, close)));
      sawBracket = true;
      i = close + 1;
    }
    if (!sawKey && !sawBracket) throw new PathSyntaxError(`empty element at position ${i + 1} (two dots in a row)`);
    if (i < n) {
      if (s[i] !== '.') throw new PathSyntaxError(`expected "." or "[" at position ${i + 1}, found "${s[i]}"`);
      i++;
    }
  }
  return elems;
}

function bracket(inner: string): PathElem {
  if (/^(-1|\d+)$/.test(inner.trim())) return { kind: 'index', index: Number(inner.trim()) };
  const colon = inner.indexOf(':');
  if (colon < 0) throw new PathSyntaxError(`"[${inner}]" is neither a list index [N] nor a selector [key:value] or [:value]`);
  const field = inner.slice(0, colon).trim();
  let value = inner.slice(colon + 1).trim();
  // Quotes around a selector's value are accepted and dropped ([name:"istio-ingressgateway"]).
  if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
  if (value === '') throw new PathSyntaxError(`"[${inner}]" selects nothing: the value after ":" is empty`);
  if (field === '') return { kind: 'value', value };
  if (!/^[A-Za-z0-9_-]+$/.test(field))
    throw new PathSyntaxError(`"[${inner}]": "${field}" is not a field name (letters, digits, "_" and "-")`);
  return { kind: 'select', field, value };
}

/** One element as written in a path: `key` (dots escaped), `[3]`, `[name:x]`, `[:x]`. */
export function formatElem(e: PathElem): string {
  switch (e.kind) {
    case 'key':
      return e.key.replace(/\./g, '\\.');
    case 'index':
      return `[${e.index}]`;
    case 'select':
      return `[${e.field}:${e.value}]`;
    case 'value':
      return `[:${e.value}]`;
  }
}

/** The canonical text of a parsed path: keys joined by ".", selectors glued to their key (`a.b[0].c`). */
export function formatPath(elems: PathElem[]): string {
  let s = '';
  for (const e of elems) s += e.kind === 'key' && s ? `.${formatElem(e)}` : formatElem(e);
  return s;
}

/** Whether list element `el` is the one a selector names (values compare as text, as istioctl compares them). */
export function selects(e: Extract<PathElem, { kind: 'select' | 'value' }>, el: unknown): boolean {
  if (e.kind === 'value') return el !== null && typeof el !== 'object' && String(el) === e.value;
  return (
    !!el &&
    typeof el === 'object' &&
    !Array.isArray(el) &&
    (el as Record<string, unknown>)[e.field] != null &&
    String((el as Record<string, unknown>)[e.field]) === e.value
  );
}
