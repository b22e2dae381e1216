/** Base class of every error node-setup throws on purpose. */
export class NodeSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeSetupError';
  }
}

/** An option (flag or environment variable) has a value that cannot work; the message names it. */
export class InvalidOptionError extends NodeSetupError {
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly reason: string,
  ) {
    super(`invalid ${option} ${JSON.stringify(value)}: ${reason}`);
    this.name = 'InvalidOptionError';
  }
}

/** A combination of options that would work only by weakening the node's security; refused on purpose. */
export class UnsafeOptionError extends NodeSetupError {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafeOptionError';
  }
}

/** An external command (iptables-save, iptables-restore, nsenter …) failed. */
export class CommandFailedError extends NodeSetupError {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(
      `${[command, ...args].join(' ')} failed (exit ${exitCode === null ? 'signal' : String(exitCode)}): ${stderr.trim() || '(no output)'}`,
    );
    this.name = 'CommandFailedError';
  }
}

/** A file node-setup would write already exists with other content, and --force was not given. */
export class FileConflictError extends NodeSetupError {
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = 'FileConflictError';
  }
}
