// builtin.fail: fails on purpose, for trying error handling: input.type (an ErrorType, default
// AGENT_FAILURE), input.message, input.retryable (default false), input.severity.
import { ErrorSeverity, ErrorType } from '../domain/enums';
import { TaskError } from '../sdk/errors';
import type { ErrorSeverity as SeverityName, ErrorType as TypeName } from '../sdk/generated/graphql';
import { type BuiltinAgent, isObject } from './builtin-agent';

export const failAgent: BuiltinAgent = {
  capability: 'builtin.fail',
  description: 'fails with input.type / input.message / input.retryable / input.severity',
  handler: async (input: unknown) => {
    const i = isObject(input) ? input : {};
    const type = i.type ?? ErrorType.AGENT_FAILURE;
    if (typeof type !== 'string' || !(type in ErrorType)) {
      throw new TaskError('VALIDATION', `input.type must be one of ${Object.values(ErrorType).join(', ')}`);
    }
    const severity = i.severity;
    if (severity !== undefined && (typeof severity !== 'string' || !(severity in ErrorSeverity))) {
      throw new TaskError('VALIDATION', `input.severity must be one of ${Object.values(ErrorSeverity).join(', ')}`);
    }
    throw new TaskError(type as TypeName, typeof i.message === 'string' && i.message.trim() ? i.message : 'failed on purpose', {
      retryable: i.retryable === true,
      severity: severity as SeverityName | undefined,
      context: { input },
    });
  },
};
