import { Field, ID, InputType } from 'type-graphql';
import { HistoryEventType } from './enums';
import { DateTimeScalar } from './scalars';

@InputType()
export class HistoryFilter {
  @Field(() => [HistoryEventType], { nullable: true })
  types?: HistoryEventType[] | null;

  @Field(() => ID, { nullable: true })
  workflowId?: string | null;

  @Field(() => ID, { nullable: true })
  taskId?: string | null;

  @Field(() => ID, { nullable: true })
  agentId?: string | null;

  @Field(() => DateTimeScalar, { nullable: true })
  since?: Date | null;
}
