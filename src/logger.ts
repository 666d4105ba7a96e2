import type { Writable } from 'node:stream';
import winston from 'winston';
import type { LogLevel } from './log-levels.js';

export { LOG_LEVELS, isLogLevel, type LogLevel } from './log-levels.js';

export type Logger = winston.Logger;

export interface LoggerOptions {
  /** Where the JSON lines go; stdout unless a test wants to capture them. */
  readonly stream?: Writable;
}

/** One JSON object per line, so log collectors need no parsing rules. */
export function createLogger(level: LogLevel = 'info', options: LoggerOptions = {}): Logger {
  const transport =
    options.stream === undefined
      ? // An empty stderrLevels keeps every level on stdout: a container's two streams are often
        // collected separately and the error lines belong with their context.
        new winston.transports.Console({ stderrLevels: [] })
      : new winston.transports.Stream({ stream: options.stream });
  return winston.createLogger({
    level,
    levels: winston.config.npm.levels,
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.errors({ stack: true }),
      winston.format.json(),
    ),
    transports: [transport],
  });
}

export function createSilentLogger(): Logger {
  // A silent transport (rather than none) avoids winston's "no transports" warning on every write.
  return winston.createLogger({
    silent: true,
    transports: [new winston.transports.Console({ silent: true })],
  });
}
