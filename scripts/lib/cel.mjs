// CEL: rules are parsed and printed back as the API server prints them (cel-go's unparser: double-quoted strings,
// parentheses only where precedence needs them). The API's helper functions are expanded first:
//   oneof(a, b, ...)     → (has(a) ? 1 : 0) + (has(b) ? 1 : 0) + ... <= 1
//   default(x, d)        → has(x) ? x : d
//   x.index(d, f, g...)  → (has(x.f) && has(x.f.g) ...) ? x.f.g : d

const PRECEDENCE = {
  '_?_:_': 8,
  '_||_': 7,
  '_&&_': 6,
  '_==_': 5,
  '_!=_': 5,
  '_<_': 5,
  '_<=_': 5,
  '_>_': 5,
  '_>=_': 5,
  '@in': 5,
  '_+_': 4,
  '_-_': 4,
  '_*_': 3,
  '_/_': 3,
  '_%_': 3,
  '!_': 2,
  '-_': 2,
  '_[_]': 1,
};
const BINARY = {
  '_||_': '||',
  '_&&_': '&&',
  '_==_': '==',
  '_!=_': '!=',
  '_<_': '<',
  '_<=_': '<=',
  '_>_': '>',
  '_>=_': '>=',
  '@in': 'in',
  '_+_': '+',
  '_-_': '-',
  '_*_': '*',
  '_/_': '/',
  '_%_': '%',
};

