import type { Logger } from '@zonewright/zone';
import winston from 'winston';

export type LogFormat = 'json' | 'text' | 'auto';
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggingOptions {
  readonly format: LogFormat;
  readonly level: LogLevel;
  /** Where logs go; stderr so that command output on stdout stays clean. */
  readonly stream?: NodeJS.WritableStream;
}

/**
 * JSON lines in clusters (what log collectors parse), readable text on a terminal. `auto` picks text when
 * stderr is a TTY. Components get child loggers with a `component` field.
 */
export function createLogger(options: LoggingOptions): winston.Logger {
  const stream = options.stream ?? process.stderr;
  const text =
    options.format === 'text' ||
    (options.format === 'auto' && (stream as { isTTY?: boolean }).isTTY === true);
  const format = text
    ? winston.format.combine(
        winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
        winston.format.printf((info) => {
          const { timestamp, level, message, component, ...rest } = info as Record<string, unknown>;
          const meta = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
          const prefix = typeof component === 'string' ? `[${component}] ` : '';
          return `${String(timestamp)} ${String(level).padEnd(5)} ${prefix}${String(message)}${meta}`;
        }),
      )
    : winston.format.combine(winston.format.timestamp(), winston.format.json());
  return winston.createLogger({
    level: options.level,
    format,
    transports: [new winston.transports.Stream({ stream })],
  });
}

export function componentLogger(logger: winston.Logger, component: string): Logger {
  return logger.child({ component });
}
