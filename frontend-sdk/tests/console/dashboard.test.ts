// The console's supervisor dashboard in headless Chromium against the live server of the global
// setup. What it shows is compared with what the API answers for the same window; changes made
// through the API while the page is open (an adjustment, an SLA breach by the real SLA engine)
// must reach it without a reload. Nothing depends on the day or the hour: the breach comes from a
// 24x7 policy of a few seconds, imported for the test and restored after it.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { randomUUID } from 'node:crypto';
import { parse } from 'graphql';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import {
  formatCount,
  formatDuration,
  formatMoney,
  formatPercent,
  OPEN_STATUSES,
} from '../../console/dashboard-figures.js';
import {
  AdjustmentKind,
  Channel,
  ConsoleAssignDocument,
  ConsoleCancelDocument,
  ConsoleDashboardDocument,
  ConsolePostAdjustmentDocument,
  ConsoleRequestDetailDocument,
  ConsoleStartWorkDocument,
  ConsoleTriageDocument,
  PortalCreateServiceRequestDocument,
  Priority,
  RequestType,
  assertNoUserErrors,
  type CasegraphClient,
} from '../../src/index.js';
import { identityWithRole, launchChromium, markDocument, openPage, sameDocument, signIn } from '../support/browser.js';
import { importMasterData } from '../support/cli.js';
import { adminClient, customerClient, live, sleep } from '../support/live.js';

const LOCALE = 'en-US';
const SCREENSHOT = resolve(import.meta.dirname, '..', '..', 'test-results', 'dashboard.png');
// The dashboard re-reads at most every 10 s after an event, so a change shows within ~11 s.
const REFRESH_MS = 15_000;
const DRILL_TEAM = 'SLA drill';
// 24x7, at risk 3 s before the due time (80 % of 15 s), breached at 15 s.
const DRILL_POLICY = { firstResponse: 'PT15S', resolution: 'PT1H' };
const SETTLE_MS = 1000;

let browser: Browser;
let context: BrowserContext | undefined;
let pageErrors: string[] = [];

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  await context?.close();
  context = undefined;
  const errors = pageErrors;
  pageErrors = [];
  expect(errors).toEqual([]);
});

async function dashboardPage(): Promise<Page> {
  const opened = await openPage(browser);
  context = opened.context;
  pageErrors = opened.errors;
  const page = opened.page;
  await signIn(page, await identityWithRole('SUPERVISOR'));
  await page.click('[data-testid=view-dashboard]');
  await waitLoaded(page);
  return page;
}

/** Wait for the dashboard's next completed read (after `since`, epoch ms). */
async function waitLoaded(page: Page, since = 0): Promise<void> {
  await page.waitForFunction((t) => Number(document.getElementById('dashboard')?.dataset['loadedAt'] ?? 0) > t, since, {
    timeout: REFRESH_MS,
  });
}

async function selectScope(page: Page, teamId: string | null): Promise<void> {
  const before = Date.now();
  await page.selectOption('[data-testid=dashboard-scope]', teamId ?? '');
  await waitLoaded(page, before);
}

const tileValue = (page: Page, testid: string): Promise<string | null> =>
  page.getAttribute(`[data-testid=${testid}]`, 'data-value');

/** Poll `read` until what the page shows equals what the API says, then assert it (with a diff). */
async function expectSettled<T>(read: () => Promise<{ shown: T; expected: T }>, ms = REFRESH_MS): Promise<void> {
  const deadline = Date.now() + ms;
  let last = await read();
  while (!isDeepStrictEqual(last.shown, last.expected) && Date.now() < deadline) {
    await sleep(500);
    last = await read();
  }
  expect(last.shown).toEqual(last.expected);
}

// --------------------------------------------------------------------------- what the page shows

interface Shown {
  window: { from: string; to: string };
  tiles: Record<string, { value: string | null; text: string }>;
  byStatus: Record<string, number>;
  byTeam: Record<string, number>;
  durations: Record<string, { value: string | null; text: string }>;
}

