// What the dashboard shows, derived from one ConsoleDashboard answer, and how its numbers read.
// Pure: no DOM, so the tests format the API's own answer with these same functions and compare.
import { RequestStatus, type ConsoleDashboardQuery } from '../src/index.js';
import { humanize } from './dom.js';

type Answer = ConsoleDashboardQuery;
type Duration = Answer['last30Days']['firstResponseTime'];
type Money = { amount: string; currency: string };

/** The backlog's statuses, in the order a request moves through them (LIFECYCLE.md). */
export const OPEN_STATUSES = [
  RequestStatus.NEW,
  RequestStatus.TRIAGED,
  RequestStatus.IN_PROGRESS,
  RequestStatus.WAITING_ON_CUSTOMER,
  RequestStatus.PENDING_APPROVAL,
] as const;

/** Key of the "no team" bar: open requests no team holds (none while routing works). */
export const NO_TEAM = '';

export interface Count {
  key: string;
  label: string;
  count: number;
}

export interface DashboardFigures {
  /** The 30-day window of the service figures, as the server chose it. */
  window: { from: string; to: string };
  open: number;
  byStatus: Count[];
  /** Every team (the selected one too when scoped), most open first. */
  byTeam: Count[];
  aging: Count[];
  disputedAmountOpen: Money[];
  createdCount: number;
  resolvedCount: number;
  breachedInWindow: number;
  slaCompliance: number | null;
  firstResponse: Duration;
  resolution: Duration;
  adjustmentsPosted: Money[];
}

export function figuresOf(answer: Answer, teamId: string | null): DashboardFigures {
  const { backlog, last30Days: window } = answer;
  const statusCount = new Map(backlog.byStatus.map((c) => [c.key, c.count]));
  const byTeam: Count[] = answer.teams
    .map((t) => ({ key: t.id, label: t.name, count: t.openRequests }))
    .sort((a, b) => b.count - a.count || a.label.localeCompare(b.label));
  const held = byTeam.reduce((sum, t) => sum + t.count, 0);
  if (teamId === null && backlog.openCount > held) {
    byTeam.push({ key: NO_TEAM, label: 'No team', count: backlog.openCount - held });
  }
  return {
    window: { from: window.from, to: window.to },
    open: backlog.openCount,
    byStatus: OPEN_STATUSES.map((s) => ({ key: s, label: humanize(s), count: statusCount.get(s) ?? 0 })),
    byTeam,
    aging: backlog.backlogAging.map((b) => ({ key: b.label, label: agingLabel(b.label), count: b.count })),
    disputedAmountOpen: backlog.disputedAmountOpen,
    createdCount: window.createdCount,
    resolvedCount: window.resolvedCount,
    breachedInWindow: window.breachedCount,
    slaCompliance: window.slaCompliance,
    firstResponse: window.firstResponseTime,
    resolution: window.resolutionTime,
    adjustmentsPosted: window.adjustmentsPosted,
  };
}

/** `0-1d` -> `under 1 day`, `7d+` -> `7 days +`. */
function agingLabel(label: string): string {
  const range = /^(\d+)-(\d+)d$/.exec(label);
  if (range) return range[1] === '0' ? `< ${range[2]} day${range[2] === '1' ? '' : 's'}` : `${range[1]}–${range[2]} days`;
  const open = /^(\d+)d\+$/.exec(label);
  return open ? `${open[1]}+ days` : label;
}

/** `0.8571` -> `85.7%`; null (nothing was due) -> `–`. */
export function formatPercent(ratio: number | null, locale?: string): string {
  if (ratio === null) return '–';
  return new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1, minimumFractionDigits: 1 }).format(ratio);
}

/** A duration for people: `45s`, `12m`, `2h 17m`, `3d 04h`; null -> `–`. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '–';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d ${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
}

/** `{amount: "3913.70", currency: "GBP"}` -> `GBP 3,913.70`, from the decimal string (never a float). */
export function formatMoney(money: Money, locale?: string): string {
  return new Intl.NumberFormat(locale, { style: 'currency', currency: money.currency, currencyDisplay: 'code' })
    .format(money.amount as Intl.StringNumericLiteral);
}

export function formatCount(count: number, locale?: string): string {
  return new Intl.NumberFormat(locale).format(count);
}