function parseCel(src, where) {
  const toks = [];
  const re =
    /\s+|(\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)|(0x[0-9a-fA-F]+u?|\d+u?)|([rR]?[bB]?[rR]?)("""[\s\S]*?"""|'''[\s\S]*?'''|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|([A-Za-z_]\w*)|(\|\||&&|==|!=|<=|>=|[-+*/%!<>?:.,()[\]{}])/gy;
  let m;
  while (re.lastIndex < src.length) {
    const at = re.lastIndex;
    m = re.exec(src);
    if (!m || m.index !== at) throw new Error(`${where}: cannot read CEL rule at ${src.slice(at, at + 20)}: ${src}`);
    if (m[1]) toks.push({ k: 'num', v: { t: 'double', v: m[1] } });
    else if (m[2]) toks.push({ k: 'num', v: m[2].endsWith('u') ? { t: 'uint', v: m[2].slice(0, -1) } : { t: 'int', v: m[2] } });
    else if (m[4]) toks.push({ k: 'str', v: unquoteCel(m[4], /r/i.test(m[3] ?? '')), bytes: /b/i.test(m[3] ?? '') });
    else if (m[5]) toks.push({ k: 'id', v: m[5] });
    else if (m[6]) toks.push({ k: 'op', v: m[6] });
  }
  let p = 0;
  const peek = () => toks[p];
  const isOp = (v) => peek()?.k === 'op' && peek().v === v;
  const eat = (v) => {
    if (!isOp(v)) throw new Error(`${where}: expected ${v} in CEL rule: ${src}`);
    p++;
  };
  const call = (fn, args, target) => ({ k: 'call', fn, args, ...(target ? { target } : {}) });
  const expr = () => {
    const c = or();
    if (!isOp('?')) return c;
    p++;
    const a = or();
    eat(':');
    const b = expr();
    return call('_?_:_', [c, a, b]);
  };
  const chain = (next, ops) => () => {
    let l = next();
    for (;;) {
      const t = peek();
      const op = t && ((t.k === 'op' && ops[t.v]) || (t.k === 'id' && ops[t.v]));
      if (!op) return l;
      p++;
      l = call(op, [l, next()]);
    }
  };
  const mul = chain(() => unary(), { '*': '_*_', '/': '_/_', '%': '_%_' });
  const add = chain(mul, { '+': '_+_', '-': '_-_' });
  const rel = chain(add, { '<': '_<_', '<=': '_<=_', '>': '_>_', '>=': '_>=_', '==': '_==_', '!=': '_!=_', in: '@in' });
  const and = chain(rel, { '&&': '_&&_' });
  const or = chain(and, { '||': '_||_' });
  function unary() {
    if (isOp('!')) {
      p++;
      return call('!_', [unary()]);
    }
    if (isOp('-')) {
      p++;
      const e = unary();
      if (e.k === 'lit' && (e.t === 'int' || e.t === 'double') && !e.v.startsWith('-')) return { ...e, v: `-${e.v}` };
      return call('-_', [e]);
    }
    return member();
  }
  function args(close) {
    const out = [];
    while (!isOp(close)) {
      out.push(expr());
      if (isOp(',')) p++;
      else break;
    }
    eat(close);
    return out;
  }
  function member() {
    let e = primary();
    for (;;) {
      if (isOp('.')) {
        p++;
        const name = toks[p++].v;
        if (isOp('(')) {
          p++;
          e = call(name, args(')'), e);
        } else e = { k: 'select', operand: e, field: name };
      } else if (isOp('[')) {
        p++;
        const idx = expr();
        eat(']');
        e = call('_[_]', [e, idx]);
      } else return e;
    }
  }
  function primary() {
    const t = toks[p++];
    if (!t) throw new Error(`${where}: CEL rule ends early: ${src}`);
    if (t.k === 'num') return { k: 'lit', ...t.v };
    if (t.k === 'str') return { k: 'lit', t: t.bytes ? 'bytes' : 'string', v: t.v };
    if (t.k === 'id') {
      if (t.v === 'true' || t.v === 'false') return { k: 'lit', t: 'bool', v: t.v };
      if (t.v === 'null') return { k: 'lit', t: 'null', v: 'null' };
      if (isOp('(')) {
        p++;
        const a = args(')');
        if (t.v === 'has') {
          if (a.length !== 1 || a[0].k !== 'select') throw new Error(`${where}: has() takes a field selection: ${src}`);
          return { ...a[0], test: true };
        }
        return call(t.v, a);
      }
      return { k: 'ident', name: t.v };
    }
    if (t.v === '(') {
      const e = expr();
      eat(')');
      return e;
    }
    if (t.v === '[') return { k: 'list', elems: args(']') };
    if (t.v === '{') {
      const entries = [];
      while (!isOp('}')) {
        const key = expr();
        eat(':');
        entries.push([key, expr()]);
        if (isOp(',')) p++;
        else break;
      }
      eat('}');
      return { k: 'map', entries };
    }
    throw new Error(`${where}: unexpected ${t.v} in CEL rule: ${src}`);
  }
  const e = expr();
  if (p !== toks.length) throw new Error(`${where}: trailing text in CEL rule: ${src}`);
  return e;
}

function unquoteCel(q, raw) {
  const body = q.startsWith('"""') || q.startsWith("'''") ? q.slice(3, -3) : q.slice(1, -1);
  if (raw) return body;
  return body.replace(/\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|x[0-9a-fA-F]{2}|[0-7]{3}|.)/g, (_, e) => {
    const simple = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v', '\\': '\\', '"': '"', "'": "'", '`': '`', '?': '?' };
    if (e in simple) return simple[e];
    if (/^[uUx]/.test(e)) return String.fromCodePoint(parseInt(e.slice(1), 16));
    if (/^[0-7]{3}$/.test(e)) return String.fromCharCode(parseInt(e, 8));
    throw new Error(`unknown escape \\${e}`);
  });
}

/** Go's strconv.Quote, as cel-go prints string literals. */
function goQuote(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + '"';
}

function expandHelpers(e) {
  const has = (sel) => ({ ...sel, test: true });
  const ternary = (c, a, b) => ({ k: 'call', fn: '_?_:_', args: [c, a, b] });
  const lit = (v) => ({ k: 'lit', t: 'int', v: String(v) });
  const walk = (n) => {
    if (n.k === 'call') {
      const args = n.args.map(walk);
      const target = n.target ? walk(n.target) : undefined;
      if (!target && n.fn === 'oneof') {
        const terms = args.map((a) => ternary(has(a), lit(1), lit(0)));
        const sum = terms.slice(1).reduce((l, r) => ({ k: 'call', fn: '_+_', args: [l, r] }), terms[0]);
        return { k: 'call', fn: '_<=_', args: [sum, lit(1)] };
      }
      if (!target && n.fn === 'default') return ternary(has(args[0]), args[0], args[1]);
      if (target && n.fn === 'index') {
        const [dflt, ...fields] = args;
        let sel = target;
        const checks = [];
        for (const f of fields) {
          if (f.k !== 'ident') throw new Error(`index() takes field names, got ${JSON.stringify(f)}`);
          sel = { k: 'select', operand: sel, field: f.name };
          checks.push(has(sel));
        }
        const cond = checks.slice(1).reduce((l, r) => ({ k: 'call', fn: '_&&_', args: [l, r] }), checks[0]);
        return ternary(cond, sel, dflt);
      }
      return { ...n, args, ...(target ? { target } : {}) };
    }
    if (n.k === 'select') return { ...n, operand: walk(n.operand) };
    if (n.k === 'list') return { ...n, elems: n.elems.map(walk) };
    if (n.k === 'map') return { ...n, entries: n.entries.map(([k, v]) => [walk(k), walk(v)]) };
    return n;
  };
  return walk(e);
}