async function shown(page: Page): Promise<Shown> {
  return page.evaluate(() => {
    const q = (selector: string): HTMLElement => {
      const element = document.querySelector<HTMLElement>(selector);
      if (!element) throw new Error(`no ${selector}`);
      return element;
    };
    const tile = (id: string): { value: string | null; text: string } => {
      const element = q(`[data-testid=${id}]`);
      const lines = Array.from(element.querySelectorAll('.kpi-value > div')).map((d) => d.textContent ?? '');
      return { value: element.dataset['value'] ?? null, text: lines.length ? lines.join(' | ') : (q(`[data-testid=${id}] .kpi-value`).textContent ?? '') };
    };
    const table = (id: string): Record<string, number> =>
      Object.fromEntries(Array.from(document.querySelectorAll<HTMLElement>(`[data-testid=${id}] tr`)).map((r) => [r.dataset['key'] ?? '', Number(r.dataset['count'])]));
    const durations = Object.fromEntries(
      Array.from(document.querySelectorAll<HTMLElement>('[data-testid=durations] td[data-testid]')).map((c) => [
        c.dataset['testid'] ?? '',
        { value: c.dataset['value'] ?? null, text: c.textContent ?? '' },
      ]),
    );
    const window = q('[data-testid=dashboard-window]');
    return {
      window: { from: window.dataset['from'] ?? '', to: window.dataset['to'] ?? '' },
      tiles: Object.fromEntries(
        ['kpi-open', 'kpi-at-risk', 'kpi-breached', 'kpi-compliance', 'kpi-disputed', 'kpi-adjustments'].map((id) => [id, tile(id)]),
      ),
      byStatus: table('backlog-by-status'),
      byTeam: table('backlog-by-team'),
      durations,
    };
  });
}

// ---------------------------------------------------------------------------- what the API says

type Money = { amount: string; currency: string };
type Stats = { count: number; averageSeconds: number | null; p50Seconds: number | null; p90Seconds: number | null };

interface MetricsAnswer {
  metrics: {
    slaCompliance: number | null;
    openCount: number;
    disputedAmountOpen: Money[];
    adjustmentsPosted: Money[];
    firstResponseTime: Stats;
    resolutionTime: Stats;
  };
}

const METRICS = parse(/* GraphQL */ `
  query DashboardTestMetrics($filter: MetricsFilter!) {
    metrics(filter: $filter) {
      slaCompliance
      openCount
      disputedAmountOpen { amount currency }
      adjustmentsPosted { amount currency }
      firstResponseTime { count averageSeconds p50Seconds p90Seconds }
      resolutionTime { count averageSeconds p50Seconds p90Seconds }
    }
  }
`) as TypedDocumentNode<MetricsAnswer, { filter: { from?: string; to?: string; teamId?: string | null } }>;

type CountAnswer = { totalCount: number };
interface BacklogAnswer {
  NEW: CountAnswer;
  TRIAGED: CountAnswer;
  IN_PROGRESS: CountAnswer;
  WAITING_ON_CUSTOMER: CountAnswer;
  PENDING_APPROVAL: CountAnswer;
  atRisk: CountAnswer;
  breached: CountAnswer;
  teams: Array<{ id: string; openRequests: number }>;
}

// The backlog counted by the request connection, not by `metrics`: two paths that must agree.
const BACKLOG = parse(/* GraphQL */ `
  query DashboardTestBacklog($teamId: ID) {
    NEW: serviceRequests(first: 1, filter: { teamId: $teamId, status: [NEW] }) { totalCount }
    TRIAGED: serviceRequests(first: 1, filter: { teamId: $teamId, status: [TRIAGED] }) { totalCount }
    IN_PROGRESS: serviceRequests(first: 1, filter: { teamId: $teamId, status: [IN_PROGRESS] }) { totalCount }
    WAITING_ON_CUSTOMER: serviceRequests(first: 1, filter: { teamId: $teamId, status: [WAITING_ON_CUSTOMER] }) { totalCount }
    PENDING_APPROVAL: serviceRequests(first: 1, filter: { teamId: $teamId, status: [PENDING_APPROVAL] }) { totalCount }
    atRisk: serviceRequests(
      first: 1
      filter: { teamId: $teamId, status: [NEW, TRIAGED, IN_PROGRESS, WAITING_ON_CUSTOMER, PENDING_APPROVAL], slaState: [AT_RISK] }
    ) { totalCount }
    breached: serviceRequests(
      first: 1
      filter: { teamId: $teamId, status: [NEW, TRIAGED, IN_PROGRESS, WAITING_ON_CUSTOMER, PENDING_APPROVAL], slaState: [BREACHED] }
    ) { totalCount }
    teams { id openRequests }
  }
`) as TypedDocumentNode<BacklogAnswer, { teamId?: string | null }>;

