import { chromium } from 'playwright';
const base = 'http://gpu-box.lan:3999';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless','--no-sandbox','--disable-gpu','--disable-quic','--host-resolver-rules=MAP gpu-box.lan 127.0.0.1'] });
const page = await browser.newPage({ viewport: { width: 1366, height: 800 } });
const errs = []; page.on('pageerror', e => errs.push(String(e)));
await page.goto(base + '/login');
await page.waitForSelector('body[data-hydrated=true]');
await page.fill('#login-name', 'e2e-admin'); await page.fill('input[name=password]', 'e2e password 123');
await page.click('button[type=submit]'); await page.waitForURL(base + '/');
for (const p of ['/workers', '/account', '/runs/1']) { await page.goto(base + p); await page.waitForSelector('body[data-hydrated=true]'); await page.screenshot({ path: `/tmp/shot${p.replace(/\//g,'_')}.png` }); }
console.log('errors', errs);
await browser.close();
