// Storage failures the engine reacts to, named by what they mean: each driver translates its own
// database's errors into these, so nothing above src/storage reads a database's error codes.
// (Connection trouble becomes the domain's `unavailable` error, which the API reports as such.)

export type StorageErrorKind =
  /** Two transactions got in each other's way (deadlock, serialization): running it again may succeed. */
  | 'retryable-conflict'
  /** A write would duplicate a value that must be unique (an idempotency key, say). */
  | 'unique-violation';

export class StorageError extends Error {
  constructor(
    readonly kind: StorageErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StorageError';
  }
}

export const isStorageError = (e: unknown, kind: StorageErrorKind): e is StorageError => e instanceof StorageError && e.kind === kind;

/** PostgreSQL's SQLSTATEs (PGlite is PostgreSQL too) for the kinds above. */
const SQLSTATE_KINDS: Readonly<Record<string, StorageErrorKind>> = {
  '40P01': 'retryable-conflict', // deadlock_detected
  '40001': 'retryable-conflict', // serialization_failure
  '23505': 'unique-violation', // unique_violation
};

/** A PostgreSQL error of a kind the engine reacts to, as a StorageError (the original as its cause); any other error as it is. */
export function classifyPostgresError(e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  const kind = typeof code === 'string' ? SQLSTATE_KINDS[code] : undefined;
  return kind ? new StorageError(kind, (e as Error).message, { cause: e }) : e;
}
