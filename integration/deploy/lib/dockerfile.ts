/** A small Dockerfile reader (instructions, stages) and a .dockerignore matcher, for static image checks. */

export interface DockerInstruction {
  readonly keyword: string;
  /** The arguments as written (continuations joined). */
  readonly text: string;
  readonly line: number;
}

export interface DockerStage {
  readonly name: string | undefined;
  readonly from: string;
  readonly platform: string | undefined;
  readonly instructions: readonly DockerInstruction[];
}

export interface CopyInstruction {
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly destination: string;
  readonly line: number;
}

/** Instructions in order; comments and blank lines dropped, `\` continuations joined. */
export function parseDockerfile(text: string): DockerInstruction[] {
  const instructions: DockerInstruction[] = [];
  const lines = text.split('\n');
  let pending = '';
  let start = 0;
  lines.forEach((raw, index) => {
    const line = raw.trimEnd();
    if (pending === '' && (line.trim() === '' || line.trimStart().startsWith('#'))) return;
    if (pending !== '' && line.trimStart().startsWith('#')) return;
    if (pending === '') start = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const full = (pending + line).trim();
    pending = '';
    const match = /^(\S+)\s*(.*)$/s.exec(full);
    if (match?.[1] !== undefined) {
      instructions.push({
        keyword: match[1].toUpperCase(),
        text: (match[2] ?? '').replace(/\s+/g, ' '),
        line: start,
      });
    }
  });
  if (pending !== '') throw new Error('Dockerfile ends inside a continued line');
  return instructions;
}

/** Splits instructions into stages at each FROM. */
export function dockerStages(instructions: readonly DockerInstruction[]): DockerStage[] {
  const stages: {
    name: string | undefined;
    from: string;
    platform: string | undefined;
    instructions: DockerInstruction[];
  }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const words = instruction.text.split(' ');
      const platform = words.find((word) => word.startsWith('--platform='))?.slice('--platform='.length);
      const rest = words.filter((word) => !word.startsWith('--'));
      const asIndex = rest.findIndex((word) => word.toUpperCase() === 'AS');
      stages.push({
        from: rest[0] ?? '',
        name: asIndex >= 0 ? rest[asIndex + 1] : undefined,
        platform,
        instructions: [],
      });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

export function parseCopy(instruction: DockerInstruction): CopyInstruction {
  if (instruction.text.startsWith('[')) throw new Error(`line ${instruction.line}: use the plain COPY form`);
  const words = instruction.text.split(' ');
  const flags = words.filter((word) => word.startsWith('--'));
  const paths = words.filter((word) => !word.startsWith('--'));
  const from = flags.find((flag) => flag.startsWith('--from='))?.slice('--from='.length);
  const destination = paths.pop();
  if (destination === undefined || paths.length === 0)
    throw new Error(`line ${instruction.line}: COPY needs a source and a destination`);
  return { from, sources: paths, destination, line: instruction.line };
}

/** The JSON (exec) form of ENTRYPOINT or CMD. */
export function execForm(instruction: DockerInstruction): string[] {
  const parsed: unknown = JSON.parse(instruction.text);
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    throw new Error(`line ${instruction.line}: ${instruction.keyword} must use the JSON exec form`);
  }
  return parsed;
}

interface IgnoreRule {
  readonly negated: boolean;
  readonly pattern: RegExp;
}

function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let index = 0; index < glob.length; index += 1) {
    const char = glob.charAt(index);
    if (char === '*') {
      if (glob.charAt(index + 1) === '*') {
        index += 1;
        if (glob.charAt(index + 1) === '/') {
          index += 1;
          source += '(?:.*/)?';
        } else source += '.*';
      } else source += '[^/]*';
    } else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** Parses .dockerignore text (patterns relative to the context root, `!` re-includes, last match wins). */
export function parseDockerignore(text: string): IgnoreRule[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const glob = (negated ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, '');
      return { negated, pattern: globToRegExp(glob) };
    });
}

/**
 * Whether a file (path relative to the context root) is left out of the build context. As Docker does,
 * a rule matching a parent directory applies to everything below it, and the last matching rule wins.
 */
export function isIgnored(rules: readonly IgnoreRule[], path: string): boolean {
  const parts = path.split('/');
  const prefixes = parts.map((_, index) => parts.slice(0, index + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (prefixes.some((prefix) => rule.pattern.test(prefix))) ignored = !rule.negated;
  }
  return ignored;
}
