// Headless Chromium for the console tests: Debian's package (`apt-get install -y chromium`, the
// Makefile does it), driven by playwright-core; no browser download.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { live } from './live.js';

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

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install Debian's package with \`apt-get install -y chromium\` ` +
        '(the Makefile does this before the SDK tests) or point CASEGRAPH_CHROMIUM at a Chromium binary',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

/** A page in a fresh context; uncaught exceptions in it are collected in `errors`. */
export async function openPage(browser: Browser): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  // A fixed locale and time zone: the page formats numbers and times as the tests expect on any machine.
  const context = await browser.newContext({
    viewport: { width: 1400, height: 900 },
    locale: 'en-US',
    timezoneId: 'UTC',
    reducedMotion: 'reduce',
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  return { context, page, errors };
}

export const consoleUrl = (): string => live().url.replace(/\/graphql$/, '/console');

/** Sign in as a development identity and wait for the queue's first load. */
export async function signIn(page: Page, subject: string): Promise<void> {
  await page.goto(consoleUrl());
  await page.locator(`[data-testid=identity] option[value="${subject}"]`).waitFor({ state: 'attached' });
  await page.selectOption('[data-testid=identity]', subject);
  await page.click('[data-testid=sign-in]');
  await page.waitForFunction((s) => document.getElementById('whoami')?.dataset['subject'] === s, subject);
  await page.waitForFunction(() => document.getElementById('queue')?.dataset['loadedAt'] !== undefined);
}

/** Marks the document: still marked later means the page was not reloaded. */
export async function markDocument(page: Page): Promise<void> {
  await page.evaluate(() => {
    (window as unknown as { __sameDocument: boolean }).__sameDocument = true;
  });
}

export async function sameDocument(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument === true);
}

/** A development identity of the demo organisation with this role (GET /console/dev-identities). */
export async function identityWithRole(role: string): Promise<string> {
  const response = await fetch(`${consoleUrl()}/dev-identities`);
  const { identities } = (await response.json()) as { identities: Array<{ subject: string; role: string }> };
  const found = identities.find((i) => i.role === role);
  if (!found) throw new Error(`the demo organisation has no ${role}`);
  return found.subject;
}