/** cel-go's unparser, with its default wrapping: after `&&` or `||` once a line reaches 80 columns. */
function unparse(e) {
  const isCall = (x) => x.k === 'call';
  const complex = (x) => isCall(x) && x.args.length >= 2 && !x.target;
  const prec = (x) => (isCall(x) && !x.target ? (PRECEDENCE[x.fn] ?? 0) : 0);
  const lower = (op, x) => complex(x) && PRECEDENCE[op] < prec(x);
  const samePrec = (op, x) => isCall(x) && !x.target && PRECEDENCE[x.fn] !== undefined && PRECEDENCE[op] === PRECEDENCE[x.fn];
  const binOrTernary = (x) => complex(x) && (x.fn in BINARY || x.fn === '_?_:_');
  let out = '';
  let lastWrap = 0;
  const nested = (x, paren) => {
    if (paren) out += '(';
    un(x);
    if (paren) out += ')';
  };
  const operator = (fn, text) => {
    if ((fn === '_&&_' || fn === '_||_') && out.length - lastWrap + fn.length >= 80) {
      lastWrap = out.length;
      out += ` ${text}\n`;
    } else out += ` ${text} `;
  };
  const un = (x) => {
    switch (x.k) {
      case 'lit':
        out += x.t === 'string' ? goQuote(x.v) : x.t === 'bytes' ? `b${goQuote(x.v)}` : x.t === 'uint' ? `${x.v}u` : x.v;
        return;
      case 'ident':
        out += x.name;
        return;
      case 'list':
        out += '[';
        x.elems.forEach((y, i) => {
          if (i) out += ', ';
          un(y);
        });
        out += ']';
        return;
      case 'map':
        out += '{';
        x.entries.forEach(([k, v], i) => {
          if (i) out += ', ';
          un(k);
          out += ': ';
          un(v);
        });
        out += '}';
        return;
      case 'select':
        if (x.test) out += 'has(';
        nested(x.operand, !x.test && binOrTernary(x.operand));
        out += `.${x.field}`;
        if (x.test) out += ')';
        return;
      case 'call': {
        const a = x.args;
        if (x.fn === '_?_:_') {
          nested(a[0], samePrec('_?_:_', a[0]) || complex(a[0]));
          operator('_?_:_', '?');
          nested(a[1], samePrec('_?_:_', a[1]) || complex(a[1]));
          out += ' : ';
          nested(a[2], samePrec('_?_:_', a[2]) || complex(a[2]));
          return;
        }
        if (x.fn in BINARY && !x.target) {
          const left = lower(x.fn, a[0]);
          let right = lower(x.fn, a[1]);
          if (!right && x.fn !== '_&&_' && x.fn !== '_||_') right = samePrec(x.fn, a[1]);
          nested(a[0], left);
          operator(x.fn, BINARY[x.fn]);
          nested(a[1], right);
          return;
        }
        if ((x.fn === '!_' || x.fn === '-_') && !x.target) {
          out += x.fn[0];
          nested(a[0], complex(a[0]));
          return;
        }
        if (x.fn === '_[_]' && !x.target) {
          nested(a[0], binOrTernary(a[0]));
          out += '[';
          un(a[1]);
          out += ']';
          return;
        }
        if (x.target) {
          nested(x.target, binOrTernary(x.target));
          out += '.';
        }
        out += `${x.fn}(`;
        a.forEach((y, i) => {
          if (i) out += ', ';
          un(y);
        });
        out += ')';
        return;
      }
    }
    throw new Error(`cannot print CEL node ${JSON.stringify(x)}`);
  };
  un(e);
  return out;
}

export function canonicalCel(rule, where = 'rule') {
  return unparse(expandHelpers(parseCel(rule, where)));
}
