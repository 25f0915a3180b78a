// The dashboard's pure parts, without a browser: when it re-reads, how alerts move its SLA
// counters, and how its figures read.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  NO_TEAM,
  OPEN_STATUSES,
  figuresOf,
  formatDuration,
  formatMoney,
  formatPercent,
} from '../../console/dashboard-figures.js';
import { DASHBOARD_TIMING, RefreshScheduler } from '../../console/refresh.js';
import { SlaCounters, type SlaSnapshot } from '../../console/sla-counters.js';
import { RequestEventKind, type ConsoleDashboardQuery } from '../../src/index.js';

describe('RefreshScheduler', () => {
  let starts: number[];
  let scheduler: RefreshScheduler;
  let refreshMs: number;

  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
    starts = [];
    refreshMs = 200;
    scheduler = new RefreshScheduler(async () => {
      starts.push(Date.now());
      await new Promise((r) => setTimeout(r, refreshMs));
    });
  });

  afterEach(() => {
    scheduler.stop();
    vi.useRealTimers();
  });

  it('reads at once when started, then once a minute without events', async () => {
    scheduler.start();
    await vi.advanceTimersByTimeAsync(130_000);
    expect(starts).toEqual([0, 60_000, 120_000]);
  });

  it('reads once a burst of events has settled, as one read', async () => {
    scheduler.start();
    await vi.advanceTimersByTimeAsync(20_000);
    for (let i = 0; i < 5; i += 1) {
      scheduler.changed();
      await vi.advanceTimersByTimeAsync(100);
    }
    await vi.advanceTimersByTimeAsync(5_000);
    // Last event at 20,400 ms, quiet for 1 s.
    expect(starts).toEqual([0, 21_400]);
  });

  it('never reads twice within 10 s, however many events arrive', async () => {
    scheduler.start();
    for (let t = 0; t < 55_000; t += 50) {
      scheduler.changed();
      await vi.advanceTimersByTimeAsync(50);
    }
    const gaps = starts.slice(1).map((t, i) => t - starts[i]!);
    expect(gaps.every((gap) => gap >= DASHBOARD_TIMING.minGapMs)).toBe(true);
    // ...and a steady stream still refreshes, every 10 s.
    expect(starts).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000]);
  });

  it('an event just after a read waits for the 10 s gap', async () => {
    scheduler.start();
    await vi.advanceTimersByTimeAsync(2_000);
    scheduler.changed();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(starts).toEqual([0, 10_000]);
  });

  it('runs one read at a time; events during a slow read are read after it', async () => {
    refreshMs = 15_000;
    scheduler.start();
    await vi.advanceTimersByTimeAsync(3_000);
    scheduler.changed();
    await vi.advanceTimersByTimeAsync(20_000);
    // The first read ends at 15 s; the change it may have missed (quiet since 3 s) is read right after.
    expect(starts).toHaveLength(2);
    expect(starts[1]! - 15_000).toBeGreaterThanOrEqual(0);
    expect(starts[1]! - 15_000).toBeLessThanOrEqual(1);
  });

  it('stops reading when stopped', async () => {
    scheduler.start();
    scheduler.changed();
    scheduler.stop();
    await vi.advanceTimersByTimeAsync(300_000);
    expect(starts).toEqual([0]);
  });
});

describe('SlaCounters', () => {
  const snapshot = (atRisk: string[], breached: string[], extra = { atRisk: 0, breached: 0 }): SlaSnapshot => ({
    atRisk: { totalCount: atRisk.length + extra.atRisk, nodes: atRisk.map((id) => ({ id })) },
    breached: { totalCount: breached.length + extra.breached, nodes: breached.map((id) => ({ id })) },
  });
  const atRisk = (id: string) => ({ kind: RequestEventKind.SLA_AT_RISK, serviceRequest: { id } });
  const breached = (id: string) => ({ kind: RequestEventKind.SLA_BREACHED, serviceRequest: { id } });

  it('counts each request once: a second alert or a replay changes nothing', () => {
    const counters = new SlaCounters();
    counters.reset(snapshot(['a'], ['b']), counters.mark());
    expect([counters.atRiskCount, counters.breachedCount]).toEqual([1, 1]);
    expect(counters.apply(atRisk('c'))).toBe(true);
    expect(counters.apply(atRisk('c'))).toBe(false); // the other target's at-risk alert
    expect(counters.apply(atRisk('b'))).toBe(false); // already breached
    expect(counters.apply(breached('b'))).toBe(false);
    expect([counters.atRiskCount, counters.breachedCount]).toEqual([2, 1]);
  });

  it('moves a breached request from at risk to breached', () => {
    const counters = new SlaCounters();
    counters.reset(snapshot(['a'], []), counters.mark());
    expect(counters.apply(breached('a'))).toBe(true);
    expect([counters.atRiskCount, counters.breachedCount]).toEqual([0, 1]);
  });

  it('re-applies alerts that arrived while a read was in flight, and only those', () => {
    const counters = new SlaCounters();
    counters.apply(atRisk('old')); // before the read: its answer has it (or it was resolved since)
    const mark = counters.mark();
    counters.apply(atRisk('x')); // during the read: its answer may or may not have it
    counters.apply(breached('y'));
    counters.reset(snapshot(['x'], []), mark);
    expect([counters.atRiskCount, counters.breachedCount]).toEqual([1, 1]);
    // The next read starts after them: they are not applied again.
    counters.reset(snapshot([], []), counters.mark());
    expect([counters.atRiskCount, counters.breachedCount]).toEqual([0, 0]);
  });

  it('keeps the totals the server counted beyond the page of ids', () => {
    const counters = new SlaCounters();
    counters.reset(snapshot(['a'], ['b'], { atRisk: 150, breached: 300 }), counters.mark());
    expect([counters.atRiskCount, counters.breachedCount]).toEqual([151, 301]);
    counters.apply(breached('a'));
    expect([counters.atRiskCount, counters.breachedCount]).toEqual([150, 302]);
  });
});

