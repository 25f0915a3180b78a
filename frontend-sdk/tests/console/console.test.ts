// The reference agent console (/console) in headless Chromium, driven by playwright-core, against
// the live server of the global setup. Changes are made through the API with the SDK while the
// page is open: they must show up without a reload.
import { existsSync } from 'node:fs';
import { parse } from 'graphql';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { alertCursorKey } from '../../console/alerts.js';
import { formatRemaining } from '../../console/sla.js';
import {
  CommentVisibility,
  ConsoleAddCommentDocument,
  ConsoleRequestDetailDocument,
  ConsoleTeamQueueDocument,
  ConsoleTeamsDocument,
  ConsoleTriageDocument,
  Priority,
  assertNoUserErrors,
  type RequestSummaryFragment,
} from '../../src/index.js';
import { mailImport } from '../support/cli.js';
import { adminClient, customerClient, live, sleep } from '../support/live.js';
import { openRequest } from '../support/requests.js';

// Debian's Chromium (`apt-get install -y chromium`); no browser download.
const CHROMIUM = process.env.CASEGRAPH_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// A Customer Service agent of the demo organisation; GENERAL_INQUIRY requests are routed to that team.
const AGENT = 'olivia.brown@example.com';
const TEAM = 'Customer Service';
// Time for the page's fresh subscription to be registered before the test causes events.
const SETTLE_MS = 1000;
const LIVE_MS = 10_000;

let browser: Browser;
let context: BrowserContext | undefined;
let pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install Debian's package with \`apt-get install -y chromium\` ` +
        '(the Makefile does this before the SDK tests) or point CASEGRAPH_CHROMIUM at a Chromium binary',
    );
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
});

afterAll(async () => {
  await browser?.close();
});

afterEach(async () => {
  await context?.close();
  context = undefined;
  // Uncaught exceptions in the page fail the test that caused them.
  const errors = pageErrors;
  pageErrors = [];
  expect(errors).toEqual([]);
});

async function newPage(): Promise<Page> {
  context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  // The page runs under the server's Content-Security-Policy: anything it blocks fails the test.
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) pageErrors.push(message.text());
  });
  return page;
}

const consoleUrl = (): string => live().url.replace(/\/graphql$/, '/console');
const row = (page: Page, number: string) => page.locator(`[data-testid=queue-row][data-number="${number}"]`);
const detail = (page: Page) => page.locator('[data-testid=request-detail]');

async function signIn(page: Page, subject: string): Promise<void> {
  await page.goto(consoleUrl());
  await page.locator(`[data-testid=identity] option[value="${subject}"]`).waitFor({ state: 'attached' });
  await page.selectOption('[data-testid=identity]', subject);
  await page.click('[data-testid=sign-in]');
  await page.waitForFunction((s) => document.getElementById('whoami')?.dataset['subject'] === s, subject);
  await page.waitForFunction(() => document.getElementById('queue')?.dataset['loadedAt'] !== undefined);
}

/** Marks the document: still there later means the page was not reloaded. */
async function markDocument(page: Page): Promise<void> {
  await page.evaluate(() => {
    (window as unknown as { __sameDocument: boolean }).__sameDocument = true;
  });
}

async function sameDocument(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument === true);
}

async function teamId(name: string): Promise<string> {
  const { teams } = await adminClient().request(ConsoleTeamsDocument);
  const team = teams.find((t) => t.name === name);
  if (!team) throw new Error(`no team ${name} in the demo data`);
  return team.id;
}

/** A new request for TEAM, opened by the test customer through the portal documents. */
async function newTeamRequest(subject: string): Promise<RequestSummaryFragment> {
  const request = await openRequest(customerClient(), subject);
  const { node } = await adminClient().request(ConsoleRequestDetailDocument, { id: request.id });
  if (node?.__typename !== 'ServiceRequest') throw new Error('the new request is not visible to the admin');
  expect(node.team?.name, 'routing precondition: GENERAL_INQUIRY goes to Customer Service').toBe(TEAM);
  return request;
}

/** A plain-text mail from the test customer's demo contact (demo/data.py contact_email) to a mailbox. */
function mail(subject: string, body: string, extra = ''): string {
  const from = `ap.${live().customerRef.toLowerCase()}@customers.example.com`;
  const id = `<${Date.now()}.${Math.random().toString(36).slice(2)}@customers.example.com>`;
  return `From: Accounts payable <${from}>\r\nTo: customer-service@casegraph.example\r\nSubject: ${subject}\r\n` +
    `Message-ID: ${id}\r\n${extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`;
}

