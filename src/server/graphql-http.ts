// GraphQL over HTTP on Node's own request handler: the JSON body parser, then Apollo Server.
// Not express: its router, request and response wrappers and the ETag it hashes for every answer
// cost a measurable share of the server's time under a stream of small mutations, for nothing
// /graphql needs (figures in bench/README.md). Express still serves /healthz, /readyz, /metrics.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ApolloServer, type BaseContext, HeaderMap } from '@apollo/server';
import express from 'express';
import { type Logger, withRequestId } from '../support/logger';

export interface GraphQLHttpOptions<C extends BaseContext> {
  maxBodyBytes: number;
  /** The operation's context; `clientGone` makes (on first use) a signal that fires if the client hangs up first. */
  context(clientGone: () => AbortSignal): C;
  log: Logger;
}

/** True for the paths GraphQL answers on (as express matched them: any case, trailing slash). */
export function isGraphQLPath(url: string | undefined): boolean {
  const q = url?.indexOf('?') ?? -1;
  const path = (q < 0 ? url ?? '' : url!.slice(0, q)).toLowerCase();
  return path === '/graphql' || path === '/graphql/';
}

export function graphqlOverHttp<C extends BaseContext>(apollo: ApolloServer<C>, opts: GraphQLHttpOptions<C>) {
  const json = express.json({ limit: opts.maxBodyBytes, type: ['application/json', 'application/graphql-response+json'] });
  return (req: IncomingMessage & { body?: unknown }, res: ServerResponse): void => {
    json(req as never, res as never, (err?: unknown) => {
      if (err) return bodyError(err, res, opts.log);
      const requestId = requestIdOf(req);
      res.setHeader('x-request-id', requestId);
      withRequestId(requestId, () => answer(apollo, req, res, opts)).catch((e: unknown) => {
        opts.log.error('unhandled HTTP error', { err: e });
        if (res.headersSent) res.destroy();
        else sendJson(res, 500, 'Internal server error', 'INTERNAL_SERVER_ERROR');
      });
    });
  };
}

async function answer<C extends BaseContext>(
  apollo: ApolloServer<C>,
  req: IncomingMessage & { body?: unknown },
  res: ServerResponse,
  opts: GraphQLHttpOptions<C>,
): Promise<void> {
  const headers = new HeaderMap();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
  }
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const response = await apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: (req.method ?? 'GET').toUpperCase(), headers, search: q < 0 ? '' : url.slice(q), body: req.body },
    context: async () => opts.context(() => clientGone(res)),
  });
  for (const [key, value] of response.headers) res.setHeader(key, value);
  res.statusCode = response.status ?? 200;
  if (response.body.kind === 'complete') {
    res.end(response.body.string);
    return;
  }
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}

/**
 * The id every log line of this request carries, and the answer's x-request-id: the caller's own
 * (a proxy's, say) when it is a plain token, otherwise a new one.
 */
function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

/** A signal that fires when the connection closes before the answer was sent (a long-poll stops waiting). */
function clientGone(res: ServerResponse): AbortSignal {
  const gone = new AbortController();
  if (res.closed && !res.writableFinished) gone.abort();
  else res.once('close', () => !res.writableFinished && gone.abort());
  return gone.signal;
}

function sendJson(res: ServerResponse, status: number, message: string, code: string): void {
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Body parser failures answer JSON with the right status: 413 too large, 400 malformed, others as the parser says. */
function bodyError(err: unknown, res: ServerResponse, log: Logger): void {
  const e = err as { type?: string; status?: number; message?: string };
  if (e.type === 'entity.too.large') {
    sendJson(res, 413, 'request body is too large', 'PAYLOAD_TOO_LARGE');
  } else if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
    sendJson(res, 415, e.message ?? 'unsupported content encoding', 'UNSUPPORTED_MEDIA_TYPE');
  } else if (e.status && e.status >= 400 && e.status < 500) {
    sendJson(res, e.status, 'request body is not valid JSON', 'BAD_REQUEST');
  } else {
    log.error('unhandled HTTP error', { err });
    sendJson(res, 500, 'Internal server error', 'INTERNAL_SERVER_ERROR');
  }
}
