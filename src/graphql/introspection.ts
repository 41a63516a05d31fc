// Whether a client may see the schema: the introspection fields (`__schema`, `__type`) and the
// "Did you mean …?" suggestions of error messages, which name fields, types and enum values.
// Config.introspection decides it for every client, the same on HTTP and WebSocket; access by
// role would decide it per request, here.
import { NoSchemaIntrospectionCustomRule, type ValidationRule } from 'graphql';

/** Validation rules to run after graphql's specified ones. */
export function introspectionRules(allowed: boolean): ValidationRule[] {
  return allowed ? [] : [NoSchemaIntrospectionCustomRule];
}

/** The message without the suggestion graphql-js ends it with (the pattern Apollo strips too). */
export function withoutSuggestions(message: string): string {
  return message.replace(/ ?Did you mean(.+?)\?$/, '');
}
