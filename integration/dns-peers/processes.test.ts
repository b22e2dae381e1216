import { describe, expect, it } from '@jest/globals';
import {
  CommandTimeoutError,
  isProcessAlive,
  killProcessTree,
  processTree,
  runCommand,
  spawnProcess,
  ToolMissingError,
  waitFor,
  WaitTimeoutError,
} from '@zonewright/testkit';
import type { SpawnedProcess } from '@zonewright/testkit';

async function waitForLine(child: SpawnedProcess, text: string): Promise<void> {
  await waitFor(() => (child.output().includes(text) ? true : undefined), {
    timeoutMs: 5000,
    description: `"${text}" from pid ${child.pid}`,
  });
}

describe('process helpers', () => {
  it('runCommand returns exit code, stdout and stderr', async () => {
    const result = await runCommand('sh', ['-c', 'echo out; echo err >&2; exit 3'], { timeoutMs: 5000 });
    expect(result).toEqual({ code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' });
  });

  it('runCommand kills a command that outlives its time limit', async () => {
    const started = Date.now();
    const run = runCommand('sh', ['-c', 'echo started; sleep 30'], { timeoutMs: 300 });
    await expect(run).rejects.toThrow(CommandTimeoutError);
    await expect(run).rejects.toThrow(/did not finish within 300 ms[\s\S]*started/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('a missing tool is named, with the command that installs it', async () => {
    await expect(runCommand('zw-no-such-tool', [], { timeoutMs: 1000 })).rejects.toThrow(
      'zw-no-such-tool is not installed or not on PATH: run scripts/install-test-deps.sh',
    );
    await expect(spawnProcess('zw-no-such-tool', [])).rejects.toThrow(ToolMissingError);
  });

  it('spawnProcess reports lines, output and exit status', async () => {
    const lines: string[] = [];
    const child = await spawnProcess('sh', ['-c', 'echo one; echo two >&2; printf three; exit 4'], {
      onLine: (line) => lines.push(line),
    });
    const status = await child.exited;
    expect(status).toEqual({ code: 4, signal: null });
    expect(child.exitStatus()).toEqual(status);
    expect(lines.sort()).toEqual(['one', 'two']); // "three" never ended its line
    expect(child.output()).toContain('three');
  });

  it('killProcessTree stops a whole tree, including a descendant in its own session', async () => {
    // The setsid'd sleep leaves the process group, so a group kill alone would miss it.
    const child = await spawnProcess('sh', ['-c', 'setsid sleep 60 & sleep 60 & echo ready; wait']);
    await waitForLine(child, 'ready');
    const tree = await waitFor(
      () => {
        const pids = processTree(child.pid);
        return pids.length >= 3 ? pids : undefined;
      },
      { timeoutMs: 5000, description: 'both sleeps to start' },
    );
    expect(tree[0]).toBe(child.pid);
    await killProcessTree(child.pid);
    expect(tree.filter(isProcessAlive)).toEqual([]);
    expect((await child.exited).signal).toBe('SIGTERM');
  });

  it('killProcessTree escalates to SIGKILL after the grace period', async () => {
    const child = await spawnProcess('sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.1; done']);
    await waitForLine(child, 'ready');
    const started = Date.now();
    await killProcessTree(child.pid, { graceMs: 300 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(isProcessAlive(child.pid)).toBe(false);
    expect((await child.exited).signal).toBe('SIGKILL');
  });

  it('killProcessTree accepts a pid that is already gone', async () => {
    const child = await spawnProcess('true', []);
    await child.exited;
    await expect(killProcessTree(child.pid)).resolves.toBeUndefined();
  });

  it('waitFor returns the first defined value, times out with a description, and fails fast', async () => {
    let calls = 0;
    await expect(
      waitFor(() => (++calls >= 3 ? calls : undefined), { timeoutMs: 2000, intervalMs: 1, description: 'x' }),
    ).resolves.toBe(3);
    await expect(waitFor(() => undefined, { timeoutMs: 50, description: 'the impossible' })).rejects.toThrow(
      new WaitTimeoutError('the impossible', 50),
    );
    await expect(
      waitFor(
        () => {
          throw new Error('broken probe');
        },
        { timeoutMs: 2000, description: 'y' },
      ),
    ).rejects.toThrow('broken probe');
  });
});
