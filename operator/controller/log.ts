// Structured logs: one JSON object per line on stderr, so a log pipeline can index by key and IstioOperator.
export type Level = 'debug' | 'info' | 'warn' | 'error';
export type LogFn = (level: Level, msg: string, fields?: Record<string, unknown>) => void;

const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export function jsonLogger(opts: { level?: Level; stream?: NodeJS.WritableStream; base?: Record<string, unknown> } = {}): LogFn {
  const min = ORDER[opts.level ?? 'info'];
  const out = opts.stream ?? process.stderr;
  return (level, msg, fields) => {
    if (ORDER[level] < min) return;
    out.write(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...opts.base, ...fields }) + '\n');
  };
}

export const silentLogger: LogFn = () => {};
