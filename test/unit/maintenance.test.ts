import { type TableActivity, vacuumDue } from '../../src/storage/pglite-maintenance';

const table = (t: Partial<TableActivity>): TableActivity => ({
  table: 'tasks',
  qualified: 'public.tasks',
  rows: 0,
  dead: 0,
  insertedSinceVacuum: 0,
  ...t,
});

describe('PGlite maintenance thresholds (autovacuum defaults)', () => {
  it('vacuums a table once its dead rows pass 50 + 20 % of its rows', () => {
    expect(vacuumDue(table({ rows: 10_000, dead: 2_050 }))).toBe(false);
    expect(vacuumDue(table({ rows: 10_000, dead: 2_051 }))).toBe(true);
    expect(vacuumDue(table({ rows: 0, dead: 51 }))).toBe(true);
  });

  it('vacuums a table that is only inserted into once 1,000 + 20 % of its rows are new', () => {
    expect(vacuumDue(table({ rows: 10_000, insertedSinceVacuum: 3_000 }))).toBe(false);
    expect(vacuumDue(table({ rows: 10_000, insertedSinceVacuum: 3_001 }))).toBe(true);
  });

  it('leaves a table with few changes alone', () => {
    expect(vacuumDue(table({ rows: 10_000, dead: 10, insertedSinceVacuum: 10 }))).toBe(false);
  });
});