const moneyText = (amounts: Money[]): string => (amounts.length ? amounts.map((m) => formatMoney(m, LOCALE)).join(' | ') : '–');

/** What the page must show, from the API's answers for the window the page shows. */
async function expected(client: CasegraphClient, page: Shown, teamId: string | null): Promise<Shown> {
  const [{ metrics: window }, { metrics: backlog }, counts] = await Promise.all([
    client.request(METRICS, { filter: { from: page.window.from, to: page.window.to, teamId } }),
    client.request(METRICS, { filter: { from: '2000-01-01T00:00:00Z', teamId } }),
    client.request(BACKLOG, { teamId }),
  ]);
  const open = OPEN_STATUSES.reduce((sum, s) => sum + counts[s].totalCount, 0);
  const byTeam: Record<string, number> = Object.fromEntries(counts.teams.map((t) => [t.id, t.openRequests]));
  const held = counts.teams.reduce((sum, t) => sum + t.openRequests, 0);
  if (teamId === null && open > held) byTeam[''] = open - held;
  const duration = (key: string, stats: Stats): Shown['durations'] => ({
    [`${key}-count`]: { value: String(stats.count), text: formatCount(stats.count, LOCALE) },
    [`${key}-p50`]: { value: String(stats.p50Seconds ?? ''), text: formatDuration(stats.p50Seconds) },
    [`${key}-p90`]: { value: String(stats.p90Seconds ?? ''), text: formatDuration(stats.p90Seconds) },
    [`${key}-average`]: { value: String(stats.averageSeconds ?? ''), text: formatDuration(stats.averageSeconds) },
  });
  return {
    window: page.window,
    tiles: {
      'kpi-open': { value: String(open), text: formatCount(open, LOCALE) },
      'kpi-at-risk': { value: String(counts.atRisk.totalCount), text: formatCount(counts.atRisk.totalCount, LOCALE) },
      'kpi-breached': { value: String(counts.breached.totalCount), text: formatCount(counts.breached.totalCount, LOCALE) },
      'kpi-compliance': { value: String(window.slaCompliance ?? ''), text: formatPercent(window.slaCompliance, LOCALE) },
      'kpi-disputed': { value: JSON.stringify(backlog.disputedAmountOpen), text: moneyText(backlog.disputedAmountOpen) },
      'kpi-adjustments': { value: JSON.stringify(window.adjustmentsPosted), text: moneyText(window.adjustmentsPosted) },
    },
    byStatus: Object.fromEntries(OPEN_STATUSES.map((s) => [s, counts[s].totalCount])),
    byTeam,
    durations: { ...duration('firstResponse', window.firstResponseTime), ...duration('resolution', window.resolutionTime) },
  };
}

interface Watched {
  __counters: string[];
}

/**
 * Record every state of the SLA counters with the alerts in the feed, as `atRisk/breached/kinds`
 * (consecutive repeats dropped), so the test sees each step even if it polls late.
 */
async function watchCounters(page: Page): Promise<void> {
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as Watched).__counters = seen;
    const value = (id: string): string | null | undefined => document.querySelector(`[data-testid=${id}]`)?.getAttribute('data-value');
    const record = (): void => {
      const kinds = Array.from(document.querySelectorAll<HTMLElement>('[data-testid=live-alert]')).map((li) => li.dataset['kind']);
      const state = `${value('kpi-at-risk')}/${value('kpi-breached')}/${kinds.join(',')}`;
      if (seen.at(-1) !== state) seen.push(state);
    };
    record();
    const root = document.getElementById('dashboard');
    if (root) new MutationObserver(record).observe(root, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-value'] });
  });
}

// ------------------------------------------------------------------------------ API fixtures

interface CustomerAnswer {
  viewer: { customer: { id: string; invoices: { nodes: Array<{ id: string; status: string; outstanding: Money }> } } | null };
}

