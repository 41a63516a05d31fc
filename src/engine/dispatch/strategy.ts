// How push dispatch meets the writes that make work ready, chosen once where the server is wired
// (from the store it opened) and installed by the Orchestrator. Nothing else in the engine asks
// which store it runs on.
import type { Writer } from '../writer';
import type { LeaseAtStart, PushDispatcher } from './push-dispatcher';

/** What a strategy connects: the writer's last step before commit, the start's write, push dispatch. */
export interface DispatchParts {
  writer: Pick<Writer, 'beforeCommit'>;
  starts: { onReadyAtStart(hook: LeaseAtStart): void };
  push: Pick<PushDispatcher, 'claimInTransaction' | 'leaseAtStart'>;
}

export interface DispatchStrategy {
  readonly name: string;
  install(parts: DispatchParts): void;
}

/**
 * For a store with one connection (PGlite), where transactions run one at a time: a subscriber's
 * own claim would wait behind every write queued before it (under load, most of its latency). So
 * a transaction that makes work ready claims it for subscribers with nothing to send before it
 * commits, and a start writes the ready tasks they take already leased (one row version instead
 * of an insert and a claim's update).
 */
export const claimInWrites: DispatchStrategy = {
  name: 'claim-in-writes',
  install({ writer, starts, push }) {
    writer.beforeCommit((tx, changes) => push.claimInTransaction(tx, changes));
    starts.onReadyAtStart((tx, changes, ready) => push.leaseAtStart(tx, changes, ready));
  },
};

/**
 * For a pool of connections (PostgreSQL): a subscriber's claim runs beside other writes, and
 * claiming inside them would only add lock waits to them. Subscribers claim for themselves, in
 * transactions of their own, when woken.
 */
export const claimInOwnTransactions: DispatchStrategy = {
  name: 'claim-in-own-transactions',
  install() {},
};
