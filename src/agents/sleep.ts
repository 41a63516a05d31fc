// builtin.sleep: waits input.ms milliseconds (default 1000), reporting progress as it goes.
import { TaskError } from '../sdk/errors';
import { type BuiltinAgent, isObject } from './builtin-agent';

export const SLEEP_MAX_MS = 3_600_000;

export const sleepAgent: BuiltinAgent = {
  capability: 'builtin.sleep',
  description: 'waits input.ms (default 1000), reporting progress; output { sleptMs }',
  handler: async (input: unknown, ctx) => {
    const ms = isObject(input) && input.ms !== undefined ? input.ms : 1000;
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > SLEEP_MAX_MS) {
      throw new TaskError('VALIDATION', `input.ms must be a number from 0 to ${SLEEP_MAX_MS}`);
    }
    const step = Math.max(100, ms / 10);
    const started = Date.now();
    for (;;) {
      const left = ms - (Date.now() - started);
      if (left <= 0) break;
      await new Promise<void>((resolve, reject) => {
        if (ctx.signal.aborted) return reject(ctx.signal.reason);
        const onAbort = () => (clearTimeout(timer), reject(ctx.signal.reason));
        const timer = setTimeout(() => (ctx.signal.removeEventListener('abort', onAbort), resolve()), Math.min(step, left));
        ctx.signal.addEventListener('abort', onAbort, { once: true });
      });
      const done = Math.min(1, (Date.now() - started) / ms);
      if (done < 1) await ctx.progress(done, `slept ${Date.now() - started} of ${ms} ms`);
    }
    return { sleptMs: ms };
  },
};