const MY_INVOICES = parse(/* GraphQL */ `
  query DashboardTestInvoices {
    viewer { customer { id invoices(first: 50) { nodes { id status outstanding { amount currency } } } } }
  }
`) as TypedDocumentNode<CustomerAnswer, Record<string, never>>;

async function testCustomer(): Promise<NonNullable<CustomerAnswer['viewer']['customer']>> {
  const { viewer } = await customerClient().request(MY_INVOICES, {});
  if (!viewer.customer) throw new Error('the test customer token has no customer');
  return viewer.customer;
}

async function current(id: string): Promise<{ version: number; assignee: { id: string } | null }> {
  const { node } = await adminClient().request(ConsoleRequestDetailDocument, { id });
  if (node?.__typename !== 'ServiceRequest') throw new Error(`request ${id} is not visible to the admin`);
  return node;
}

/** A request of the test customer, created by staff (so with the priority given). */
async function staffRequest(input: { type: RequestType; priority: Priority; subject: string; invoiceId?: string; financialImpact?: Money }) {
  const customer = await testCustomer();
  const { serviceRequest } = assertNoUserErrors(
    await adminClient().mutate(PortalCreateServiceRequestDocument, {
      input: {
        customerId: customer.id,
        channel: Channel.EMAIL,
        description: `${input.subject} (created by the dashboard tests)`,
        idempotencyKey: randomUUID(),
        ...input,
      },
    }),
  );
  if (!serviceRequest) throw new Error('createServiceRequest returned no request');
  return serviceRequest;
}

async function cancel(id: string): Promise<void> {
  const { version } = await current(id);
  assertNoUserErrors(await adminClient().mutate(ConsoleCancelDocument, { input: { id, expectedVersion: version } }));
}

interface PolicyAnswer {
  node: { sla: { policy: { name: string; tier: string; priority: string; firstResponseMinutes: number; resolutionMinutes: number; calendar: { name: string } | null } } } | null;
}

const POLICY = parse(/* GraphQL */ `
  query DashboardTestPolicy($id: ID!) {
    node(id: $id) {
      ... on ServiceRequest { sla { policy { name tier priority firstResponseMinutes resolutionMinutes calendar { name } } } }
    }
  }
`) as TypedDocumentNode<PolicyAnswer, { id: string }>;

/**
 * Run `fn` while the test customer's URGENT policy is 24x7 with DRILL_POLICY's targets; then put
 * the policy back as it was (read through the API from a probe request, which is cancelled).
 */
async function withDrillPolicy(fn: () => Promise<void>): Promise<void> {
  const probe = await staffRequest({ type: RequestType.GENERAL_INQUIRY, priority: Priority.URGENT, subject: 'dashboard: policy probe' });
  const { node } = await adminClient().request(POLICY, { id: probe.id });
  await cancel(probe.id);
  if (!node) throw new Error('the probe request is not visible');
  const original = node.sla.policy;
  const policy = (targets: { firstResponse: string; resolution: string }, calendar: string | null) => ({
    slaPolicies: [{ tier: original.tier, priority: original.priority, name: original.name, ...targets, calendar }],
  });
  await importMasterData(live(), policy(DRILL_POLICY, null));
  try {
    await fn();
  } finally {
    await importMasterData(
      live(),
      policy(
        { firstResponse: `PT${original.firstResponseMinutes}M`, resolution: `PT${original.resolutionMinutes}M` },
        original.calendar?.name ?? null,
      ),
    );
  }
}

// ------------------------------------------------------------------------------------ the tests

