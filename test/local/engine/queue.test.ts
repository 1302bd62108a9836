import { describe, expect, it } from 'vitest';
import { SerialQueue } from '../../../local/engine/queue.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('SerialQueue', () => {
  it('runs jobs one at a time in arrival order', async () => {
    const queue = new SerialQueue(10);
    const log: string[] = [];
    let active = 0;
    const job = (name: string) => async () => {
      active++;
      expect(active).toBe(1);
      log.push(`start ${name}`);
      await tick();
      log.push(`end ${name}`);
      active--;
      return name;
    };
    const results = await Promise.all(['a', 'b', 'c'].map((n) => queue.run(job(n))));
    expect(results).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  });

  it('goes on after a failed job', async () => {
    const queue = new SerialQueue(10);
    const failed = queue.run(async () => {
      throw new Error('boom');
    });
    const next = queue.run(async () => 42);
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe(42);
  });

  it('refuses jobs beyond maxWaiting with a 503 problem carrying Retry-After: 1, without running them', async () => {
    const queue = new SerialQueue(2);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const running = queue.run(() => gate);
    await tick(); // the first job has started, so it no longer waits
    expect(queue.running).toBe(1);
    let ran = 0;
    const waiting = [queue.run(async () => ran++), queue.run(async () => ran++)];
    expect(queue.waiting).toBe(2);
    await expect(queue.run(async () => ran++)).rejects.toMatchObject({
      kind: 'service-unavailable',
      status: 503,
      headers: { 'Retry-After': '1' },
    });
    release();
    await Promise.all([running, ...waiting]);
    expect(ran).toBe(2);
    expect(queue.waiting).toBe(0);
    expect(queue.running).toBe(0);
  });
});
