/** A stream for the logger that keeps what it is given, read back as JSON lines or raw text. */
import { Writable } from 'node:stream';

export interface LogCapture {
  readonly stream: Writable;
  /** Every JSON line written so far, parsed. */
  lines(): Record<string, unknown>[];
  raw(): string;
}

export function captureLog(): LogCapture {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    raw: () => chunks.join(''),
  };
}
