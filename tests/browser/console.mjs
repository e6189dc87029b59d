// The console in a real headless Chromium (Debian's chromium, driven by
// playwright-core): login, bad login and lockout, TOTP, the overview,
// school and PC pages with seeded data, ack and resolve into the audit
// log, the language switch, CSV export, inert XSS, a screenshot of each
// main page, and axe-core on each. Prints TAP lines numbered from argv.
// Usage: node console.mjs URL USERS_JSON SHOT_DIR FIRST_TAP_NUMBER
import { chromium } from 'playwright-core';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const [url, usersFile, shotDir, first, dbPath] = process.argv.slice(2);
const users = JSON.parse(fs.readFileSync(usersFile, 'utf8'));
const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
let n = Number(first), failed = 0;
const tap = (ok, what) => { n++; if (!ok) failed++; console.log(`${ok ? 'ok' : 'not ok'} ${n} - ${what}`); return ok; };

function totp(secret) {
  const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '', bytes = [];
  for (const c of secret) bits += alpha.indexOf(c).toString(2).padStart(5, '0');
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000)));
  const mac = crypto.createHmac('sha1', Buffer.from(bytes)).update(msg).digest();
  const o = mac[19] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}

fs.mkdirSync(shotDir, { recursive: true });
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
// The collector's certificate is signed by the test's own CA.
const newContext = (extra = {}) => browser.newContext({ ignoreHTTPSErrors: true, locale: 'vi-VN', ...extra });
const dialogs = [];
async function open(ctx) {
  const page = await ctx.newPage();
  page.on('dialog', d => { dialogs.push(d.message()); d.dismiss(); });
  return page;
}
async function login(page, name, code = '') {
  await page.goto(url + '/login');
  await page.fill('#user', name);
  await page.fill('#password', users[name].password);
  if (code) await page.fill('#code', code);
  await Promise.all([page.waitForNavigation(), page.click('#submit')]);
}

