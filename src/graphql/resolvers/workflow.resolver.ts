import { Arg, Ctx, FieldResolver, Float, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { TaskStatus as TaskStatusValue } from '../../domain/enums';
import type { Task as TaskModel, TaskLease as TaskLeaseModel, Workflow as WorkflowModel } from '../../domain/workflow';
import type { EventOf } from '../../engine/orchestrator';
import { DomainError } from '../../domain/errors';
import type { GraphQLContext } from '../context';
import { ERROR_CODE } from '../errors';
import { Agent } from '../types/agent.type';
import { TaskOutcome, TaskStatus } from '../types/enums';
import { ErrorRecordInput } from '../types/error-record.input';
import { ErrorRecord } from '../types/error-record.type';
import { QualitySummary } from '../types/quality.type';
import { JSONScalar } from '../types/scalars';
import { StartWorkflowInput, TaskFilter, TaskResultInput, WorkflowFilter } from '../types/workflow.input';
import {
  Task,
  TaskConnection,
  TaskEvent,
  TaskLease,
  TaskResult,
  Workflow,
  WorkflowConnection,
  WorkflowEvent,
  WorkflowProgress,
} from '../types/workflow.type';

/** As many leases as one claim or one completeTasks can carry. */

@Resolver(() => Workflow)
export class WorkflowResolver {
  @Query(() => Workflow, { nullable: true })
  workflow(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.workflow.load(id);
  }

  @Query(() => WorkflowConnection, { description: 'Newest first.' })
  workflows(
    @Arg('filter', () => WorkflowFilter, { nullable: true }) filter: WorkflowFilter | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.orchestrator.workflows.listWorkflows(filter ?? {}, first, after);
  }

  @FieldResolver(() => JSONScalar, { nullable: true })
  output(@Root() w: WorkflowModel, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.workflowOutput.load(w.id);
  }

  @FieldResolver(() => [Task])
  tasks(@Root() w: WorkflowModel, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.workflowTasks.load(w.id);
  }

  @FieldResolver(() => Task, { nullable: true })
  async task(@Root() w: WorkflowModel, @Arg('key') key: string, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.workflowTasks.load(w.id)).find((t) => t.key === key) ?? null;
  }

  @FieldResolver(() => WorkflowProgress)
  progress(@Root() w: WorkflowModel, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.workflowProgress.load(w.id);
  }

  @FieldResolver(() => QualitySummary)
  quality(@Root() w: WorkflowModel, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.workflowQuality.load(w.id);
  }

  @FieldResolver(() => [ErrorRecord])
  errors(@Root() w: WorkflowModel, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.workflowErrors.load(w.id);
  }

  @Mutation(() => Workflow, {
    description:
      'Validates the steps (keys, dependsOn, cycles, $from, limits) and writes the workflow and its tasks ' +
      'in one transaction. A second start with the same idempotencyKey returns the first workflow.',
  })
  startWorkflow(@Arg('input', () => StartWorkflowInput) input: StartWorkflowInput, @Ctx() ctx: GraphQLContext) {
    return ctx.orchestrator.workflowControl.start(input);
  }

  @Mutation(() => Workflow, { description: 'Cancels every unfinished task; running leases become stale.' })
  cancelWorkflow(
    @Arg('id', () => ID) id: string,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.orchestrator.workflowControl.cancel(id, reason);
  }

  @Mutation(() => Workflow, { description: 'Queues again the FAILED, CANCELLED and SKIPPED tasks of a finished workflow.' })
  retryWorkflow(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.orchestrator.workflowControl.retry(id);
  }

  @Subscription(() => WorkflowEvent, {
    description: 'Every status change of workflows (or of one), after it is committed.',
    subscribe: ({ args, context }) =>
      (context as GraphQLContext).orchestrator.watch('workflow', (e: EventOf<'workflow'>) =>
        args.workflowId == null || e.workflow.id === args.workflowId ? e : undefined,
      ),
  })
  workflowUpdated(@Root() event: WorkflowEvent, @Arg('workflowId', () => ID, { nullable: true }) _workflowId?: string) {
    return event;
  }
}

@Resolver(() => Task)
export class TaskResolver {
  @Query(() => Task, { nullable: true })
  task(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.task.load(id);
  }

