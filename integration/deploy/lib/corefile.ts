/** A minimal Corefile reader: server blocks with their keys and directives (enough for policy checks). */

export interface CorefileDirective {
  readonly name: string;
  readonly args: readonly string[];
  readonly block: readonly CorefileDirective[];
}

export interface CorefileServerBlock {
  /** e.g. [".:5353"] or ["{$CLUSTER_DOMAIN}:{$LOCAL_DNS_PORT}"]. */
  readonly keys: readonly string[];
  readonly directives: readonly CorefileDirective[];
}

function tokenize(text: string): string[][] {
  return text
    .split('\n')
    .map((line) => line.replace(/(^|\s)#.*$/, '').trim())
    .filter((line) => line !== '')
    .map((line) => line.split(/\s+/));
}

/** Parses server blocks; throws on unbalanced braces. */
export function parseCorefile(text: string): CorefileServerBlock[] {
  const lines = tokenize(text);
  let index = 0;
  const parseBlock = (): CorefileDirective[] => {
    const directives: CorefileDirective[] = [];
    while (index < lines.length) {
      const words = lines[index] ?? [];
      index += 1;
      if (words.length === 1 && words[0] === '}') return directives;
      const opens = words.at(-1) === '{';
      const [name = '', ...args] = opens ? words.slice(0, -1) : words;
      directives.push({ name, args, block: opens ? parseBlock() : [] });
    }
    throw new Error('Corefile: a block is not closed');
  };
  const servers: CorefileServerBlock[] = [];
  while (index < lines.length) {
    const words = lines[index] ?? [];
    index += 1;
    if (words.at(-1) !== '{') throw new Error(`Corefile: expected a server block, got "${words.join(' ')}"`);
    servers.push({ keys: words.slice(0, -1), directives: parseBlock() });
  }
  return servers;
}

/** `{$NAME}` environment references anywhere in the text. */
export function corefileEnvReferences(text: string): string[] {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const code = line.replace(/(^|\s)#.*$/, '');
    for (const match of code.matchAll(/\{\$([A-Za-z_][A-Za-z0-9_]*)\}/g))
      if (match[1] !== undefined) names.add(match[1]);
  }
  return [...names].sort();
}

/** The port of a `:PORT` or `ADDRESS:PORT` listen argument (health, ready, prometheus, server keys). */
export function portOf(listen: string): number | undefined {
  const match = /:(\d+)$/.exec(listen);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}