describe('agent console', () => {
  it('loads, signs in as a development identity and shows that team\'s queue', async () => {
    const page = await newPage();
    await signIn(page, AGENT);
    expect(await page.textContent('[data-testid=whoami]')).toContain('Olivia Brown');
    const selected = await page.$eval('[data-testid=team]', (s) => (s as HTMLSelectElement).selectedOptions[0]?.textContent ?? '');
    expect(selected).toContain(TEAM);

    const { serviceRequests } = await adminClient().request(ConsoleTeamQueueDocument, { teamId: await teamId(TEAM) });
    const shown = await page.$$eval('[data-testid=queue-row]', (rows) => rows.map((r) => (r as HTMLElement).dataset['number']));
    expect(shown).toEqual(serviceRequests.nodes.map((n) => n.number));
    expect(await page.textContent('[data-testid=live]')).toContain('live');
  });

  it('shows a request created through the API, then its transition, without a reload', async () => {
    const page = await newPage();
    await signIn(page, AGENT);
    await markDocument(page);
    await sleep(SETTLE_MS);

    const request = await newTeamRequest('console: created while the page is open');
    await row(page, request.number).waitFor({ timeout: LIVE_MS });
    expect(await row(page, request.number).getAttribute('data-status')).toBe('NEW');

    const { node } = await adminClient().request(ConsoleRequestDetailDocument, { id: request.id });
    if (node?.__typename !== 'ServiceRequest') throw new Error('not visible');
    assertNoUserErrors(
      await adminClient().mutate(ConsoleTriageDocument, {
        input: { id: request.id, expectedVersion: node.version, priority: Priority.HIGH },
      }),
    );
    await page.locator(`[data-testid=queue-row][data-number="${request.number}"][data-status="TRIAGED"]`).waitFor({ timeout: LIVE_MS });
    expect(await sameDocument(page)).toBe(true);
  });

  it('shows a mailed request with its requester and acknowledgement, and the mailed reply live', async () => {
    const page = await newPage();
    await signIn(page, AGENT);
    await sleep(SETTLE_MS);
    const created = await mailImport(live(), mail('console: asked by mail', 'Please send our statement.'));
    expect(created).toMatch(/^created SR-\d+$/);
    const number = created.split(' ')[1] ?? '';
    await row(page, number).waitFor({ timeout: LIVE_MS });
    await sleep(1500); // the server's outbound worker plans the acknowledgement within a second
    await row(page, number).click();
    const thread = page.locator(`[data-testid=request-detail][data-number="${number}"] [data-testid=mail-thread]`);
    await thread.waitFor({ timeout: LIVE_MS });
    expect(await thread.locator('[data-testid=requester]').getAttribute('data-email')).toBe(
      `ap.${live().customerRef.toLowerCase()}@customers.example.com`,
    );
    // SMTP_URL is unset on the test server: the acknowledgement is recorded as SKIPPED.
    await thread.locator('[data-testid=outbound-mail][data-status=SKIPPED]').first().waitFor({ timeout: LIVE_MS });

    await mailImport(live(), mail(`Re: [${number}] console: asked by mail`, 'The account is 4711.'));
    await page.locator('[data-testid=request-detail] blockquote', { hasText: 'The account is 4711.' }).waitFor({ timeout: LIVE_MS });
  });

  it('lists held mail from an unknown sender, links it to a customer and opens the new request', async () => {
    const stranger = `someone.${Date.now()}@unknown.example`;
    const held = await mailImport(live(), mail('console: who handles this?', 'Hello, we are new.').replace(
      /^From: [^\r]*/, `From: ${stranger}`));
    expect(held).toMatch(/^held \d+$/);
    const page = await newPage();
    await signIn(page, AGENT);
    const item = page.locator(`[data-testid=held-mail][data-from="${stranger}"]`);
    await page.click('[data-testid=held-mails] summary');
    await item.waitFor({ timeout: LIVE_MS });
    await item.locator('[data-testid=held-link]').click();
    // The request opens; the sender is now its requester (an active contact of the first customer listed).
    const requester = page.locator(`[data-testid=request-detail] [data-testid=requester][data-email="${stranger}"]`);
    await requester.waitFor({ timeout: LIVE_MS });
    await item.waitFor({ state: 'detached', timeout: LIVE_MS });
  });

  it('acts through availableTransitions with expectedVersion, and reloads on a version conflict', async () => {
    const page = await newPage();
    await signIn(page, AGENT);
    await sleep(SETTLE_MS);
    const request = await newTeamRequest('console: acted on in the page');
    await row(page, request.number).waitFor({ timeout: LIVE_MS });
    await row(page, request.number).click();
    await detail(page).and(page.locator(`[data-number="${request.number}"]`)).waitFor();
    const version = Number(await detail(page).getAttribute('data-version'));

    // TRIAGE with a priority, sent with the version on screen.
    await page.click('[data-testid=transition][data-action=TRIAGE]');
    expect(Number(await page.getAttribute('form.action-form', 'data-expected-version'))).toBe(version);
    await page.selectOption('form.action-form select[name=priority]', Priority.URGENT);
    await page.click('[data-testid=confirm-action]');
    await page.locator('[data-testid=request-detail][data-status="TRIAGED"]').waitFor({ timeout: LIVE_MS });
    const triaged = Number(await detail(page).getAttribute('data-version'));
    expect(triaged).toBeGreaterThan(version);
    await page.locator(`[data-testid=queue-row][data-number="${request.number}"][data-status="TRIAGED"]`).waitFor({ timeout: LIVE_MS });

    // Someone else changes the request while the agent fills in a form.
    await page.click('[data-testid=transition][data-action=CANCEL]');
    expect(Number(await page.getAttribute('form.action-form', 'data-expected-version'))).toBe(triaged);
    assertNoUserErrors(
      await adminClient().mutate(ConsoleAddCommentDocument, {
        input: { serviceRequestId: request.id, body: 'meanwhile', visibility: CommentVisibility.INTERNAL },
      }),
    );
    await page.locator('[data-testid=stale-notice]').waitFor({ timeout: LIVE_MS });
    await page.click('[data-testid=confirm-action]');
    await page.waitForFunction(() => document.querySelector('[data-testid=notice]')?.textContent?.includes('changed by someone else'));
    // Nothing was cancelled; the page now shows the current version.
    const after = detail(page);
    expect(await after.getAttribute('data-status')).toBe('TRIAGED');
    expect(Number(await after.getAttribute('data-version'))).toBeGreaterThan(triaged);
  });

  it('ticks the SLA countdown locally', async () => {
    const page = await newPage();
    await signIn(page, AGENT);
    const request = await newTeamRequest('console: countdown');
    await row(page, request.number).waitFor({ timeout: LIVE_MS });
    await row(page, request.number).click();
    const clock = page.locator(`[data-testid=request-detail][data-number="${request.number}"] [data-testid=sla-countdown]`);
    await clock.waitFor();
    const first = Number(await clock.getAttribute('data-remaining'));
    await sleep(2200);
    const [second, text] = await clock.evaluate((el) => [Number(el.dataset['remaining']), el.textContent]);
    expect(first).toBeGreaterThan(0);
    expect(first - second).toBeGreaterThanOrEqual(1);
    expect(first - second).toBeLessThanOrEqual(4);
    // The text follows the ticking seconds, in whatever unit they are far away (days on a weekend).
    expect(text).toBe(formatRemaining(second as number));
  });

  it('shows an SLA breach from the slaAlerts subscription as a banner', async () => {
    // A breach of the demo data, replayed: the page resumes the team's alerts after a stored cursor.
    const breached = await adminClient().request(BREACHED, {});
    const candidate = breached.serviceRequests.nodes
      .filter((n) => !n.escalated && n.team)
      .map((n) => {
        const at = n.events.nodes.findIndex((e) => e.kind === 'SLA_BREACHED');
        return { request: n, before: at > 0 ? n.events.nodes[at - 1]!.cursor : undefined };
      })
      .find((c) => c.before !== undefined);
    if (!candidate?.before || !candidate.request.team) throw new Error('the demo data has no breached, unescalated request');
    const team = candidate.request.team;

    const page = await newPage();
    await page.addInitScript(([key, cursor]) => localStorage.setItem(key!, cursor!), [alertCursorKey(team.id), candidate.before]);
    await signIn(page, 'admin@example.com');
    await page.selectOption('[data-testid=team]', team.id);
    const banner = page.locator('[data-testid=sla-alert][data-kind=SLA_BREACHED]').first();
    await banner.waitFor({ timeout: LIVE_MS });
    expect(await banner.textContent()).toContain('SLA breached');
    expect(await banner.getAttribute('role')).toBe('alert');

    // "Open" on the banner opens that request.
    const number = await banner.getAttribute('data-number');
    await banner.locator('button', { hasText: 'Open' }).click();
    await page.locator(`[data-testid=request-detail][data-number="${number}"]`).waitFor({ timeout: LIVE_MS });
    // The cursor moved on: a reload would not show the same alerts again.
    const stored = await page.evaluate((key) => localStorage.getItem(key), alertCursorKey(team.id));
    expect(stored).not.toBe(candidate.before);
  });
});

interface BreachedQuery {
  serviceRequests: {
    nodes: Array<{
      id: string;
      number: string;
      escalated: boolean;
      team: { id: string; name: string } | null;
      events: { nodes: Array<{ kind: string; cursor: string }> };
    }>;
  };
}

const BREACHED = parse(/* GraphQL */ `
  query ConsoleTestBreached {
    serviceRequests(first: 100, filter: { slaState: [BREACHED] }, orderBy: { field: CREATED_AT, direction: DESC }) {
      nodes {
        id
        number
        escalated
        team { id name }
        events(first: 100) { nodes { kind cursor } }
      }
    }
  }
`) as TypedDocumentNode<BreachedQuery, Record<string, never>>;
