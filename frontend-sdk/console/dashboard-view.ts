// The dashboard's page: figure tiles, bar charts, the live alert feed. It only draws what it is
// given (dashboard.ts decides what and when). Every figure also sits in the DOM as text and as
// `data-value` (charts are canvases): for screen readers, and for the tests.
import { RequestEventKind, type ConsoleSlaAlertsSubscription } from '../src/index.js';
import { BarChart } from './charts.js';
import {
  formatCount,
  formatDuration,
  formatMoney,
  formatPercent,
  type Count,
  type DashboardFigures,
} from './dashboard-figures.js';
import { h, humanize } from './dom.js';

export type SlaAlert = ConsoleSlaAlertsSubscription['slaAlerts'];

const MAX_FEED = 8;
const STATUS_COLORS: Record<string, string> = {
  NEW: '#2457c5',
  TRIAGED: '#5b7fd6',
  IN_PROGRESS: '#137a3a',
  WAITING_ON_CUSTOMER: '#d08a16',
  PENDING_APPROVAL: '#8e4ec6',
};
const AGING_COLORS = ['#9cc3a8', '#e7c36b', '#e39a4f', '#c2452f'];
const TEAM_COLOR = '#2457c5';
const TEAM_MUTED = '#c9d5ee';
const P50_COLOR = '#2457c5';
const P90_COLOR = '#9db4e8';
const HOUR = 3600;

interface Tile {
  root: HTMLElement;
  value: HTMLElement;
  sub: HTMLElement;
}

export interface DashboardViewHandlers {
  scope(teamId: string | null): void;
  open(requestId: string): void;
}

function tile(testid: string, label: string, tone = '', live = false): Tile {
  const value = h('div', { class: 'kpi-value', 'aria-live': live ? 'polite' : null }, '–');
  const sub = h('div', { class: 'kpi-sub' });
  const root = h('div', { class: `kpi ${tone}`, 'data-testid': testid }, h('div', { class: 'kpi-label' }, label), value, sub);
  return { root, value, sub };
}

function chartPanel(testid: string, title: string, height: number): { panel: HTMLElement; canvas: HTMLCanvasElement; table: HTMLElement } {
  const canvas = h('canvas', { role: 'img', 'aria-label': title });
  const table = h('table', { class: 'sr-only', 'data-testid': testid });
  const panel = h('section', { class: 'panel' }, h('h3', {}, title), h('div', { class: 'chart', style: `height:${height}px` }, canvas), table);
  return { panel, canvas, table };
}

/** One bar per count, and the same counts as the chart's (visually hidden) table. */
function bars(target: { chart: BarChart; table: HTMLElement }, counts: Count[], color: string[]): void {
  target.chart.update(counts.map((c) => c.label), [{ label: 'Open', values: counts.map((c) => c.count), color }]);
  target.table.replaceChildren(
    ...counts.map((c) => h('tr', { 'data-key': c.key, 'data-count': c.count }, h('th', {}, c.label), h('td', {}, c.count))),
  );
}

function feedItem(alert: SlaAlert, open: () => void): HTMLElement {
  const request = alert.serviceRequest;
  const breached = alert.kind === RequestEventKind.SLA_BREACHED;
  const time = (instant: string): string => new Date(instant).toLocaleTimeString();
  return h(
    'li',
    {
      class: `feed-item ${breached ? 'feed-breached' : 'feed-at-risk'}`,
      'data-testid': 'live-alert',
      'data-kind': alert.kind,
      'data-number': request.number,
    },
    h('span', { class: 'chip' }, breached ? 'Breached' : 'At risk'),
    h('div', { class: 'feed-text' },
      h('div', {},
        h('button', { type: 'button', class: 'link', onclick: open }, request.number),
        ' ',
        h('span', { class: 'feed-subject' }, request.subject)),
      h('div', { class: 'muted' }, `${humanize(alert.target)} due ${time(alert.dueAt)}`)),
    h('time', { class: 'muted', datetime: alert.occurredAt }, time(alert.occurredAt)),
  );
}

export class DashboardView {
  private readonly scopeSelect: HTMLSelectElement;
  private readonly window: HTMLElement;
  private readonly updated: HTMLElement;
  private readonly live: HTMLElement;
  private readonly tiles: Record<'open' | 'atRisk' | 'breached' | 'compliance' | 'disputed' | 'adjustments', Tile>;
  private readonly byStatus: { chart: BarChart; table: HTMLElement };
  private readonly byTeam: { chart: BarChart; table: HTMLElement };
  private readonly aging: { chart: BarChart; table: HTMLElement };
  private readonly durations: BarChart;
  private readonly durationTable: HTMLElement;
  private readonly feed: HTMLElement;
  private readonly feedItems = new Map<string, HTMLElement>();

