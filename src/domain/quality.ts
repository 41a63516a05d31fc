// Quality: how well finished tasks went. SUCCESS counts 1, PARTIAL 0.5, FAILURE 0.
import { TaskOutcome } from './enums';

export interface QualityCounts {
  succeeded: number;
  partial: number;
  failed: number;
}

export interface QualitySummary extends QualityCounts {
  score: number;
  total: number;
}

export const NO_RESULTS: QualityCounts = { succeeded: 0, partial: 0, failed: 0 };

/** (succeeded + 0.5·partial) / total, and 1 when nothing has finished yet. */
export function qualityScore(c: QualityCounts): number {
  const total = c.succeeded + c.partial + c.failed;
  return total === 0 ? 1 : (c.succeeded + 0.5 * c.partial) / total;
}

export function qualitySummary(c: QualityCounts): QualitySummary {
  return { ...c, total: c.succeeded + c.partial + c.failed, score: qualityScore(c) };
}

/** The counter increment one finished task contributes. */
export function qualityDelta(outcome: TaskOutcome): QualityCounts {
  return {
    succeeded: outcome === TaskOutcome.SUCCESS ? 1 : 0,
    partial: outcome === TaskOutcome.PARTIAL ? 1 : 0,
    failed: outcome === TaskOutcome.FAILURE ? 1 : 0,
  };
}
