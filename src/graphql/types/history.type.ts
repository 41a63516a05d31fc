import { Field, ID, ObjectType } from 'type-graphql';
import { connectionOf } from './connection';
import { HistoryEventType } from './enums';
import { DateTimeScalar, JSONScalar } from './scalars';

@ObjectType()
export class HistoryEvent {
  @Field(() => ID)
  id!: string;

  @Field(() => HistoryEventType)
  type!: HistoryEventType;

  @Field(() => DateTimeScalar)
  at!: Date;

  @Field(() => ID, { nullable: true })
  workflowId!: string | null;

  @Field(() => ID, { nullable: true })
  taskId!: string | null;

  @Field(() => ID, { nullable: true })
  agentId!: string | null;

  @Field(() => JSONScalar, { nullable: true })
  data!: unknown;
}

export const HistoryEventConnection = connectionOf('HistoryEvent', HistoryEvent, false);
