import yargs, { type Argv } from 'yargs';
import { ZoneError } from '@zonewright/zone';
import { runCheck } from './commands/check.js';
import { runInspect } from './commands/inspect.js';
import { ProblemsFoundError, UsageError } from './errors.js';
import { LOG_LEVELS } from './logging.js';
import { registerWatcherCommands } from './watchers.js';

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** Builds the whole command line; exported so tests and docs can read its flags. */
export function buildCli(argv: readonly string[]): Argv {
  const base: Argv = yargs([...argv])
    .scriptName('zonewright')
    .usage(
      '$0 <command> [options]\n\nDNS zones for what cluster DNS cannot see: KubeVirt secondary NICs and node-local pods.',
    )
    .env('ZONEWRIGHT')
    .option('log-format', {
      choices: ['auto', 'json', 'text'] as const,
      default: 'auto' as const,
      describe: 'Log format: JSON lines (clusters) or text (terminals); auto picks text on a TTY',
      global: true,
    })
    .option('log-level', {
      choices: LOG_LEVELS,
      default: 'info' as const,
      describe: 'Least severe level logged',
      global: true,
    })
    .command(
      'inspect <path>',
      'Show the zones in a directory (db.<origin> files) or one zone file: origin, serial, age, records',
      (command) =>
        command
          .positional('path', {
            type: 'string',
            demandOption: true,
            describe: 'Zone file or directory (e.g. /zones)',
          })
          .option('json', {
            type: 'boolean',
            default: false,
            describe: 'Machine-readable output (see README)',
          })
          .option('name', {
            type: 'string',
            describe: 'Answer for this name like a DNS server: records, NXDOMAIN or NODATA',
          })
          .option('type', {
            type: 'string',
            describe: 'With --name: the record type asked for (default: all)',
          })
          .option('origin', {
            type: 'string',
            describe: 'Origin of a file with no $ORIGIN whose name is not db.<origin>',
          }),
      async (args) => {
        const code = await runInspect(
          {
            target: args.path,
            json: args.json,
            ...(args.name === undefined ? {} : { name: args.name }),
            ...(args.type === undefined ? {} : { type: args.type }),
            ...(args.origin === undefined ? {} : { origin: args.origin }),
          },
          print,
        );
        if (code !== 0) process.exitCode = code;
      },
    )
    .command(
      'check <path>',
      'Parse every zone and report each problem as file:line: message; exit 1 when any zone has one',
      (command) =>
        command
          .positional('path', { type: 'string', demandOption: true, describe: 'Zone file or directory' })
          .option('origin', {
            type: 'string',
            describe: 'Origin of a file with no $ORIGIN whose name is not db.<origin>',
          })
          .option('quiet', { type: 'boolean', default: false, describe: 'Print problems only' }),
      async (args) => {
        await runCheck(
          {
            target: args.path,
            quiet: args.quiet,
            ...(args.origin === undefined ? {} : { origin: args.origin }),
          },
          print,
        );
      },
    );
  const cli: Argv = registerWatcherCommands(base);
  return cli
    .demandCommand(1, 'Name a command: see --help')
    .strict()
    .recommendCommands()
    .help()
    .alias('help', 'h')
    .version()
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((message, error) => {
      throw error ?? new UsageError(message);
    });
}

/**
 * Errors our packages raise on purpose (typed classes: CRI unavailable, Kubernetes API, node-setup, files) are
 * printed as one line; only programming errors (TypeError, RangeError, …) get a stack trace.
 */
function isOperationalError(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  if (
    error instanceof TypeError ||
    error instanceof RangeError ||
    error instanceof ReferenceError ||
    error instanceof SyntaxError
  ) {
    return false;
  }
  return error.constructor !== Error || 'code' in error;
}

/** Runs the CLI; the only place that decides exit codes (0 ok, 1 problems or failure, 2 usage). */
export async function main(argv: readonly string[]): Promise<void> {
  // `zonewright inspect /zones | head`: a closed pipe ends the output quietly instead of with a stack trace.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  try {
    await buildCli(argv).parseAsync();
  } catch (error) {
    if (error instanceof ProblemsFoundError) {
      process.stderr.write(`zonewright: ${error.message}\n`);
      process.exitCode = 1;
    } else if (error instanceof UsageError) {
      process.stderr.write(`zonewright: ${error.message}\nRun 'zonewright --help' for usage.\n`);
      process.exitCode = 2;
    } else if (error instanceof ZoneError || isOperationalError(error)) {
      process.stderr.write(`zonewright: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(
        `zonewright: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    }
  }
}