  constructor(root: HTMLElement, private readonly handlers: DashboardViewHandlers) {
    this.scopeSelect = h('select', { 'aria-label': 'Scope', 'data-testid': 'dashboard-scope' }, h('option', { value: '' }, 'All teams'));
    this.scopeSelect.addEventListener('change', () => handlers.scope(this.scopeSelect.value || null));
    this.window = h('span', { class: 'muted', 'data-testid': 'dashboard-window' });
    this.updated = h('span', { class: 'muted updated', 'data-testid': 'dashboard-updated' });
    this.live = h('span', { class: 'live', 'data-testid': 'dashboard-live' }, 'connecting…');
    this.tiles = {
      open: tile('kpi-open', 'Open backlog'),
      atRisk: tile('kpi-at-risk', 'At risk now', 'kpi-warn', true),
      breached: tile('kpi-breached', 'Breached, still open', 'kpi-bad', true),
      compliance: tile('kpi-compliance', 'SLA compliance · 30 days'),
      disputed: tile('kpi-disputed', 'Disputed amount open', 'kpi-money'),
      adjustments: tile('kpi-adjustments', 'Adjustments posted · 30 days', 'kpi-money'),
    };
    this.tiles.atRisk.sub.textContent = 'open requests past 80% of a target';
    this.tiles.breached.sub.textContent = 'open requests past a due time';

    const status = chartPanel('backlog-by-status', 'Backlog by status', 190);
    const team = chartPanel('backlog-by-team', 'Backlog by team', 190);
    const aging = chartPanel('backlog-aging', 'Backlog by age', 190);
    const count = (v: number): string => formatCount(v);
    this.byStatus = { chart: new BarChart(status.canvas, { horizontal: true, format: count }), table: status.table };
    this.byTeam = { chart: new BarChart(team.canvas, { horizontal: true, format: count }), table: team.table };
    this.aging = { chart: new BarChart(aging.canvas, { horizontal: false, format: count }), table: aging.table };

    const durationCanvas = h('canvas', { role: 'img', 'aria-label': 'First response and resolution times, last 30 days' });
    this.durations = new BarChart(durationCanvas, {
      horizontal: true,
      legend: true,
      format: (hours) => formatDuration(hours * HOUR),
      tick: (hours) => `${hours}h`,
    });
    this.durationTable = h('tbody');
    this.feed = h('ol', { class: 'feed', 'data-testid': 'live-alerts' });
    this.clearFeed();

    root.replaceChildren(
      h('div', { class: 'dash-head' },
        h('h2', {}, 'Supervisor dashboard'),
        h('label', { class: 'scope' }, 'Scope ', this.scopeSelect),
        this.window,
        h('span', { class: 'spacer' }),
        this.updated,
        this.live),
      h('div', { class: 'kpis' }, ...Object.values(this.tiles).map((t) => t.root)),
      h('div', { class: 'dash-grid' },
        status.panel,
        team.panel,
        aging.panel,
        h('section', { class: 'panel panel-wide' },
          h('h3', {}, 'Response times · last 30 days'),
          h('div', { class: 'durations' },
            h('div', { class: 'chart', style: 'height:170px' }, durationCanvas),
            h('table', { class: 'figures', 'data-testid': 'durations' },
              h('thead', {}, h('tr', {}, h('th', {}), h('th', {}, 'Requests'), h('th', {}, 'Median'), h('th', {}, '90th pct'), h('th', {}, 'Average'))),
              this.durationTable))),
        h('section', { class: 'panel' }, h('h3', {}, 'Live SLA alerts'), this.feed)),
    );
  }

  /** The scope picker's teams; keeps the selection. */
  setTeams(teams: ReadonlyArray<{ id: string; name: string }>, selected: string | null): void {
    const names = [...teams].sort((a, b) => a.name.localeCompare(b.name));
    // Rebuilt only when the teams changed: rebuilding closes the picker under the user's pointer.
    const signature = JSON.stringify(names.map((t) => [t.id, t.name]));
    if (signature !== this.scopeSelect.dataset['teams']) {
      this.scopeSelect.dataset['teams'] = signature;
      this.scopeSelect.replaceChildren(
        h('option', { value: '' }, 'All teams'),
        ...names.map((t) => h('option', { value: t.id }, t.name)),
      );
    }
    this.scopeSelect.value = selected ?? '';
  }

