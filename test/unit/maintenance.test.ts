import { maintenanceDue, type TableActivity } from '../../src/storage/pglite-maintenance';

const table = (t: Partial<TableActivity>): TableActivity => ({
  table: 'tasks',
  qualified: 'public.tasks',
  rows: 0,
  dead: 0,
  insertedSinceVacuum: 0,
  modifiedSinceAnalyze: 0,
  ...t,
});

describe('PGlite maintenance thresholds (autovacuum defaults)', () => {
  it('vacuums a table once its dead rows pass 50 + 20 % of its rows', () => {
    expect(maintenanceDue(table({ rows: 10_000, dead: 2_050 })).vacuum).toBe(false);
    expect(maintenanceDue(table({ rows: 10_000, dead: 2_051 })).vacuum).toBe(true);
    expect(maintenanceDue(table({ rows: 0, dead: 51 })).vacuum).toBe(true);
  });

  it('vacuums a table that is only inserted into once 1,000 + 20 % of its rows are new', () => {
    expect(maintenanceDue(table({ rows: 10_000, insertedSinceVacuum: 3_000 })).vacuum).toBe(false);
    expect(maintenanceDue(table({ rows: 10_000, insertedSinceVacuum: 3_001 })).vacuum).toBe(true);
  });

  it('analyzes a table once 1,000 + 100 % of its rows changed, and leaves a quiet one alone', () => {
    expect(maintenanceDue(table({ rows: 10_000, modifiedSinceAnalyze: 11_000 }))).toEqual({ vacuum: false, analyze: false });
    expect(maintenanceDue(table({ rows: 10_000, modifiedSinceAnalyze: 11_001 }))).toEqual({ vacuum: false, analyze: true });
    expect(maintenanceDue(table({ rows: 10_000, dead: 10, insertedSinceVacuum: 10, modifiedSinceAnalyze: 10 }))).toEqual({ vacuum: false, analyze: false });
  });
});
