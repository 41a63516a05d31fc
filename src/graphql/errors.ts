// The one place where errors become GraphQL errors: DomainError types map to `extensions.code`,
// validation failures to BAD_USER_INPUT, anything unexpected to a generic INTERNAL_SERVER_ERROR
// (logged in full here, never shown to the client with a stack trace). Both transports format
// through here, so suggestions are hidden here too, from validation and variable coercion alike.
import { unwrapResolverError } from '@apollo/server/errors';
import { type GraphQLFormattedError, GraphQLError } from 'graphql';
import { ArgumentValidationError } from 'type-graphql';
import { ErrorType } from '../domain/enums';
import { DomainError } from '../domain/errors';
import type { Logger } from '../support/logger';
import { withoutSuggestions } from './introspection';

export const ERROR_CODE: Readonly<Record<ErrorType, string>> = {
  [ErrorType.VALIDATION]: 'BAD_USER_INPUT',
  [ErrorType.NOT_FOUND]: 'NOT_FOUND',
  [ErrorType.CONFLICT]: 'CONFLICT',
  [ErrorType.AUTHENTICATION]: 'UNAUTHENTICATED',
  [ErrorType.AUTHORIZATION]: 'FORBIDDEN',
  [ErrorType.RATE_LIMITED]: 'RATE_LIMITED',
  [ErrorType.RESOURCE_EXHAUSTED]: 'RESOURCE_EXHAUSTED',
  [ErrorType.TIMEOUT]: 'TIMEOUT',
  [ErrorType.AGENT_UNAVAILABLE]: 'UNAVAILABLE',
  [ErrorType.NETWORK]: 'UNAVAILABLE',
  [ErrorType.AGENT_FAILURE]: 'INTERNAL_SERVER_ERROR',
  [ErrorType.AGENT_LOST]: 'INTERNAL_SERVER_ERROR',
  [ErrorType.DEPENDENCY_FAILED]: 'INTERNAL_SERVER_ERROR',
  [ErrorType.INVALID_OUTPUT]: 'BAD_USER_INPUT',
  [ErrorType.INTERNAL]: 'INTERNAL_SERVER_ERROR',
};

/** Codes whose message is safe and useful to show as it is. */
const CLIENT_CODES = new Set([
  'BAD_USER_INPUT',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'QUERY_TOO_DEEP',
  'QUERY_TOO_COMPLEX',
  'NOT_FOUND',
  'CONFLICT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'UNAVAILABLE',
  'RATE_LIMITED',
]);

function validationMessage(e: ArgumentValidationError): string {
  const found: unknown = e.extensions.validationErrors;
  const problems = Array.isArray(found) ? found.flatMap((v: ValidationNode) => collect(v)) : [];
  return problems.length ? problems.join('; ') : 'invalid input';
}

interface ValidationNode {
  property: string;
  constraints?: Record<string, string>;
  children?: ValidationNode[];
}

function collect(v: ValidationNode, path = ''): string[] {
  const at = path ? `${path}.${v.property}` : v.property;
  const own = Object.values(v.constraints ?? {}).map((m) => (m.startsWith(v.property) ? m : `${at}: ${m}`));
  return [...own, ...(v.children ?? []).flatMap((c) => collect(c, at))];
}

/**
 * The error a resolver (or a subscription's event stream) threw. graphql-ws wraps what a stream
 * throws in a GraphQLError with no path, which unwrapResolverError leaves wrapped: a DomainError
 * ending a subscription (its agent deregistered) would otherwise read as unexpected.
 */
function unwrapError(error: unknown): unknown {
  const original = unwrapResolverError(error);
  return original instanceof GraphQLError && original.originalError instanceof DomainError ? original.originalError : original;
}

export interface FormatOptions {
  /** Strip "Did you mean …?" from messages: they reveal the schema when introspection is off. */
  hideSuggestions: boolean;
}

export function formatError(log: Logger, { hideSuggestions }: FormatOptions = { hideSuggestions: false }) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapError(error);
    const path = formatted.path;
    const locations = formatted.locations;
    if (original instanceof DomainError) {
      return {
        message: original.message,
        locations,
        path,
        extensions: { code: ERROR_CODE[original.type], type: original.type, ...(original.details ?? {}) },
      };
    }
    if (original instanceof ArgumentValidationError) {
      return { message: validationMessage(original), locations, path, extensions: { code: 'BAD_USER_INPUT' } };
    }
    const code = String(formatted.extensions?.code ?? '');
    if (CLIENT_CODES.has(code) || (original instanceof GraphQLError && !original.originalError && !code)) {
      const { stacktrace: _s, exception: _e, ...extensions } = formatted.extensions ?? {};
      const message = hideSuggestions ? withoutSuggestions(formatted.message) : formatted.message;
      return { ...formatted, message, extensions: { ...extensions, code: code || 'GRAPHQL_VALIDATION_FAILED' } };
    }
    log.error('unexpected error', { err: original instanceof Error ? original : new Error(String(original)), path });
    return { message: 'Internal server error', locations, path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}
