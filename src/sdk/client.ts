// The operator-side client: start, read, cancel and watch workflows through the public API.
// Typed by graphql-codegen from schema/schema.graphql (src/sdk/generated).
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { GraphQLRequestError } from './errors';
import {
  AvailableAgentsDocument,
  CancelWorkflowDocument,
  GetWorkflowDocument,
  HealthDocument,
  ListWorkflowsDocument,
  type ListWorkflowsQueryVariables,
  type StartWorkflowInput,
  StartWorkflowDocument,
  StatusDocument,
  WatchWorkflowStatusDocument,
  WatchWorkflowTasksDocument,
} from './generated/graphql';
import { WorkflowWatch, type WorkflowWatchEvent } from './watch';

export interface ClientOptions {
  /** http(s)://host:port/graphql; the WebSocket URL is derived from it. */
  url: string;
  /** Extra headers on every HTTP request. */
  headers?: Record<string, string>;
}

export type { WorkflowWatchEvent } from './watch';

/** While watching, the workflow is also re-read this often, so a missed event never hangs a watch. */
const WATCH_RECHECK_MS = 2000;

export class OrchestratorClient {
  private ws: Client | null = null;

  constructor(private readonly options: ClientOptions) {}

  get url(): string {
    return this.options.url;
  }

  get wsUrl(): string {
    return this.options.url.replace(/^http/, 'ws');
  }

  async request<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables?: V, signal?: AbortSignal): Promise<R> {
    let res: Response;
    try {
      res = await fetch(this.options.url, {
        signal,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...this.options.headers,
        },
        body: JSON.stringify({ query: print(document), variables }),
      });
    } catch (e) {
      throw new GraphQLRequestError(`cannot reach ${this.options.url}: ${(e as Error).cause ?? (e as Error).message}`, [], 0);
    }
    let body: { data?: R | null; errors?: GraphQLRequestError['errors'] };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      throw new GraphQLRequestError(`unreadable response (HTTP ${res.status})`, [], res.status);
    }
    if (body.errors?.length) throw new GraphQLRequestError(body.errors.map((e) => e.message).join('; '), body.errors, res.status);
    if (!body.data) throw new GraphQLRequestError(`empty response (HTTP ${res.status})`, [], res.status);
    return body.data;
  }

  /** The WebSocket client, created on first use; it reconnects with backoff when the server goes away. */
  socket(): Client {
    this.ws ??= createClient({
      url: this.wsUrl,
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: Number.MAX_SAFE_INTEGER,
      shouldRetry: () => true,
      retryWait: async (retries) => new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** retries) * (0.5 + Math.random() / 2))),
    });
    return this.ws;
  }

  /** Results of a subscription, as an async iterator (return() unsubscribes). */
  subscribe<R, V extends Record<string, unknown>>(document: TypedDocumentNode<R, V>, variables: V): AsyncIterableIterator<R> {
    const results = this.socket().iterate<R>({ query: print(document), variables });
    const iterator: AsyncIterableIterator<R> = {
      next: async () => {
        const r = await results.next();
        if (r.done) return { done: true, value: undefined };
        if (r.value.errors?.length) {
          throw new GraphQLRequestError(r.value.errors.map((e) => e.message).join('; '), [...r.value.errors], 200);
        }
        return { done: false, value: r.value.data as R };
      },
      return: async () => {
        await results.return?.();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  startWorkflow(input: StartWorkflowInput) {
    return this.request(StartWorkflowDocument, { input }).then((d) => d.startWorkflow);
  }

  getWorkflow(id: string) {
    return this.request(GetWorkflowDocument, { id }).then((d) => d.workflow);
  }

  cancelWorkflow(id: string, reason?: string) {
    return this.request(CancelWorkflowDocument, { id, reason }).then((d) => d.cancelWorkflow);
  }

  listWorkflows(variables: ListWorkflowsQueryVariables = {}) {
    return this.request(ListWorkflowsDocument, variables).then((d) => d.workflows);
  }

  status() {
    return this.request(StatusDocument).then((d) => d.status);
  }

  health() {
    return this.request(HealthDocument).then((d) => d.health);
  }

  /**
   * Which of these capabilities no agent can take new work for now: none ONLINE or BUSY offers
   * it (DRAINING and OFFLINE agents are given nothing), as the health report counts availability.
   */
  async unavailableCapabilities(capabilities: readonly string[]): Promise<string[]> {
    const { agents } = await this.request(AvailableAgentsDocument, {});
    const offered = new Set(agents.flatMap((a) => a.capabilities));
    return [...new Set(capabilities)].filter((c) => !offered.has(c));
  }

  /**
   * Workflow and task events of one workflow, from a snapshot of it as it is now (also when it
   * started, or finished, before the watch), then as they happen, never a state after a newer one;
   * ends after the workflow's finish, its last event. See WorkflowWatch.
   */
  watchWorkflow(id: string): AsyncIterableIterator<WorkflowWatchEvent> {
    // Subscribed before the first read, so what the read does not show yet is heard.
    const workflowEvents = this.subscribe(WatchWorkflowStatusDocument, { workflowId: id });
    const taskEvents = this.subscribe(WatchWorkflowTasksDocument, { workflowId: id });
    return new WorkflowWatch(
      id,
      {
        workflowEvents,
        taskEvents,
        read: () => this.getWorkflow(id),
        readBehindSubscriptions: async () => {
          const read = this.subscribe(GetWorkflowDocument, { id });
          try {
            return (await read.next()).value?.workflow ?? null;
          } finally {
            await read.return?.();
          }
        },
      },
      WATCH_RECHECK_MS,
    );
  }

  /** Closes the WebSocket, if one was opened. */
  async close(): Promise<void> {
    await this.ws?.dispose();
    this.ws = null;
  }
}