  figures(f: DashboardFigures, scope: string | null): void {
    const from = new Date(f.window.from);
    const to = new Date(f.window.to);
    const day = (d: Date): string => d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
    this.window.textContent = `30-day figures: ${day(from)} – ${day(to)}`;
    this.window.dataset['from'] = f.window.from;
    this.window.dataset['to'] = f.window.to;
    this.updated.textContent = `Updated ${to.toLocaleTimeString()}`;
    this.updated.classList.remove('failed');

    const count = (n: number): string => formatCount(n);
    this.set(this.tiles.open, f.open, count(f.open), `${count(f.createdCount)} created · ${count(f.resolvedCount)} resolved in 30 days`);
    const compliance = f.slaCompliance;
    this.set(this.tiles.compliance, compliance, formatPercent(compliance), compliance === null
      ? 'no resolution target fell due'
      : `${count(f.breachedInWindow)} of ${count(f.createdCount)} created breached a target`);
    this.tiles.compliance.root.style.setProperty('--meter', String(compliance ?? 0));
    this.money(this.tiles.disputed, f.disputedAmountOpen, 'open billing disputes', 'no open billing disputes');
    this.money(this.tiles.adjustments, f.adjustmentsPosted, 'credit memos and write-offs, net of debit memos', 'none posted in 30 days');

    bars(this.byStatus, f.byStatus, f.byStatus.map((c) => STATUS_COLORS[c.key] ?? TEAM_COLOR));
    // Scoped to one team: the others stay for comparison, muted.
    bars(this.byTeam, f.byTeam, f.byTeam.map((c) => (scope === null || c.key === scope ? TEAM_COLOR : TEAM_MUTED)));
    bars(this.aging, f.aging, AGING_COLORS.slice(0, f.aging.length));

    const rows = [
      { key: 'firstResponse', label: 'First response', stats: f.firstResponse },
      { key: 'resolution', label: 'Resolution', stats: f.resolution },
    ];
    const hours = (s: number | null): number => (s === null ? 0 : s / HOUR);
    this.durations.update(rows.map((r) => r.label), [
      { label: 'Median', values: rows.map((r) => hours(r.stats.p50Seconds)), color: P50_COLOR },
      { label: '90th percentile', values: rows.map((r) => hours(r.stats.p90Seconds)), color: P90_COLOR },
    ]);
    const cell = (testid: string, seconds: number | null): HTMLElement =>
      h('td', { 'data-testid': testid, 'data-value': seconds ?? '' }, formatDuration(seconds));
    this.durationTable.replaceChildren(...rows.map((r) => h('tr', { 'data-key': r.key },
      h('th', {}, r.label),
      h('td', { 'data-testid': `${r.key}-count`, 'data-value': r.stats.count }, formatCount(r.stats.count)),
      cell(`${r.key}-p50`, r.stats.p50Seconds),
      cell(`${r.key}-p90`, r.stats.p90Seconds),
      cell(`${r.key}-average`, r.stats.averageSeconds))));
  }

  counters(atRisk: number, breached: number): void {
    this.set(this.tiles.atRisk, atRisk, formatCount(atRisk));
    this.set(this.tiles.breached, breached, formatCount(breached));
    this.tiles.atRisk.root.classList.toggle('kpi-zero', atRisk === 0);
    this.tiles.breached.root.classList.toggle('kpi-zero', breached === 0);
  }

  /** Newest first; one line per request and target (a breach replaces its at-risk line). */
  alert(alert: SlaAlert): void {
    const request = alert.serviceRequest;
    const key = `${request.id}:${alert.target}`;
    this.feed.querySelector('.feed-empty')?.remove();
    this.feedItems.get(key)?.remove();
    const item = feedItem(alert, () => this.handlers.open(request.id));
    this.feedItems.set(key, item);
    this.feed.prepend(item);
    while (this.feedItems.size > MAX_FEED) {
      const [oldest] = this.feedItems.keys();
      if (oldest === undefined) break;
      this.feedItems.get(oldest)?.remove();
      this.feedItems.delete(oldest);
    }
  }

  clearFeed(): void {
    this.feedItems.clear();
    this.feed.replaceChildren(h('li', { class: 'feed-empty' },
      `No SLA alerts since ${new Date().toLocaleTimeString()}. At-risk and breach alerts of this scope appear here as they happen.`));
  }

  liveStatus(text: string, ok: boolean): void {
    this.live.textContent = text;
    this.live.classList.toggle('down', !ok);
  }

  failed(text: string): void {
    this.updated.textContent = text;
    this.updated.classList.add('failed');
  }

  private set(t: Tile, raw: unknown, text: string, sub?: string): void {
    t.root.dataset['value'] = raw === null ? '' : String(raw);
    t.value.textContent = text;
    if (sub !== undefined) t.sub.textContent = sub;
  }

  private money(t: Tile, amounts: ReadonlyArray<{ amount: string; currency: string }>, sub: string, none: string): void {
    t.root.dataset['value'] = JSON.stringify(amounts);
    t.value.replaceChildren(...(amounts.length ? amounts.map((m) => h('div', {}, formatMoney(m))) : ['–']));
    t.value.classList.toggle('kpi-value-list', amounts.length > 1);
    t.sub.textContent = amounts.length ? sub : none;
  }
}
