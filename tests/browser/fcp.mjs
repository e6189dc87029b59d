// make bench, web section: first contentful paint of the overview in
// Debian's headless Chromium (playwright-core), logged in as the bench's
// province officer, N fresh navigations with the static assets cached as
// a returning officer has them. Prints one ROW| line for run.sh.
// Usage: node fcp.mjs URL USER PASSWORD N [LABEL]
import { chromium } from 'playwright-core';

const [url, user, password, count, label = ''] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, locale: 'vi-VN' });
  const page = await context.newPage();
  await page.goto(url + '/login');
  await page.fill('#user', user);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation(), page.click('#submit')]);
  const fcp = [];
  for (let i = 0; i < Number(count); i++) {
    await page.goto(url + '/overview', { waitUntil: 'load' });
    const ms = await page.evaluate(() => new Promise((resolve) => {
      const seen = performance.getEntriesByName('first-contentful-paint');
      if (seen.length) return resolve(seen[0].startTime);
      new PerformanceObserver((list) => {
        for (const e of list.getEntries())
          if (e.name === 'first-contentful-paint') resolve(e.startTime);
      }).observe({ type: 'paint', buffered: true });
    }));
    fcp.push(ms);
  }
  fcp.sort((a, b) => a - b);
  const p50 = fcp[Math.floor(fcp.length / 2)], p95 = fcp[Math.max(0, Math.ceil(fcp.length * 0.95) - 1)];
  console.log(`ROW|web${label}: overview first contentful paint, headless Chromium (${fcp.length} loads)|p95 ${p95.toFixed(0)} ms (p50 ${p50.toFixed(0)})|-|target < 1,000 ms`);
} finally {
  await browser.close();
}