describe('supervisor dashboard', () => {
  it('shows what the API answers for its window, and follows a posted adjustment without a reload', async () => {
    const page = await dashboardPage();
    await markDocument(page);
    const admin = adminClient();
    await expectSettled(async () => {
      const page_ = await shown(page);
      return { shown: page_, expected: await expected(admin, page_, null) };
    });

    // A credit memo posted through the API moves "adjustments posted" (ADJUSTMENT_POSTED event).
    await sleep(SETTLE_MS);
    const before = await tileValue(page, 'kpi-adjustments');
    const customer = await testCustomer();
    const invoice = customer.invoices.nodes.find((i) => ['OPEN', 'OVERDUE', 'PARTIALLY_PAID'].includes(i.status) && Number(i.outstanding.amount) >= 100);
    if (!invoice) throw new Error('the test customer has no invoice with an outstanding balance');
    const request = await staffRequest({
      type: RequestType.INVOICE_CORRECTION,
      priority: Priority.LOW,
      subject: 'dashboard: credit memo',
      invoiceId: invoice.id,
      financialImpact: { amount: '12.34', currency: invoice.outstanding.currency },
    });
    let state = await current(request.id);
    assertNoUserErrors(await admin.mutate(ConsoleTriageDocument, { input: { id: request.id, expectedVersion: state.version } }));
    state = await current(request.id);
    if (!state.assignee) {
      assertNoUserErrors(await admin.mutate(ConsoleAssignDocument, { input: { id: request.id, expectedVersion: state.version } }));
      state = await current(request.id);
    }
    assertNoUserErrors(await admin.mutate(ConsoleStartWorkDocument, { input: { id: request.id, expectedVersion: state.version } }));
    assertNoUserErrors(
      await admin.mutate(ConsolePostAdjustmentDocument, {
        input: {
          serviceRequestId: request.id,
          invoiceId: invoice.id,
          kind: AdjustmentKind.CREDIT_MEMO,
          amount: { amount: '12.34', currency: invoice.outstanding.currency },
        },
      }),
    );
    await page.waitForFunction((b) => document.querySelector<HTMLElement>('[data-testid=kpi-adjustments]')?.dataset['value'] !== b, before, {
      timeout: REFRESH_MS,
    });
    await expectSettled(async () => {
      const page_ = await shown(page);
      return { shown: page_, expected: await expected(admin, page_, null) };
    });
    expect(await sameDocument(page)).toBe(true);
  }, 90_000);

  it('counts an SLA breach of the SLA engine live, from slaAlerts, without a reload', async () => {
    await importMasterData(live(), { teams: [{ name: DRILL_TEAM, calendar: null }] });
    const { teams } = await adminClient().request(ConsoleDashboardDocument, {});
    const drill = teams.find((t) => t.name === DRILL_TEAM);
    if (!drill) throw new Error(`${DRILL_TEAM} was not imported`);

    const page = await dashboardPage();
    await selectScope(page, drill.id);
    await markDocument(page);
    const reads: number[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.postData()?.includes('"operationName":"ConsoleDashboard"')) reads.push(Date.now());
    });
    await watchCounters(page);
    await sleep(SETTLE_MS);

    await withDrillPolicy(async () => {
      const request = await staffRequest({ type: RequestType.GENERAL_INQUIRY, priority: Priority.URGENT, subject: 'dashboard: breached live' });
      try {
        const { version } = await current(request.id);
        assertNoUserErrors(await adminClient().mutate(ConsoleAssignDocument, { input: { id: request.id, expectedVersion: version, teamId: drill.id } }));

        // At risk 12 s after creation, breached at 15 s: the SLA engine emits both alerts, and
        // each moves the counters as it lands in the alert feed (one step each, none skipped).
        await page.waitForFunction(() => (window as unknown as Watched).__counters.at(-1) === '0/1/SLA_BREACHED', undefined, {
          timeout: 25_000,
        });
        expect(await page.evaluate(() => (window as unknown as Watched).__counters)).toEqual(['0/0/', '1/0/SLA_AT_RISK', '0/1/SLA_BREACHED']);
        expect(await page.getAttribute('[data-testid=live-alert]', 'data-number')).toBe(request.number);
        expect(await sameDocument(page)).toBe(true);

        // The backlog of the team follows too (events, then one debounced read), and agrees with the API.
        await expectSettled(async () => {
          const page_ = await shown(page);
          return { shown: page_, expected: await expected(adminClient(), page_, drill.id) };
        });
        expect(Object.values((await shown(page)).byStatus).reduce((a, b) => a + b, 0)).toBe(1);

        // Reads after events: never two within 10 s.
        const gaps = reads.slice(1).map((t, i) => t - reads[i]!);
        expect(gaps.every((gap) => gap >= 9_500), `reads ${gaps.join(', ')} ms apart`).toBe(true);

        // For review: the whole organisation, with this breach in the live feed.
        await selectScope(page, null);
        await page.locator(`[data-testid=live-alert][data-number="${request.number}"]`).waitFor();
        mkdirSync(dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
      } finally {
        await cancel(request.id);
      }
    });
  }, 90_000);
});
