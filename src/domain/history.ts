// History: the append-only record of every state change.
import { HistoryEventType } from './enums';

export interface HistoryRefs {
  workflowId?: string | null;
  taskId?: string | null;
  agentId?: string | null;
}

export interface HistoryDraft extends HistoryRefs {
  type: HistoryEventType;
  data?: unknown;
}

export interface HistoryEvent {
  id: string;
  seq: string;
  type: HistoryEventType;
  at: Date;
  workflowId: string | null;
  taskId: string | null;
  agentId: string | null;
  data: unknown;
}
