// builtin.fail: fails on purpose, for trying error handling: input.type (an ErrorType, default
// AGENT_FAILURE), input.message, input.retryable (default false), input.severity.
import { ErrorSeverity, ErrorType } from '../domain/enums';
import { type BuiltinAgent, isObject, TaskError } from './builtin-agent';

export const failAgent: BuiltinAgent = {
  capability: 'builtin.fail',
  description: 'fails with input.type / input.message / input.retryable / input.severity',
  run: async (input) => {
    const i = isObject(input) ? input : {};
    const type = i.type ?? ErrorType.AGENT_FAILURE;
    if (typeof type !== 'string' || !(type in ErrorType)) {
      throw new TaskError(ErrorType.VALIDATION, `input.type must be one of ${Object.values(ErrorType).join(', ')}`);
    }
    const severity = i.severity;
    if (severity !== undefined && (typeof severity !== 'string' || !(severity in ErrorSeverity))) {
      throw new TaskError(ErrorType.VALIDATION, `input.severity must be one of ${Object.values(ErrorSeverity).join(', ')}`);
    }
    throw new TaskError(type as ErrorType, typeof i.message === 'string' && i.message.trim() ? i.message : 'failed on purpose', {
      retryable: i.retryable === true,
      severity: severity as ErrorSeverity | undefined,
      context: { input },
    });
  },
};
