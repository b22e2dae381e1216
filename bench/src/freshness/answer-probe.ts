import { performance } from 'node:perf_hooks';
import { UdpDnsClient, sleep } from '@zonewright/testkit';

/** The answer did not appear in time. */
export class AnswerTimeoutError extends Error {
  override readonly name = 'AnswerTimeoutError';
}

/**
 * Asks `name` (A) every `intervalMs` until the answer holds `address`; returns performance.now() of the reply
 * that first did. Each query waits up to 250 ms for its reply (a lost one is asked again).
 */
export async function firstAnswerAt(
  client: UdpDnsClient,
  name: string,
  address: string,
  options: { readonly intervalMs?: number; readonly timeoutMs: number },
): Promise<number> {
  const deadline = performance.now() + options.timeoutMs;
  for (;;) {
    const answer = await client.query(name, 'A', 250);
    const at = performance.now();
    if (answer?.addresses.includes(address) === true) return at;
    if (at > deadline)
      throw new AnswerTimeoutError(`${name} did not answer ${address} within ${options.timeoutMs} ms`);
    await sleep(options.intervalMs ?? 5);
  }
}
