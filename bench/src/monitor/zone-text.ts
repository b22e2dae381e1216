/** The address of `owner` in zone text in our renderer's layout (`name\tIN\tA\taddress`), or undefined. */
export function addressIn(text: string, owner: string): string | undefined {
  const needle = `\n${owner}\tIN\tA\t`;
  const start = text.indexOf(needle);
  if (start < 0) return undefined;
  const from = start + needle.length;
  const end = text.indexOf('\n', from);
  return text.slice(from, end < 0 ? undefined : end);
}

/** A and AAAA records in zone text in our renderer's layout. */
export function countAddressRecords(text: string): number {
  let count = 0;
  for (const needle of ['\tIN\tA\t', '\tIN\tAAAA\t']) {
    for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) count++;
  }
  return count;
}
