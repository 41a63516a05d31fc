import { Field, ID, Int, ObjectType } from 'type-graphql';
import { AgentKind, AgentStatus } from './enums';
import { QualitySummary } from './quality.type';
import { DateTimeScalar, JSONScalar } from './scalars';

@ObjectType()
export class Agent {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field(() => AgentKind)
  kind!: AgentKind;

  @Field(() => [String])
  capabilities!: string[];

  @Field(() => AgentStatus)
  status!: AgentStatus;

  @Field(() => Int, { description: 'How many tasks it may run at once.' })
  concurrency!: number;

  @Field(() => Int)
  runningTasks!: number;

  @Field(() => JSONScalar, { nullable: true })
  metadata!: unknown;

  @Field(() => DateTimeScalar)
  registeredAt!: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  lastSeenAt!: Date | null;

  // Resolved by AgentResolver.quality.
  @Field(() => QualitySummary)
  quality?: QualitySummary;
}

@ObjectType()
export class AgentRegistration {
  @Field(() => Agent)
  agent!: Agent;

  @Field(() => String, {
    nullable: true,
    description:
      'Secret the agent presents on later calls when authentication is on; shown once. ' +
      'Present it in RegisterAgentInput.token to re-attach to this agent by name.',
  })
  token!: string | null;
}

@ObjectType()
export class AgentCounts {
  @Field(() => Int)
  total!: number;

  @Field(() => Int)
  online!: number;

  @Field(() => Int)
  busy!: number;

  @Field(() => Int)
  draining!: number;

  @Field(() => Int)
  offline!: number;
}
