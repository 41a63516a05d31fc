import { IsOptional, Matches, MaxLength } from 'class-validator';
import { Field, ID, InputType } from 'type-graphql';
import { ERROR_MESSAGE_MAX } from '../../domain/error-record';
import { ErrorSeverity, ErrorType } from './enums';
import { DateTimeScalar, JSONScalar } from './scalars';

@InputType()
export class ErrorRecordInput {
  @Field(() => ErrorType)
  type!: ErrorType;

  @Field(() => ErrorSeverity)
  severity!: ErrorSeverity;

  @Field()
  @Matches(/\S/, { message: 'message must not be empty' })
  @MaxLength(ERROR_MESSAGE_MAX)
  message!: string;

  @Field(() => JSONScalar, { nullable: true })
  context?: unknown;

  @Field(() => Boolean, { nullable: true, defaultValue: false })
  @IsOptional()
  retryable?: boolean | null;

  @Field(() => ID, { nullable: true })
  workflowId?: string | null;

  @Field(() => ID, { nullable: true })
  taskId?: string | null;

  @Field(() => ID, { nullable: true })
  agentId?: string | null;
}

@InputType()
export class ErrorFilter {
  @Field(() => [ErrorType], { nullable: true })
  types?: ErrorType[] | null;

  @Field(() => ErrorSeverity, { nullable: true })
  minSeverity?: ErrorSeverity | null;

  @Field(() => ID, { nullable: true })
  workflowId?: string | null;

  @Field(() => ID, { nullable: true })
  taskId?: string | null;

  @Field(() => ID, { nullable: true })
  agentId?: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  since?: Date | null;
}
