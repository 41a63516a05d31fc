// The one error model: every refusal the orchestrator makes is a DomainError carrying an ErrorType.
// The GraphQL layer maps the type to `extensions.code` in one place (src/graphql/errors.ts).
import { ErrorType } from './enums';

export class DomainError extends Error {
  constructor(
    readonly type: ErrorType,
    message: string,
    /** Safe, user-facing details (field names, limits); never secrets or stack traces. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (message: string, details?: Record<string, unknown>) =>
  new DomainError(ErrorType.VALIDATION, message, details);

export const notFound = (what: string, id: string) =>
  new DomainError(ErrorType.NOT_FOUND, `${what} ${JSON.stringify(id)} not found`, { id });

export const conflict = (message: string, details?: Record<string, unknown>) =>
  new DomainError(ErrorType.CONFLICT, message, details);


/** Storage or the event broker cannot be reached: the request may succeed later (UNAVAILABLE). */
export const unavailable = (what: string, cause?: string) =>
  new DomainError(ErrorType.NETWORK, `${what} is unavailable${cause ? `: ${cause}` : ''}; try again`);
