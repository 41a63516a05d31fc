// Terminal output for the CLI: tables, durations and colours (none when stdout is not a TTY).
import Table from 'cli-table3';
import pc from 'picocolors';

export const tty = Boolean(process.stdout.isTTY);
const colors = pc.createColors(tty && !process.env.NO_COLOR);

export function statusColor(status: string): string {
  if (['COMPLETED', 'HEALTHY', 'ONLINE', 'SUCCESS'].includes(status)) return colors.green(status);
  if (['PARTIAL', 'DEGRADED', 'BUSY', 'DRAINING', 'RUNNING', 'QUEUED', 'PENDING'].includes(status)) return colors.yellow(status);
  if (['FAILED', 'CRITICAL', 'CANCELLED', 'OFFLINE', 'FAILURE', 'SKIPPED'].includes(status)) return colors.red(status);
  return status;
}

export const bold = (s: string) => colors.bold(s);
export const dim = (s: string) => colors.dim(s);

export function table(head: string[], rows: (string | number | null | undefined)[][]): string {
  const t = new Table({
    head: head.map((h) => bold(h)),
    style: { head: [], border: [] },
    chars: tty ? {} : { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ' },
  });
  for (const r of rows) t.push(r.map((c) => (c == null ? '' : String(c))));
  return t.toString();
}

export function duration(from: string | null | undefined, to: string | null | undefined): string {
  if (!from) return '';
  const ms = (to ? new Date(to).getTime() : Date.now()) - new Date(from).getTime();
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms % 60_000) / 1000)} s`;
}
