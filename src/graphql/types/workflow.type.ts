import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { Agent } from './agent.type';
import { connectionOf } from './connection';
import { TaskOutcome, TaskStatus, WorkflowStatus } from './enums';
import { ErrorRecord } from './error-record.type';
import { QualitySummary } from './quality.type';
import { DateTimeScalar, JSONScalar } from './scalars';

@ObjectType()
export class WorkflowProgress {
  @Field(() => Int)
  total!: number;

  @Field(() => Int)
  pending!: number;

  @Field(() => Int)
  queued!: number;

  @Field(() => Int)
  running!: number;

  @Field(() => Int)
  completed!: number;

  @Field(() => Int)
  failed!: number;

  @Field(() => Int)
  cancelled!: number;

  @Field(() => Int)
  skipped!: number;

  @Field(() => Float, { description: 'Finished tasks / total, 0..1.' })
  fraction!: number;
}

@ObjectType()
export class Task {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'Step key, unique within its workflow.' })
  key!: string;

  @Field()
  name!: string;

  @Field()
  capability!: string;

  @Field(() => TaskStatus)
  status!: TaskStatus;

  @Field(() => TaskOutcome, { nullable: true })
  outcome!: TaskOutcome | null;

  @Field(() => JSONScalar, { nullable: true })
  input!: unknown;

  @Field(() => JSONScalar, { nullable: true })
  output!: unknown;

  @Field(() => Float, { nullable: true, description: '0..1 as last reported by the agent.' })
  progress!: number | null;

  @Field(() => String, { nullable: true })
  progressMessage!: string | null;

  @Field(() => Int)
  attempt!: number;

  @Field(() => Int)
  maxAttempts!: number;

  @Field(() => Int, { nullable: true })
  timeoutMs!: number | null;

  @Field(() => Int)
  priority!: number;

  @Field(() => [String])
  dependsOn!: string[];

  @Field(() => ID, { nullable: true })
  workflowId!: string | null;

  // Resolved by TaskResolver.
  @Field(() => Workflow, { nullable: true })
  workflow?: Workflow | null;

  @Field(() => Agent, { nullable: true })
  agent?: Agent | null;

  @Field(() => [ErrorRecord])
  errors?: ErrorRecord[];

  @Field(() => DateTimeScalar)
  createdAt!: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  startedAt!: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  finishedAt!: Date | null;
}

@ObjectType()
export class Workflow {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field(() => WorkflowStatus)
  status!: WorkflowStatus;

  @Field(() => JSONScalar, { nullable: true })
  input!: unknown;

  @Field(() => JSONScalar, { nullable: true, description: 'Outputs of the tasks, keyed by step key.' })
  output!: unknown;

  @Field(() => String, { nullable: true })
  idempotencyKey!: string | null;

  // Resolved by WorkflowResolver.
  @Field(() => [Task])
  tasks?: Task[];

  @Field(() => WorkflowProgress)
  progress?: WorkflowProgress;

  @Field(() => QualitySummary)
  quality?: QualitySummary;

  @Field(() => [ErrorRecord])
  errors?: ErrorRecord[];

  @Field(() => DateTimeScalar)
  createdAt!: Date;

  @Field(() => DateTimeScalar, { nullable: true })
  startedAt!: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  finishedAt!: Date | null;
}

@ObjectType({ description: 'A claim on one task by one agent; its id fences completion: a stale lease is refused.' })
export class TaskLease {
  @Field(() => ID)
  id!: string;

  @Field(() => Task)
  task!: Task;

  @Field(() => ID)
  agentId!: string;

  @Field(() => Int)
  attempt!: number;

  @Field(() => DateTimeScalar)
  expiresAt!: Date;
}

@ObjectType({ description: 'Why one result of completeTasks was refused; the code is what completeTask would answer.' })
export class TaskResultError {
  @Field({ description: 'CONFLICT (the lease is stale or was given twice) or NOT_FOUND (no such lease).' })
  code!: string;

  @Field()
  message!: string;
}

@ObjectType({ description: 'The answer to one result of completeTasks: the completed task, or why it was refused.' })
export class TaskResult {
  @Field(() => ID)
  leaseId!: string;

  @Field(() => Task, { nullable: true })
  task!: Task | null;

  @Field(() => TaskResultError, { nullable: true })
  error!: TaskResultError | null;
}

@ObjectType()
export class TaskEvent {
  @Field(() => Task)
  task!: Task;

  @Field(() => TaskStatus, { nullable: true })
  previousStatus!: TaskStatus | null;

  @Field(() => DateTimeScalar)
  at!: Date;
}

@ObjectType()
export class WorkflowEvent {
  @Field(() => Workflow)
  workflow!: Workflow;

  @Field(() => WorkflowStatus, { nullable: true })
  previousStatus!: WorkflowStatus | null;

  @Field(() => DateTimeScalar)
  at!: Date;
}

export const WorkflowConnection = connectionOf('Workflow', Workflow, true);
export const TaskConnection = connectionOf('Task', Task, true);