describe('dashboard figures', () => {
  const stats = { count: 0, averageSeconds: null, p50Seconds: null, p90Seconds: null };
  const answer: ConsoleDashboardQuery = {
    backlog: {
      to: '2026-11-30T12:00:00Z',
      openCount: 9,
      byStatus: [
        { key: 'CLOSED', count: 40 },
        { key: 'TRIAGED', count: 3 },
        { key: 'NEW', count: 4 },
        { key: 'PENDING_APPROVAL', count: 2 },
      ],
      backlogAging: [
        { label: '0-1d', count: 5 },
        { label: '1-3d', count: 1 },
        { label: '3-7d', count: 1 },
        { label: '7d+', count: 2 },
      ],
      disputedAmountOpen: [],
    },
    last30Days: {
      from: '2026-10-31T12:00:00Z',
      to: '2026-11-30T12:00:00Z',
      createdCount: 20,
      resolvedCount: 11,
      breachedCount: 2,
      slaCompliance: null,
      firstResponseTime: stats,
      resolutionTime: stats,
      adjustmentsPosted: [],
    },
    teams: [
      { id: 'T1', name: 'Billing', openRequests: 3 },
      { id: 'T2', name: 'Credit', openRequests: 5 },
    ],
    atRisk: { totalCount: 0, nodes: [] },
    breached: { totalCount: 0, nodes: [] },
  };

  it('lists the open statuses in lifecycle order, zero where none', () => {
    expect(figuresOf(answer, null).byStatus.map((c) => [c.key, c.count])).toEqual([
      ['NEW', 4],
      ['TRIAGED', 3],
      ['IN_PROGRESS', 0],
      ['WAITING_ON_CUSTOMER', 0],
      ['PENDING_APPROVAL', 2],
    ]);
    expect(OPEN_STATUSES).toHaveLength(5);
  });

  it('ranks teams by backlog and shows what no team holds, for every team only', () => {
    expect(figuresOf(answer, null).byTeam.map((c) => [c.key, c.count])).toEqual([
      ['T2', 5],
      ['T1', 3],
      [NO_TEAM, 1],
    ]);
    expect(figuresOf(answer, 'T1').byTeam.map((c) => c.key)).toEqual(['T2', 'T1']);
  });

  it('names the age buckets for people', () => {
    expect(figuresOf(answer, null).aging.map((c) => c.label)).toEqual(['< 1 day', '1–3 days', '3–7 days', '7+ days']);
  });

  it('formats durations, shares and money', () => {
    expect([null, 42.4, 59.6, 725, 8246.02, 86_399, 90_061].map(formatDuration)).toEqual([
      '–',
      '42s',
      '1m',
      '12m',
      '2h 17m',
      '23h 59m',
      '1d 01h',
    ]);
    expect(formatPercent(0.7142857, 'en-US')).toBe('71.4%');
    expect(formatPercent(1, 'en-US')).toBe('100.0%');
    expect(formatPercent(null, 'en-US')).toBe('–');
    // From the decimal string: no float ever rounds a cent away.
    expect(formatMoney({ amount: '12345678901234.57', currency: 'EUR' }, 'en-US')).toBe('EUR\u00a012,345,678,901,234.57');
    expect(formatMoney({ amount: '-0.10', currency: 'GBP' }, 'en-US')).toBe('-GBP\u00a00.10');
  });
});
