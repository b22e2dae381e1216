import yargs, { type Argv } from 'yargs';
import { ZoneError } from '@zonewright/zone';
import { runCheck } from './commands/check.js';
import { runInspect } from './commands/inspect.js';
import { CommandLineError, ProblemsFoundError, UsageError } from './errors.js';
import { booleanFlags, CHECK_OPTIONS, GLOBAL_OPTIONS, INSPECT_OPTIONS } from './config/command-options.js';
import { normalizeBooleanFlags, resolveOptions, type Environment } from './config/option-table.js';
import { declareOptions } from './config/yargs-options.js';
import { registerWatcherCommands } from './watchers.js';

const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** Builds the whole command line; exported so tests and docs can read its flags. */
export function buildCli(argv: readonly string[], env: Environment = process.env): Argv {
  const base: Argv = declareOptions(
    yargs(normalizeBooleanFlags(argv, booleanFlags()))
      .scriptName('zonewright')
      .usage(
        '$0 <command> [options]\n\nDNS zones for what cluster DNS cannot see: KubeVirt secondary NICs and node-local pods.\n' +
          'Every option is read from its flag, else from its environment variables, else its default.',
      ),
    GLOBAL_OPTIONS,
  )
    .command(
      'inspect <path>',
      'Show the zones in a directory (db.<origin> files) or one zone file: origin, serial, age, records',
      (command) =>
        declareOptions(
          command.positional('path', {
            type: 'string',
            demandOption: true,
            describe: 'Zone file or directory (e.g. /zones)',
          }),
          INSPECT_OPTIONS,
        ),
      async (args) => {
        const { values } = resolveOptions(INSPECT_OPTIONS, args, env);
        const code = await runInspect(
          {
            target: args.path,
            json: values.json,
            ...(values.name === undefined ? {} : { name: values.name }),
            ...(values.type === undefined ? {} : { type: values.type }),
            ...(values.origin === undefined ? {} : { origin: values.origin }),
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
        declareOptions(
          command.positional('path', {
            type: 'string',
            demandOption: true,
            describe: 'Zone file or directory',
          }),
          CHECK_OPTIONS,
        ),
      async (args) => {
        const { values } = resolveOptions(CHECK_OPTIONS, args, env);
        await runCheck(
          {
            target: args.path,
            quiet: values.quiet,
            ...(values.origin === undefined ? {} : { origin: values.origin }),
          },
          print,
        );
      },
    );
  const cli: Argv = registerWatcherCommands(base, env);
  return cli
    .demandCommand(1, 'Name a command: see --help')
    .strict()
    .recommendCommands()
    .help()
    .alias('help', 'h')
    .version()
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((message, error) => {
      throw error ?? new CommandLineError(message);
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

/** Error messages are printed as one line, whatever the library put into them. */
function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Runs the CLI; the only place that decides exit codes: 0 ok; 1 problems found, or the environment failed (a
 * zones directory that cannot be used, no CRI runtime, a failed write with --once); 2 bad usage or a bad value
 * (an option, an input file), always one line naming it.
 */
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
      process.stderr.write(`zonewright: ${oneLine(error.message)}\n`);
      process.exitCode = 1;
    } else if (error instanceof CommandLineError) {
      process.stderr.write(`zonewright: ${oneLine(error.message)}\nRun 'zonewright --help' for usage.\n`);
      process.exitCode = 2;
    } else if (error instanceof UsageError) {
      // A bad value (an option, an input file, a kubeconfig): one line.
      process.stderr.write(`zonewright: ${oneLine(error.message)}\n`);
      process.exitCode = 2;
    } else if (error instanceof ZoneError || isOperationalError(error)) {
      process.stderr.write(`zonewright: ${oneLine(error.message)}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(
        `zonewright: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    }
  }
}
