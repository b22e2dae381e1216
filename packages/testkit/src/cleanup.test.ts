import { describe, expect, it } from '@jest/globals';
import { cleanUp } from './processes.js';

describe('cleanUp', () => {
  it('runs every step, also after one failed, then throws one AggregateError with the failures', async () => {
    const ran: string[] = [];
    const boom = new Error('netns busy');
    const result = cleanUp('demo', [
      () => ran.push('stop watcher'),
      () => {
        ran.push('delete netns');
        throw boom;
      },
      async () => {
        await Promise.resolve();
        ran.push('remove dir');
      },
      () => Promise.reject(new Error('dir gone')),
    ]);
    await expect(result).rejects.toThrow('demo: cleanup failed');
    await result.catch((error: unknown) => {
      expect(error).toBeInstanceOf(AggregateError);
      expect((error as AggregateError).errors).toEqual([boom, new Error('dir gone')]);
    });
    expect(ran).toEqual(['stop watcher', 'delete netns', 'remove dir']);
  });

  it('resolves when every step succeeds', async () => {
    await expect(cleanUp('demo', [() => undefined, () => Promise.resolve(1)])).resolves.toBeUndefined();
  });
});
