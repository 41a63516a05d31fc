import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { AgentCounts } from './agent.type';
import { HealthStatus } from './enums';
import { ErrorSummary } from './error-record.type';
import { QualitySummary } from './quality.type';
import { DateTimeScalar } from './scalars';

@ObjectType()
export class HealthComponent {
  @Field()
  name!: string;

  @Field(() => Int)
  score!: number;

  @Field(() => HealthStatus)
  status!: HealthStatus;

  @Field(() => String, { nullable: true })
  detail!: string | null;
}

@ObjectType()
export class QueueStats {
  @Field(() => Int)
  queued!: number;

  @Field(() => Int)
  running!: number;

  @Field(() => Int, { nullable: true })
  oldestQueuedAgeMs!: number | null;
}

@ObjectType()
export class HealthReport {
  @Field(() => Int, { description: '0..100.' })
  score!: number;

  @Field(() => HealthStatus)
  status!: HealthStatus;

  @Field(() => DateTimeScalar)
  generatedAt!: Date;

  @Field(() => QualitySummary)
  quality!: QualitySummary;

  @Field(() => [HealthComponent], { description: 'quality, errors, agents, queue, storage.' })
  components!: HealthComponent[];

  @Field(() => AgentCounts)
  agents!: AgentCounts;

  @Field(() => QueueStats)
  queue!: QueueStats;

  @Field(() => ErrorSummary, { description: 'Errors inside the recent window that the errors component scores.' })
  errors!: ErrorSummary;
}

@ObjectType()
export class OrchestratorStatus {
  @Field(() => ID)
  instanceId!: string;

  @Field()
  version!: string;

  @Field(() => HealthStatus)
  status!: HealthStatus;

  @Field(() => Int)
  healthScore!: number;

  @Field(() => Float)
  uptimeSeconds!: number;

  @Field(() => Int)
  agents!: number;

  @Field(() => Int)
  runningWorkflows!: number;

  @Field(() => Int)
  queuedTasks!: number;

  @Field(() => Int)
  runningTasks!: number;
}
