import { Field, ID, Int, ObjectType } from 'type-graphql';
import { connectionOf } from './connection';
import { ErrorSeverity, ErrorType } from './enums';
import { DateTimeScalar, JSONScalar } from './scalars';

@ObjectType()
export class ErrorRecord {
  @Field(() => ID)
  id!: string;

  @Field(() => ErrorType)
  type!: ErrorType;

  @Field(() => ErrorSeverity)
  severity!: ErrorSeverity;

  @Field()
  message!: string;

  @Field(() => JSONScalar, { nullable: true })
  context!: unknown;

  @Field()
  retryable!: boolean;

  // Resolved by ErrorRecordResolver.summary.
  @Field({ description: 'One line: severity, type, message and where it happened.' })
  summary?: string;

  @Field(() => ID, { nullable: true })
  workflowId!: string | null;

  @Field(() => ID, { nullable: true })
  taskId!: string | null;

  @Field(() => ID, { nullable: true })
  agentId!: string | null;

  @Field(() => DateTimeScalar)
  occurredAt!: Date;
}

export const ErrorRecordConnection = connectionOf('ErrorRecord', ErrorRecord, true);

@ObjectType()
export class SeverityCount {
  @Field(() => ErrorSeverity)
  severity!: ErrorSeverity;

  @Field(() => Int)
  count!: number;
}

@ObjectType()
export class ErrorTypeCount {
  @Field(() => ErrorType)
  type!: ErrorType;

  @Field(() => Int)
  count!: number;
}

@ObjectType()
export class ErrorSummary {
  @Field(() => Int)
  total!: number;

  @Field(() => [SeverityCount], { description: 'Every severity, most severe first.' })
  bySeverity!: SeverityCount[];

  @Field(() => [ErrorTypeCount], { description: 'The types that occurred, most frequent first.' })
  byType!: ErrorTypeCount[];

  @Field(() => DateTimeScalar, { nullable: true })
  since!: Date | null;
}
