import { createRequire } from 'node:module';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/**
 * Debian's Chromium driven by playwright-core (no browser is ever downloaded), headless,
 * with a fresh profile per browser, and axe-core for accessibility checks.
 */

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
];

export interface TestBrowser {
  browser: Browser;
  /** A new context (its own cookies), phone-sized or desktop. */
  context(kind?: 'phone' | 'desktop'): Promise<BrowserContext>;
  close(): Promise<void>;
}

export const VIEWPORTS = {
  phone: { width: 390, height: 844 },
  desktop: { width: 1280, height: 900 },
} as const;

export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Playwright gives every launched browser a fresh profile of its own.
    args: ARGS,
    timeout: 60_000,
  });
  return {
    browser,
    context: (kind = 'desktop') =>
      browser.newContext({
        viewport: VIEWPORTS[kind],
        ...(kind === 'phone' ? { isMobile: true, hasTouch: true, deviceScaleFactor: 2 } : {}),
        locale: 'en-GB',
        timezoneId: 'Europe/Paris',
      }),
    close: async () => {
      await browser.close();
    },
  };
}

const axeSource = (createRequire(import.meta.url)('axe-core') as { source: string }).source;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/**
 * Runs axe-core on the page (WCAG 2.x A and AA, and best practices). The script goes in
 * through the DevTools protocol, which the page's CSP does not govern; the page itself
 * never runs inline code.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: AxeViolation[] }> };
      }
    ).axe;
    return axe.run((globalThis as unknown as { document: unknown }).document, {
      runOnly: {
        type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'],
      },
    });
  });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((node) => ({ target: node.target })),
  }));
}
