// Statistics and timing the benchmark shares, apart from lib.ts so that the commit → agent client
// (bench/baseline/agent-client.ts, its own process) uses them without loading the server.

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Nearest-rank percentile. */
export const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
