// Size limit for user-supplied JSON values, checked before anything is written.
import { invalid } from '../domain/errors';

export function checkJsonSize(value: unknown, maxBytes: number, field: string): void {
  if (value == null) return;
  const bytes = Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
  if (bytes > maxBytes) throw invalid(`${field} is ${bytes} bytes of JSON; the limit is ${maxBytes}`, { field });
}