try {
  // ---- login, bad login, lockout ----
  const c1 = await newContext();
  const p1 = await open(c1);
  await p1.goto(url + '/overview');
  tap(p1.url().endsWith('/login') && (await p1.textContent('h1')) === 'Đăng nhập', 'an unauthenticated visit lands on the Vietnamese login page');
  await p1.fill('#user', 'sch'); await p1.fill('#password', 'wrong');
  await Promise.all([p1.waitForNavigation(), p1.click('#submit')]);
  tap((await p1.textContent('#login-error')).includes('Sai'), 'a bad password shows an error');
  const lk = await open(c1);
  for (let i = 0; i < 5; i++) {
    await lk.goto(url + '/login'); await lk.fill('#user', 'locky'); await lk.fill('#password', 'bad' + i);
    await Promise.all([lk.waitForNavigation(), lk.click('#submit')]);
  }
  await login(lk, 'locky');
  tap((await lk.textContent('#login-error')).includes('khóa'), 'after 5 failures the right password meets a locked account');
  await login(p1, 'sch');
  tap(p1.url().endsWith('/overview'), 'a school officer logs in and sees the overview');
  const cookies = await c1.cookies();
  const sess = cookies.find(c => c.name === '__Host-ew_session');
  tap(sess && sess.httpOnly && sess.secure && sess.sameSite === 'Strict', 'the browser holds an HttpOnly, Secure, SameSite=Strict session cookie');

  // ---- TOTP ----
  const ca = await newContext();
  const pa = await open(ca);
  await login(pa, 'admin');
  tap(pa.url().endsWith('/login'), 'the admin without a TOTP code stays on the login page');
  await login(pa, 'admin', totp(users.admin.totp));
  tap(pa.url().endsWith('/overview'), 'the admin with a TOTP code gets in');

  // ---- seeded pages, inert markup ----
  const rows = await p1.$$eval('#schools tr td:nth-child(2)', tds => tds.map(t => t.textContent));
  tap(rows.length === 1 && rows[0] === users.$xss_school, 'the overview lists the officer\'s school, its name shown as text');
  await p1.waitForSelector('#chart[data-points] canvas', { timeout: 10000 });
  tap(Number(await p1.getAttribute('#chart', 'data-points')) >= 3, 'the overview draws the school\'s score trend with uPlot (the 3 seeded daily snapshots and today\'s)');
  await p1.screenshot({ path: path.join(shotDir, 'overview.png'), fullPage: true });
  await p1.click('#schools a');
  await p1.waitForLoadState();
  const hosts = await p1.$$eval('#pcs tr td:first-child', tds => tds.map(t => t.textContent));
  tap(hosts.includes(users.$xss_host), 'the school page shows the PC whose host name is a script, as text');
  tap((await p1.$$('#pcs .stale')).length === 1 && (await p1.$$('#pcs .fresh')).length === 1, 'a stale PC and a reporting one are marked');
  await p1.screenshot({ path: path.join(shotDir, 'school.png'), fullPage: true });
  await p1.click('#pcs a');
  await p1.waitForLoadState();
  tap(p1.url().includes('/pcs/') && (await p1.textContent('h1')) === users.$xss_host, 'the PC page opens');
  const remedies = await p1.$$eval('#failing .remedy', tds => tds.map(t => t.textContent));
  tap(remedies.length > 0 && remedies.every(r => r.length > 10) && (await p1.$$('#panel-av\\.status')).length === 1,
      `the PC page shows its failing checks with what to do (${remedies.length}) and its state panels`);
  await p1.screenshot({ path: path.join(shotDir, 'pc.png'), fullPage: true });
  await pa.goto(url + '/overview');
  await Promise.all([pa.waitForNavigation(), pa.click('#schools a[href^="/commune"]')]);
  const communeSchools = await pa.$$eval('#schools tr td:first-child', tds => tds.map(t => t.textContent));
  tap((await pa.textContent('h1')) === 'Xã A' && communeSchools.length === 1 && communeSchools[0] === 'A1',
      'the overview\'s commune link opens the commune page with its schools');
  await pa.screenshot({ path: path.join(shotDir, 'commune.png'), fullPage: true });
  await pa.goto(url + '/soc');
  tap((await pa.textContent('h1')) === 'Luồng gửi SOC', 'the admin opens the SOC feed page from the console');
  await pa.screenshot({ path: path.join(shotDir, 'soc.png'), fullPage: true });

  // ---- ack and resolve, then the audit log ----
  await p1.goto(url + '/alerts');
  const row = `#alert-${users.$alert}`;
  tap((await p1.textContent(`${row}`)).includes('svg onload'), 'the alert with a hostile file path is listed as text');
  await p1.screenshot({ path: path.join(shotDir, 'alerts.png'), fullPage: true });
  // A new alert reaches the open page within 5 s (console.js polls /api/v1/live).
  const t0 = Date.now();
  execFileSync('/usr/bin/python3', ['-c', `
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30)
now = int(time.time() * 1e6)
db.execute("INSERT INTO alerts(rule,title,category,kind,dedupe_key,agent,school,severity,drill,first,last,count,state,evidence,src_ip,file_path,file_hash) VALUES('x','Cảnh báo trực tiếp','m','k','live','pcA1','A1',8,0,?,?,1,'open','{}','','','')", (now, now))
db.commit()`, dbPath]);
  let seen = false;
  try { await p1.waitForSelector('text=Cảnh báo trực tiếp', { timeout: 5000 }); seen = true; } catch (e) { }
  tap(seen, `a new alert appears on the open alerts page within 5 s (${Date.now() - t0} ms)`);
  await p1.fill(`${row} form[action$="/ack"] input[name=comment]`, 'Đã tiếp nhận qua trình duyệt');
  await Promise.all([p1.waitForNavigation(), p1.click(`${row} button.ack`)]);
  tap((await p1.textContent(`${row} .state`)) === 'Đã tiếp nhận', 'ack through the page');
  await p1.fill(`${row} form[action$="/resolve"] input[name=comment]`, 'Đã xử lý qua trình duyệt');
  await Promise.all([p1.waitForNavigation(), p1.click(`${row} button.resolve`)]);
  tap((await p1.textContent(`${row} .state`)) === 'Đã xử lý', 'resolve through the page');
  await pa.goto(url + '/admin/audit');
  const audit = await pa.textContent('#audit');
  tap(audit.includes('alert.ack') && audit.includes('Đã tiếp nhận qua trình duyệt') && audit.includes('alert.resolve')
      && audit.includes('Đã xử lý qua trình duyệt'), 'the ack and the resolve are in the audit log with their comments');
  await pa.screenshot({ path: path.join(shotDir, 'audit.png'), fullPage: true });
  await pa.goto(url + '/admin/users');
  await pa.screenshot({ path: path.join(shotDir, 'users.png'), fullPage: true });

  // ---- reports (issue 18): draft, figures, remarks, sign-off; scope by page ----
  await p1.goto(url + '/reports');
  await p1.fill('#period', '2026-H1'); await p1.fill('#scope', 'school:A1');
  await Promise.all([p1.waitForNavigation(), p1.click('#draft')]);
  const reportUrl = p1.url();
  tap(/\/reports\/\d+$/.test(reportUrl) && (await p1.getAttribute('#state', 'class')) === 'overdue'
      && (await p1.$$('#sec-av tr')).length > 0, 'a school officer drafts the school\'s report from the page; its figures and the overdue reminder show');
  await p1.fill('#remarks-text', 'Nhận xét qua trình duyệt: đã rà soát');
  await Promise.all([p1.waitForNavigation(), p1.click('#save-remarks')]);
  tap((await p1.textContent('#remarks')) === 'Nhận xét qua trình duyệt: đã rà soát', 'the officer\'s remarks are saved with the draft');
  await p1.screenshot({ path: path.join(shotDir, 'report.png'), fullPage: true });
  await p1.goto(url + '/reports');
  await p1.fill('#period', '2026-H1'); await p1.fill('#scope', 'school:B1');
  const other = await Promise.all([p1.waitForNavigation(), p1.click('#draft')]);
  tap(other[0].status() === 404, 'another school\'s report cannot be drafted from the page (404)');
  await p1.goto(url + '/reports');
  const scopes = await p1.$$eval('#reports tr td:nth-child(2)', tds => tds.map(t => t.textContent));
  tap(scopes.length === 1 && scopes[0] === 'school:A1', 'the report list shows the officer\'s school only');
  await p1.screenshot({ path: path.join(shotDir, 'reports.png'), fullPage: true });
  await pa.goto(reportUrl);
  await Promise.all([pa.waitForNavigation(), pa.click('#sign')]);
  tap((await pa.getAttribute('#state', 'class')) === 'signed' && /[0-9a-f]{64}/.test(await pa.textContent('#signed')),
      'the admin signs the report off from the page; its SHA-256 shows');
  await pa.screenshot({ path: path.join(shotDir, 'report-signed.png'), fullPage: true });
  tap(['report.png', 'reports.png', 'report-signed.png'].every(f => fs.statSync(path.join(shotDir, f)).size > 1000),
      'the report pages are captured as screenshots');

  // ---- language switch ----
  await p1.goto(url + '/overview');
  await Promise.all([p1.waitForNavigation(), p1.click('#lang')]);
  tap((await p1.textContent('h1')) === 'Overview' && (await p1.getAttribute('html', 'lang')) === 'en', 'the language switch gives the English overview');
  await Promise.all([p1.waitForNavigation(), p1.click('#lang')]);
  tap((await p1.textContent('h1')) === 'Tổng quan', 'and back to Vietnamese');

  // ---- CSV ----
  const csv = await p1.request.get(url + '/schools.csv');
  const text = (await csv.text()).replace(/^\ufeff/, '');
  tap(csv.headers()['content-type'].startsWith('text/csv') && text.split('\r\n')[0] === 'code,name,commune,level,enrolled_pcs,expected_pcs'
      && text.includes('"A1"') && !text.includes('"B1"'), 'the CSV export holds the officer\'s school only');

  // ---- accounts and TOTP enrolment from the console ----
  await pa.goto(url + '/admin/users');
  await pa.fill('#new-name', 'browseru'); await pa.fill('#new-role', 'auditor');
  await Promise.all([pa.waitForNavigation(), pa.click('#user-create')]);
  tap(/^[A-Za-z0-9]{16}$/.test(await pa.textContent('#new-password')), 'the admin adds an account from the users page; its one-time password shows once');
  await p1.goto(url + '/account/totp');
  const secret = await p1.textContent('#totp-secret');
  await p1.screenshot({ path: path.join(shotDir, 'totp.png'), fullPage: true });
  await p1.fill('#totp-password', users.sch.password); await p1.fill('#totp-code', totp(secret));
  await Promise.all([p1.waitForNavigation(), p1.click('#totp-save')]);
  tap(/^[A-Z2-7]{32}$/.test(secret) && (await p1.textContent('#totp-state')).includes('đã bật'),
      'a school officer enrols an authenticator from its TOTP page');

  // ---- admin pages that change things: a school, an IOC list, the rule bundle ----
  await pa.goto(url + '/admin/schools');
  await pa.fill('#school-code', 'BR1'); await pa.fill('#school-name', 'Trường Tiểu học Bình Minh');
  await pa.fill('#school-commune', 'Xã C'); await pa.fill('#school-level', '2'); await pa.fill('#school-pcs', '25');
  await Promise.all([pa.waitForNavigation(), pa.click('#school-save')]);
  let listed = await pa.$$eval('#admin-schools tr td:nth-child(2)', tds => tds.map(t => t.textContent));
  tap(pa.url().endsWith('/admin/schools') && listed.includes('Trường Tiểu học Bình Minh'), 'the admin adds a school from the schools page');
  await Promise.all([pa.waitForNavigation(), pa.click('#admin-schools a[href="/admin/schools/BR1"]')]);
  await pa.fill('#school-name', 'Trường Tiểu học Bình Minh 2');
  await Promise.all([pa.waitForNavigation(), pa.click('#school-save')]);
  listed = await pa.$$eval('#admin-schools tr td:nth-child(2)', tds => tds.map(t => t.textContent));
  tap(listed.includes('Trường Tiểu học Bình Minh 2') && !listed.includes('Trường Tiểu học Bình Minh'), 'and edits it from its edit page');
  await pa.screenshot({ path: path.join(shotDir, 'admin-schools.png'), fullPage: true });
  await pa.goto(url + '/admin/publish');
  await pa.fill('#ioc-text', 'evil.example\n203.0.113.9\n');
  await Promise.all([pa.waitForNavigation(), pa.click('#publish-ioc-go')]);
  tap(/^\d+$/.test(await pa.textContent('#published-version')), 'the admin publishes an IOC list from the publish page; its signed version shows');
  await Promise.all([pa.waitForNavigation(), pa.click('#publish-rules-go')]);
  tap(/^\d+$/.test(await pa.textContent('#published-version')) && (await pa.textContent('#published')).includes('YARA'),
      'and the rule bundle, compiled and signed by the collector');
  await pa.screenshot({ path: path.join(shotDir, 'publish.png'), fullPage: true });
  await pa.goto(url + '/admin/audit');
  const audit2 = await pa.textContent('#audit');
  tap(['school.add', 'school.edit', 'publish.ioc', 'publish.rules'].every(a => audit2.includes(a)), 'the school changes and publications are in the audit log');

  // ---- alert volume chart, and the commune page's score column ----
  await p1.goto(url + '/alerts');
  await p1.waitForSelector('#volume-chart[data-kinds] canvas', { timeout: 10000 });
  await p1.locator('#volume').scrollIntoViewIfNeeded();
  await p1.screenshot({ path: path.join(shotDir, 'alert-volume.png'), fullPage: true });
  await Promise.all([p1.waitForNavigation(), p1.click('#volume-link')]);
  await p1.waitForSelector('#volume-chart[data-kinds] canvas', { timeout: 10000 });
  const volRows = await p1.$$eval('#volume-table tr td:nth-child(3)', tds => tds.map(t => Number(t.textContent)));
  tap(Number(await p1.getAttribute('#volume-chart', 'data-kinds')) >= 1 && volRows.reduce((a, b) => a + b, 0) >= 2,
      'the alerts page draws the alert volume by kind with uPlot; its link opens the same figures as a table');
  await p1.screenshot({ path: path.join(shotDir, 'alert-volume-table.png'), fullPage: true });
  await pa.goto(url + '/commune?name=X%C3%A3%20A');
  const scores = await pa.$$eval('#schools td.score', tds => tds.map(t => t.textContent));
  tap(scores.length === 1 && /^\d+\.\d$/.test(scores[0]), `the commune page shows each school's latest score (${scores})`);

  tap(dialogs.length === 0, `no script from the data ran (dialogs: ${dialogs.length})`);

  // ---- accessibility: axe-core on each main page (CSP bypassed only to inject axe) ----
  const cx = await newContext({ bypassCSP: true });
  const px = await open(cx);
  await login(px, 'admin', totp(users.admin.totp));
  for (const pg of ['/login', '/overview', '/schools/A1', '/pcs/pcA1', '/alerts', '/admin/audit', '/admin/users']) {
    await px.goto(url + pg);
    await px.addScriptTag({ path: axePath });
    const res = await px.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
    const bad = res.violations.filter(v => v.impact === 'serious' || v.impact === 'critical');
    if (!tap(bad.length === 0, `axe-core: no serious or critical violation on ${pg}`))
      for (const v of bad) console.log(`# ${v.id} (${v.impact}): ${v.nodes.length} node(s) ${v.nodes[0]?.target}`);
  }
  for (const pg of ['/reports', '/reports/1', '/commune?name=X%C3%A3%20A', '/soc', '/account/totp', '/admin/schools',
                    '/admin/schools/A1', '/admin/publish', '/alerts/volume']) {
    await px.goto(url + pg);
    await px.addScriptTag({ path: axePath });
    const res = await px.evaluate(async () => await window.axe.run(document, { resultTypes: ['violations'] }));
    const bad = res.violations.filter(v => v.impact === 'serious' || v.impact === 'critical');
    if (!tap(bad.length === 0, `axe-core: no serious or critical violation on ${pg}`))
      for (const v of bad) console.log(`# ${v.id} (${v.impact}): ${v.nodes.length} node(s) ${v.nodes[0]?.target}`);
  }
} catch (e) {
  tap(false, 'the browser suite ran to the end: ' + e.message.split('\n')[0]);
  console.error(e.stack);
} finally {
  await browser.close();
}
console.log(`# screenshots in ${shotDir}`);
process.exit(failed ? 1 : 0);
