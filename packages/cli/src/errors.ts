/** A problem with how the command was called or configured; printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override readonly name: string = 'UsageError';
}

/** The command ran and found problems (e.g. `check` found a bad zone); exit code 1, output already printed. */
export class ProblemsFoundError extends Error {
  override readonly name = 'ProblemsFoundError';
}

/** The command line itself is wrong (unknown command or flag, missing positional): yargs said so. */
export class CommandLineError extends UsageError {
  override readonly name: string = 'CommandLineError';
}
