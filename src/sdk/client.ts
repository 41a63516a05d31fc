// The operator-side client: start, read, cancel and watch workflows through the public API.
// Typed by graphql-codegen from schema/schema.graphql (src/sdk/generated).
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { GraphQLRequestError } from './errors';
import {
  CancelWorkflowDocument,
  GetWorkflowDocument,
  HealthDocument,
  ListWorkflowsDocument,
  type ListWorkflowsQueryVariables,
  type StartWorkflowInput,
  StartWorkflowDocument,
  StatusDocument,
  WatchWorkflowStatusDocument,
  type WatchWorkflowStatusSubscription,
  WatchWorkflowTasksDocument,
  type WatchWorkflowTasksSubscription,
} from './generated/graphql';

export interface ClientOptions {
  /** http(s)://host:port/graphql; the WebSocket URL is derived from it. */
  url: string;
  /** Extra headers on every HTTP request. */
  headers?: Record<string, string>;
}

export type WorkflowWatchEvent =
  | { kind: 'workflow'; event: WatchWorkflowStatusSubscription['workflowUpdated'] }
  | { kind: 'task'; event: WatchWorkflowTasksSubscription['taskUpdated'] };

const FINISHED = new Set(['COMPLETED', 'PARTIAL', 'FAILED', 'CANCELLED']);
/** While watching, the workflow is also re-read this often, so a missed event never hangs a watch. */
const WATCH_RECHECK_MS = 2000;
const FINISH_GRACE_MS = 250;

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
   * Workflow and task events of one workflow, as they happen, ending once the workflow has
   * finished. The first event is the workflow as it is now (previousStatus null).
   */
  watchWorkflow(id: string): AsyncIterableIterator<WorkflowWatchEvent> {
    const queue: WorkflowWatchEvent[] = [];
    let wake: (() => void) | null = null;
    let failure: unknown = null;
    let finished = false;
    let graceOver = false;
    let closed = false;
    const push = (e: WorkflowWatchEvent) => {
      queue.push(e);
      wake?.();
    };
    const workflowEvents = this.subscribe(WatchWorkflowStatusDocument, { workflowId: id });
    const taskEvents = this.subscribe(WatchWorkflowTasksDocument, { workflowId: id });
    const pump = async <R>(it: AsyncIterableIterator<R>, map: (r: R) => WorkflowWatchEvent) => {
      try {
        for await (const r of it) push(map(r));
      } catch (e) {
        failure ??= e;
        wake?.();
      }
    };
    void pump(workflowEvents, (r) => ({ kind: 'workflow', event: r.workflowUpdated }));
    void pump(taskEvents, (r) => ({ kind: 'task', event: r.taskUpdated }));

    let lastStatus: string | null = null;
    const snapshot = async () => {
      const w = await this.getWorkflow(id);
      if (!w) throw new GraphQLRequestError(`workflow ${id} not found`, [{ message: 'not found', extensions: { code: 'NOT_FOUND' } }], 200);
      if (w.status !== lastStatus) {
        push({ kind: 'workflow', event: { at: new Date().toISOString(), previousStatus: null, workflow: w } });
      }
    };
    const recheck = setInterval(() => void snapshot().catch(() => undefined), WATCH_RECHECK_MS);
    recheck.unref();
    const initial = snapshot().catch((e) => {
      failure ??= e;
      wake?.();
    });

    const close = async () => {
      if (closed) return;
      closed = true;
      clearInterval(recheck);
      await Promise.all([workflowEvents.return?.(), taskEvents.return?.()]);
    };

    const iterator: AsyncIterableIterator<WorkflowWatchEvent> = {
      next: async () => {
        await initial;
        for (;;) {
          const e = queue.shift();
          if (e) {
            if (e.kind === 'workflow') {
              lastStatus = e.event.workflow.status;
              if (FINISHED.has(lastStatus)) finished = true;
            }
            return { done: false, value: e };
          }
          if (failure) {
            await close();
            throw failure;
          }
          if (closed) return { done: true, value: undefined };
          if (finished) {
            // The workflow's last event can overtake its last task events (two subscriptions):
            // give stragglers a moment before ending.
            if (!graceOver) {
              await new Promise((r) => setTimeout(r, FINISH_GRACE_MS));
              graceOver = true;
              continue;
            }
            await close();
            return { done: true, value: undefined };
          }
          await new Promise<void>((r) => (wake = r));
          wake = null;
        }
      },
      return: async () => {
        await close();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Closes the WebSocket, if one was opened. */
  async close(): Promise<void> {
    await this.ws?.dispose();
    this.ws = null;
  }
}
