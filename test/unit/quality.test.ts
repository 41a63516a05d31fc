import { TaskOutcome } from '../../src/domain/enums';
import { qualityDelta, qualityScore, qualitySummary } from '../../src/domain/quality';

describe('quality', () => {
  it('is 1 when nothing has finished', () => {
    expect(qualityScore({ succeeded: 0, partial: 0, failed: 0 })).toBe(1);
  });

  it('counts success as 1, partial as 0.5 and failure as 0', () => {
    expect(qualityScore({ succeeded: 2, partial: 1, failed: 1 })).toBeCloseTo(2.5 / 4);
    expect(qualityScore({ succeeded: 0, partial: 0, failed: 3 })).toBe(0);
    expect(qualityScore({ succeeded: 0, partial: 4, failed: 0 })).toBe(0.5);
  });

  it('summarises counts with their total', () => {
    expect(qualitySummary({ succeeded: 3, partial: 1, failed: 0 })).toEqual({
      succeeded: 3,
      partial: 1,
      failed: 0,
      total: 4,
      score: 3.5 / 4,
    });
  });

  it('turns one outcome into one counter increment', () => {
    expect(qualityDelta(TaskOutcome.SUCCESS)).toEqual({ succeeded: 1, partial: 0, failed: 0 });
    expect(qualityDelta(TaskOutcome.PARTIAL)).toEqual({ succeeded: 0, partial: 1, failed: 0 });
    expect(qualityDelta(TaskOutcome.FAILURE)).toEqual({ succeeded: 0, partial: 0, failed: 1 });
  });
});
