// A portal page on another origin, in headless Chromium, calling the live server of the global
// setup through the SDK: it works from the origin in CORS_ALLOWED_ORIGINS (query, mutation,
// subscription) and is refused from an origin that is not on the list.
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommentVisibility, PortalAddCommentDocument, assertNoUserErrors } from '../../src/index.js';
import { customerClient, live, waitFor } from '../support/live.js';

const CHROMIUM = process.env.CASEGRAPH_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];

let browser: Browser;
let bundle: string;
const servers: Server[] = [];

/** Serve the portal page on `port` of `localhost` (0: any free port), an origin of its own. */
async function servePortal(port: number): Promise<string> {
  const server = createServer((request, response) => {
    if (request.url === '/portal.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    } else {
      response
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><html><body><script type="module" src="/portal.js"></script></body></html>');
    }
  });
  await new Promise<void>((ok) => server.listen(port, '127.0.0.1', ok));
  servers.push(server);
  const address = server.address();
  return `http://localhost:${typeof address === 'object' && address ? address.port : port}`;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install -y chromium)`);
  const result = await build({
    entryPoints: [resolve(import.meta.dirname, 'portal-page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  bundle = result.outputFiles[0]!.text;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(servers.map((s) => new Promise((ok) => s.close(ok))));
});

async function openPortal(origin: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  const server = live();
  await page.goto(`${origin}/#api=${encodeURIComponent(server.url)}&token=${encodeURIComponent(server.customerToken)}`);
  await page.waitForFunction(() => document.body.dataset['ready'] === 'true');
  return page;
}

type Outcome = { ok: boolean; value?: any; code?: string };
const call = (page: Page, script: string): Promise<Outcome> => page.evaluate(script) as Promise<Outcome>;

describe('a portal on another origin', () => {
  it('queries, mutates and subscribes from an allowed origin', async () => {
    const server = live();
    const origin = await servePortal(server.portalPort);
    expect(origin).not.toBe(new URL(server.url).origin);
    const page = await openPortal(origin);

    const viewer = await call(page, 'portal.viewer()');
    expect(viewer.ok).toBe(true);
    expect(viewer.value.viewer.customer.externalRef).toBe(server.customerRef);

    const created = await call(page, `portal.create('portal page: cross-origin create')`);
    expect(created.ok).toBe(true);
    expect(created.value.userErrors).toEqual([]);
    const request = created.value.serviceRequest as { id: string };

    await page.evaluate(`portal.subscribe(${JSON.stringify(request.id)})`);
    await new Promise((r) => setTimeout(r, 1000));
    assertNoUserErrors(
      await customerClient().mutate(PortalAddCommentDocument, {
        input: { serviceRequestId: request.id, body: 'seen live in the portal', visibility: CommentVisibility.PUBLIC },
      }),
    );
    await page.waitForFunction(
      () => (window as any).portal.events.some((e: any) => e.comment?.body === 'seen live in the portal'),
      undefined,
      { timeout: 10_000 },
    );
    await page.context().close();
  });

  it('is refused from an origin that is not on the list', async () => {
    const origin = await servePortal(0);
    const page = await openPortal(origin);
    const refusedSockets: string[] = [];
    page.on('websocket', (ws) => ws.on('socketerror', (error) => refusedSockets.push(error)));
    const consoleErrors: string[] = [];
    page.on('console', (message) => message.type() === 'error' && consoleErrors.push(message.text()));

    const viewer = await call(page, 'portal.viewer()');
    expect(viewer).toMatchObject({ ok: false, code: 'NETWORK_ERROR' });
    const created = await call(page, `portal.create('portal page: must not exist')`);
    expect(created).toMatchObject({ ok: false, code: 'NETWORK_ERROR' });
    expect(consoleErrors.some((text) => text.includes('CORS policy'))).toBe(true);

    await page.evaluate(`portal.subscribe('U2VydmljZVJlcXVlc3Q6MQ==')`);
    await waitFor(() => refusedSockets.length > 0, 10_000, 'a refused WebSocket handshake');
    expect(refusedSockets[0]).toContain('403');
    expect(await page.evaluate('portal.events.length')).toBe(0);
    await page.context().close();
  });
});