  @Query(() => TaskConnection, { description: 'In creation order.' })
  tasks(
    @Arg('filter', () => TaskFilter, { nullable: true }) filter: TaskFilter | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: 50 }) first: number | null,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.orchestrator.workflows.listTasks(filter ?? {}, first, after);
  }

  @FieldResolver(() => Workflow, { nullable: true })
  workflow(@Root() t: TaskModel, @Ctx() ctx: GraphQLContext) {
    return t.workflowId ? ctx.loaders.workflow.load(t.workflowId) : null;
  }

  @FieldResolver(() => Agent, { nullable: true })
  agent(@Root() t: TaskModel, @Ctx() ctx: GraphQLContext) {
    return t.agentId ? ctx.loaders.agent.load(t.agentId) : null;
  }

  @FieldResolver(() => [ErrorRecord])
  errors(@Root() t: TaskModel, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.taskErrors.load(t.id);
  }

  @Mutation(() => Task, { description: 'Cancels one unfinished task; its dependants are SKIPPED.' })
  cancelTask(
    @Arg('id', () => ID) id: string,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.orchestrator.workflowControl.cancelTask(id, reason);
  }

  @Mutation(() => [TaskLease], {
    description: 'Agent protocol: take up to `max` queued tasks this agent can run; waits up to waitMs for one.',
  })
  claimTasks(
    @Arg('agentId', () => ID) agentId: string,
    @Arg('max', () => Int, { nullable: true, defaultValue: 1 }) max: number | null,
    @Arg('waitMs', () => Int, { nullable: true, defaultValue: 0 }) waitMs: number | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.orchestrator.leases.claimWaiting(agentId, max ?? 1, waitMs ?? 0, ctx.signal);
  }

  @Mutation(() => TaskLease, { description: 'Extends the lease and records progress; refused with CONFLICT once the lease is stale.' })
  heartbeatTask(
    @Arg('leaseId', () => ID) leaseId: string,
    @Arg('progress', () => Float, { nullable: true }) progress: number | null,
    @Arg('message', () => String, { nullable: true }) message: string | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.orchestrator.leases.heartbeat(leaseId, progress, message);
  }

  @Mutation(() => Task, { description: 'Ends the lease with a result (SUCCESS or PARTIAL); a stale lease is CONFLICT.' })
  completeTask(
    @Arg('leaseId', () => ID) leaseId: string,
    // Free-form JSON is not a class to validate (literal objects even lack a prototype).
    @Arg('output', () => JSONScalar, { nullable: true, validate: false }) output: unknown,
    @Arg('outcome', () => TaskOutcome, { nullable: true, defaultValue: TaskOutcome.SUCCESS }) outcome: TaskOutcome | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.orchestrator.leases.complete(leaseId, output, outcome);
  }

  @Mutation(() => [TaskResult], {
    description:
      'Ends many leases with their results in one transaction (up to 500), answered in order. A stale or unknown ' +
      'lease refuses that result alone (its error says why); bad input (a FAILURE outcome, an output over the size ' +
      'limit) refuses the whole call and records nothing.',
  })
  async completeTasks(
    @Arg('results', () => [TaskResultInput], { validate: false }) results: TaskResultInput[],
    @Ctx() ctx: GraphQLContext,
  ): Promise<TaskResult[]> {
    const answers = await ctx.orchestrator.leases.completeMany(results.map((r) => ({ leaseId: r.leaseId, output: r.output ?? null, outcome: r.outcome })));
    return answers.map((a, i) => {
      const leaseId = results[i]?.leaseId as string;
      return a instanceof DomainError
        ? { leaseId, task: null, error: { code: ERROR_CODE[a.type], message: a.message } }
        : { leaseId, task: a as Task, error: null };
    });
  }

  @Mutation(() => Task, {
    description: 'Ends the lease with a failure; retried after its backoff while attempts remain and the error is retryable.',
  })
  failTask(
    @Arg('leaseId', () => ID) leaseId: string,
    @Arg('error', () => ErrorRecordInput) error: ErrorRecordInput,
    @Ctx() ctx: GraphQLContext,
  ) {
    return ctx.orchestrator.leases.fail(leaseId, error);
  }

  @Mutation(() => Boolean, {
    description:
      'Agent protocol: gives leases back unfinished (an agent stopping); their tasks are QUEUED again with the attempt ' +
      'unspent. A lease that is no longer current is left alone.',
  })
  async handBackTasks(@Arg('leaseIds', () => [ID]) leaseIds: string[], @Ctx() ctx: GraphQLContext) {
    await ctx.orchestrator.leases.giveBack(leaseIds);
    return true;
  }

  @Subscription(() => TaskEvent, {
    description: 'Every status change (and throttled progress) of tasks, filtered on the server, in order per task.',
    subscribe: ({ args, context }) => {
      const statuses = (args.statuses as TaskStatusValue[] | null | undefined) ?? null;
      return (context as GraphQLContext).orchestrator.watch('task', (e: EventOf<'task'>) =>
        (args.workflowId == null || e.task.workflowId === args.workflowId) &&
        (args.taskId == null || e.task.id === args.taskId) &&
        (args.agentId == null || e.task.agentId === args.agentId) &&
        (statuses == null || statuses.includes(e.task.status))
          ? e
          : undefined,
      );
    },
  })
  taskUpdated(
    @Root() event: TaskEvent,
    @Arg('workflowId', () => ID, { nullable: true }) _workflowId?: string,
    @Arg('taskId', () => ID, { nullable: true }) _taskId?: string,
    @Arg('statuses', () => [TaskStatus], { nullable: true }) _statuses?: TaskStatus[],
    // One agent's tasks: how an agent hears of its tasks' cancellations on one subscription.
    @Arg('agentId', () => ID, { nullable: true }) _agentId?: string,
  ) {
    return event;
  }

  @Subscription(() => TaskLease, {
    description: 'Push dispatch: leases for this agent as tasks are assigned to it, up to its concurrency.',
    subscribe: ({ args, context }) => (context as GraphQLContext).orchestrator.dispatcher.leasesFor(String(args.agentId)),
  })
  taskAssigned(@Root() lease: TaskLeaseModel, @Arg('agentId', () => ID) _agentId: string) {
    return lease;
  }
}
