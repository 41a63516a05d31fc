// The orchestrator SDK (`orchestrator/sdk`): createAgent for remote agents, OrchestratorClient for
// operators and scripts, error classes for handlers, and the generated operation types.
export { type AgentOptions, createAgent, type Handler, type RemoteAgent, type TaskContext } from './agent';
export { type ClientOptions, OrchestratorClient, type WorkflowWatchEvent } from './client';
export { FatalError, GraphQLRequestError, RetryableError, TaskError, type TaskErrorOptions } from './errors';
export * from './generated/graphql';
