import { chromium } from 'playwright';
const base = 'http://127.0.0.1:3999';
const paths = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless','--no-sandbox','--disable-gpu','--disable-quic'] });
const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
page.on('console', m => console.log('console', m.type(), m.text().slice(0, 1500)));
page.on('pageerror', e => console.log('pageerror', String(e).slice(0, 1500)));
await page.goto(base + '/login');
await page.fill('#login-name', 'e2e-admin'); await page.fill('input[name=password]', 'e2e password 123');
await page.click('button[type=submit]');
await page.waitForTimeout(1500);
for (const p of paths) { console.log('== ', p); await page.goto(base + p); await page.waitForTimeout(2500); console.log('hydrated:', await page.locator('body').getAttribute('data-hydrated')); }
await browser.close();
