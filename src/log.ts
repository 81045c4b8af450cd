/** Structured logs: one JSON object per line on stderr. */
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: Level, msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function jsonLogger(minLevel: Level = 'info', base: Record<string, unknown> = {}, out: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  return {
    log(level, msg, fields) {
      if (ORDER[level] < ORDER[minLevel]) return;
      out(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields })}\n`);
    },
    child(fields) {
      return jsonLogger(minLevel, { ...base, ...fields }, out);
    },
  };
}

export const silentLogger: Logger = { log() {}, child: () => silentLogger };
