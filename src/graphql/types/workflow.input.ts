import { Field, ID, InputType, Int } from 'type-graphql';
import { TaskOutcome, TaskStatus, WorkflowStatus } from './enums';
import { JSONScalar } from './scalars';

@InputType({
  description:
    'One step of a workflow. Inside `input`, an object {"$from": "steps.KEY.output.a.b"} or\n' +
    '{"$from": "workflow.input.a"} is replaced by that value when the step becomes ready.',
})
export class StepInput {
  @Field()
  key!: string;

  @Field()
  capability!: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => JSONScalar, { nullable: true })
  input?: unknown;

  @Field(() => [String], { nullable: true, defaultValue: [] })
  dependsOn?: string[] | null;

  @Field(() => Int, { nullable: true, defaultValue: 1 })
  maxAttempts?: number | null;

  @Field(() => Int, { nullable: true, defaultValue: 1000, description: 'Delay before retry n is retryBackoffMs * 2^(n-1).' })
  retryBackoffMs?: number | null;

  @Field(() => Int, { nullable: true })
  timeoutMs?: number | null;

  @Field(() => Int, { nullable: true, defaultValue: 0 })
  priority?: number | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: false,
    description: 'When this step fails, its dependants still run and the workflow ends PARTIAL.',
  })
  continueOnFailure?: boolean | null;
}

@InputType()
export class StartWorkflowInput {
  @Field()
  name!: string;

  @Field(() => JSONScalar, { nullable: true })
  input?: unknown;

  @Field(() => [StepInput])
  steps!: StepInput[];

  @Field(() => String, { nullable: true, description: 'A second start with the same key returns the first workflow.' })
  idempotencyKey?: string | null;
}

@InputType()
export class TaskFilter {
  @Field(() => ID, { nullable: true })
  workflowId?: string | null;

  @Field(() => [TaskStatus], { nullable: true })
  statuses?: TaskStatus[] | null;

  @Field(() => String, { nullable: true })
  capability?: string | null;

  @Field(() => ID, { nullable: true })
  agentId?: string | null;
}

@InputType()
export class WorkflowFilter {
  @Field(() => [WorkflowStatus], { nullable: true })
  statuses?: WorkflowStatus[] | null;

  @Field(() => String, { nullable: true })
  name?: string | null;
}

@InputType({ description: 'One result for completeTasks: what completeTask takes, for one lease.' })
export class TaskResultInput {
  @Field(() => ID)
  leaseId!: string;

  @Field(() => JSONScalar, { nullable: true })
  output?: unknown;

  @Field(() => TaskOutcome, { nullable: true, defaultValue: TaskOutcome.SUCCESS })
  outcome?: TaskOutcome | null;
}
