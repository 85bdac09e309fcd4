/**
 * Content over real HTTP against a real gateway: SOAP records, PUT
 * /content/{id} uploads (verified, streamed, role-checked) and GET /dl/{token}
 * downloads (signed per-task links, Range, ETag, 403 for anything else).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Content } from '../../src/domain/content.js';
import type { Task, TaskStatus } from '../../src/domain/tasks.js';
import { TypeormTransactor } from '../../src/persistence/transactor.js';
import { DownloadLinks, downloadLinkKey } from '../../src/security/download-links.js';
import { SecretBox } from '../../src/security/secret-box.js';
import { imeiN } from '../support/fixtures.js';
import { call, faultOf, type SoapClient, soapClient } from '../support/soap.js';
import { ADMIN, startTestGateway, type TestGateway } from '../support/test-gateway.js';

const MAX = 4 * 1024 * 1024;
// Larger than any stream buffer (64 KiB) many times over: served and taken in chunks.
const PACKAGE = crypto.randomBytes(3 * 1024 * 1024 + 123);
const SHA = crypto.createHash('sha256').update(PACKAGE).digest('hex');
const pw = 'content-password-1';

let gw: TestGateway;
let admin: SoapClient;
let stores: TypeormTransactor;
const sessions: Record<string, string> = {};

beforeAll(async () => {
  gw = await startTestGateway({ overrides: { contentMaxBytes: MAX } });
  admin = await soapClient(gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
  for (const role of ['bulk', 'care', 'readonly'] as const) {
    await gw.auth.createUser(`u-${role}`, pw, role);
    sessions[role] = await gw.auth.login(`u-${role}`, pw);
  }
  sessions.admin = await gw.auth.login(ADMIN.username, ADMIN.password);
  stores = new TypeormTransactor(gw.dataSource, new SecretBox(crypto.randomBytes(32)));
});
afterAll(() => gw?.stop());

async function createContent(patch: Record<string, unknown> = {}): Promise<string> {
  const r = await call<{ contentId: string }>(admin, 'createContent', {
    userSession: '',
    content: { name: 'acme-fw', version: '2.0', kind: 'firmware', sha256: SHA, size: PACKAGE.length, ...patch },
  });
  return r.contentId;
}

/** session null: no Authorization header. */
function put(contentId: string, body: Buffer | undefined, session: string | null = sessions.bulk!) {
  return fetch(`${gw.url}/content/${contentId}`, {
    method: 'PUT',
    headers: session === null ? {} : { authorization: `Bearer ${session}` },
    ...(body !== undefined && { body }),
  });
}

const contentFiles = () => fs.readdirSync(gw.config.contentDir);

let taskN = 0;
async function taskFor(contentId: string | undefined, status: TaskStatus = 'QUEUED'): Promise<Task> {
  const now = new Date();
  const t: Task = {
    taskId: `t-${++taskN}-${crypto.randomUUID()}`,
    deviceId: imeiN(taskN),
    operation: { name: 'CUSTOM', commands: [] },
    status,
    results: [],
    bOptin: false,
    acceptDevicePolicy: 30,
    testCycle: false,
    deadline: new Date(now.getTime() + 3_600_000),
    ...(contentId && { contentId }),
    createdBy: 'admin',
    createdAt: now,
    updatedAt: now,
  };
  await stores.run((s) => s.tasks.insert(t, 'created'));
  return t;
}

describe('content records over SOAP', () => {
  it('creates an uploadable record AWAITING_UPLOAD and an external one READY, and lists and gets them', async () => {
    const uploaded = await createContent();
    const external = await createContent({ url: 'https://cdn.example.com/acme-2.0.bin', kind: 'software' });
    const got = await call<{ content: Record<string, unknown> }>(admin, 'getContent', { userSession: '', contentId: uploaded });
    expect(got.content).toMatchObject({ contentId: uploaded, state: 'AWAITING_UPLOAD', sha256: SHA, kind: 'firmware' });
    expect(Number(got.content.size)).toBe(PACKAGE.length);
    expect(got.content.url).toBeUndefined();
    const ext = await call<{ content: Record<string, unknown> }>(admin, 'getContent', { userSession: '', contentId: external });
    expect(ext.content).toMatchObject({ state: 'READY', url: 'https://cdn.example.com/acme-2.0.bin', kind: 'software' });
    const list = await call<{ content: { contentId: string }[] }>(admin, 'getContents', { userSession: '', offset: 0, limit: 100 });
    expect(list.content.map((c) => c.contentId)).toEqual(expect.arrayContaining([uploaded, external]));
  });

  it('answers a createContent retried with the same WS-Addressing MessageID with the first id, creating one record', async () => {
    const client = await soapClient(gw.url, 'BulkOperationsManager', { kind: 'text', ...ADMIN });
    client.addSoapHeader(`<wsa:MessageID xmlns:wsa="http://www.w3.org/2005/08/addressing">urn:uuid:${crypto.randomUUID()}</wsa:MessageID>`);
    const args = { userSession: '', content: { name: 'retried', version: '1', kind: 'software', sha256: SHA, size: PACKAGE.length } };
    const first = await call<{ contentId: string }>(client, 'createContent', args);
    const again = await call<{ contentId: string }>(client, 'createContent', args);
    expect(again.contentId).toBe(first.contentId);
    const all = await call<{ content: { name: string }[] }>(admin, 'getContents', { userSession: '', offset: 0, limit: 100 });
    expect(all.content.filter((c) => c.name === 'retried')).toHaveLength(1);
    // Without a MessageID, every call is new work.
    const one = await createContent();
    const two = await createContent();
    expect(two).not.toBe(one);
  });

  it('refuses a bad hash, a size over CONTENT_MAX_BYTES, an unknown capability, and answers NotFound for an unknown id', async () => {
    expect((await faultOf(createContent({ sha256: 'xyz' }))).code).toBe('InvalidArgument');
    expect((await faultOf(createContent({ size: MAX + 1 })))).toMatchObject({ code: 'InvalidArgument' });
    expect((await faultOf(createContent({ capabilityOids: { oid: ['no-such-cap'] } })))).toMatchObject({ code: 'InvalidArgument' });
    expect((await faultOf(call(admin, 'getContent', { userSession: '', contentId: 'no-such-content' }))).code).toBe('NotFound');
    expect((await faultOf(call(admin, 'deleteContent', { userSession: '', contentId: 'no-such-content' }))).code).toBe('NotFound');
  });
});

describe('PUT /content/{contentId}', () => {
  it('answers 401 without a userSession and 403 for a care or readonly caller, keeping nothing', async () => {
    const id = await createContent();
    expect((await put(id, PACKAGE, null)).status).toBe(401);
    expect((await put(id, PACKAGE, 'not-a-session')).status).toBe(401);
    expect((await put(id, PACKAGE, sessions.care)).status).toBe(403);
    expect((await put(id, PACKAGE, sessions.readonly)).status).toBe(403);
    expect(contentFiles()).not.toContain(id);
  });

  it('answers 404 for an unknown content id', async () => {
    expect((await put('no-such-content', PACKAGE)).status).toBe(404);
  });

  it('refuses bytes whose SHA-256 differs with 422, keeps nothing, and leaves the record awaiting its upload', async () => {
    const id = await createContent();
    const wrong = Buffer.from(PACKAGE);
    wrong[wrong.length - 1]! ^= 1;
    const r = await put(id, wrong);
    expect(r.status).toBe(422);
    expect(contentFiles()).toEqual([]);
    expect((await gw.content.get(id)).state).toBe('AWAITING_UPLOAD');
  });

  it('refuses a body of another size with 422, a longer one sent chunked included', async () => {
    const id = await createContent();
    expect((await put(id, PACKAGE.subarray(1))).status).toBe(422);
    const longer = Buffer.concat([PACKAGE, Buffer.from('x')]);
    const chunked = await fetch(`${gw.url}/content/${id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${sessions.bulk}` },
      body: new ReadableStream({
        start(c) {
          c.enqueue(longer);
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(422);
    expect(contentFiles()).toEqual([]);
  });

  it('answers 422 to a streamed body that runs past the record while it is still being sent', async () => {
    const id = await createContent();
    let sent = 0;
    // The answer arrives while the body is still going out, and the server then closes the
    // connection without reading the rest; the client sees the 422, or (the close resetting the
    // connection before the answer is read) a reset. Either way the upload stops early.
    const status = await new Promise<number | 'reset'>((resolve, reject) => {
      const req = http.request(`${gw.url}/content/${id}`, { method: 'PUT', headers: { authorization: `Bearer ${sessions.bulk}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (err) => (sent > 0 ? resolve('reset') : reject(err)));
      const pump = () => {
        // 1 MiB a time, up to 64 MiB: the answer comes long before the end.
        if (sent >= 64 || req.destroyed) return void req.end();
        sent++;
        req.write(crypto.randomBytes(1024 * 1024), () => setTimeout(pump, 5));
      };
      pump();
    });
    expect([422, 'reset']).toContain(status);
    expect(sent).toBeLessThan(64);
    expect(contentFiles()).toEqual([]);
  });

  it('answers 413 to a body announced larger than CONTENT_MAX_BYTES without reading it', async () => {
    const id = await createContent();
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${gw.url}/content/${id}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${sessions.bulk}`, 'content-length': String(MAX + 1) },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
        req.destroy();
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(status).toBe(413);
    expect(contentFiles()).toEqual([]);
  });

  it('stores matching bytes (201, READY), then refuses a second upload with 409', async () => {
    const id = await createContent();
    const r = await put(id, PACKAGE, sessions.admin);
    expect(r.status).toBe(201);
    expect(await r.json()).toMatchObject({ contentId: id, state: 'READY', sha256: SHA, size: PACKAGE.length });
    expect(fs.readFileSync(path.join(gw.config.contentDir, id)).equals(PACKAGE)).toBe(true);
    expect((await gw.content.get(id)).state).toBe('READY');
    expect((await put(id, PACKAGE)).status).toBe(409);
    expect(contentFiles()).toEqual([id]);
    await gw.content.delete({ caller: 'admin', operation: 'test' }, id);
  });
});

describe('deleteContent', () => {
  it('is refused with InvalidState while an open task uses the content, and removes record and file after', async () => {
    const id = await createContent();
    expect((await put(id, PACKAGE)).status).toBe(201);
    const task = await taskFor(id, 'SCHEDULED');
    await taskFor(id, 'COMPLETED');
    expect((await faultOf(call(admin, 'deleteContent', { userSession: '', contentId: id }))).code).toBe('InvalidState');
    expect(contentFiles()).toContain(id);
    await stores.run((s) => s.tasks.transition(task.taskId, 'CANCELLED', { event: 'cancelled' }, Date.now()));
    await call(admin, 'deleteContent', { userSession: '', contentId: id });
    expect((await faultOf(call(admin, 'getContent', { userSession: '', contentId: id }))).code).toBe('NotFound');
    expect(contentFiles()).not.toContain(id);
  });
});

describe('GET /dl/{token}', () => {
  let content: Content;
  let task: Task;
  let url: string;
  let links: DownloadLinks;

  beforeAll(async () => {
    const id = await createContent();
    expect((await put(id, PACKAGE)).status).toBe(201);
    content = await gw.content.get(id);
    task = await taskFor(id);
    url = gw.content.pkgUrlFor(task, content);
    links = new DownloadLinks(downloadLinkKey(Buffer.from(gw.config.secretKey!, 'hex')), gw.url);
  });

  it('serves the whole package with Content-Length, ETag and Accept-Ranges', async () => {
    expect(url.startsWith(`${gw.url}/dl/`)).toBe(true);
    const r = await fetch(url);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-length')).toBe(String(PACKAGE.length));
    expect(r.headers.get('etag')).toBe(`"${SHA}"`);
    expect(r.headers.get('accept-ranges')).toBe('bytes');
    expect(r.headers.get('content-type')).toBe('application/octet-stream');
    expect(Buffer.from(await r.arrayBuffer()).equals(PACKAGE)).toBe(true);
  });

  it('resumes from the middle with Range: the parts reassemble to the package and its SHA-256', async () => {
    const cut = 1_000_003;
    const head = await fetch(url, { headers: { range: `bytes=0-${cut - 1}` } });
    expect(head.status).toBe(206);
    expect(head.headers.get('content-range')).toBe(`bytes 0-${cut - 1}/${PACKAGE.length}`);
    const tail = await fetch(url, { headers: { range: `bytes=${cut}-`, 'if-range': `"${SHA}"` } });
    expect(tail.status).toBe(206);
    expect(tail.headers.get('content-length')).toBe(String(PACKAGE.length - cut));
    const whole = Buffer.concat([Buffer.from(await head.arrayBuffer()), Buffer.from(await tail.arrayBuffer())]);
    expect(crypto.createHash('sha256').update(whole).digest('hex')).toBe(SHA);
  });

  it('serves a suffix range, answers 416 with bytes */size to an unsatisfiable one, and 304 to a matching If-None-Match', async () => {
    const last = await fetch(url, { headers: { range: 'bytes=-10' } });
    expect(last.status).toBe(206);
    expect(Buffer.from(await last.arrayBuffer()).equals(PACKAGE.subarray(-10))).toBe(true);
    const beyond = await fetch(url, { headers: { range: `bytes=${PACKAGE.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${PACKAGE.length}`);
    await beyond.arrayBuffer();
    // (node:http: fetch adds Cache-Control: no-cache to a conditional request, which rightly defeats it.)
    const cached = await new Promise<number>((resolve, reject) =>
      http
        .get(url, { headers: { 'if-none-match': `"${SHA}"` } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
        .on('error', reject),
    );
    expect(cached).toBe(304);
  });

  it('answers 403 and serves nothing to expired, tampered, foreign-key and malformed tokens', async () => {
    const expired = links.url({ taskId: task.taskId, contentId: content.contentId, expiresAt: Date.now() - 1 });
    const [payload, mac] = url.split('/dl/')[1]!.split('.');
    const tampered = `${gw.url}/dl/${payload}A.${mac}`;
    const foreign = new DownloadLinks(downloadLinkKey(crypto.randomBytes(32)), gw.url).url({
      taskId: task.taskId,
      contentId: content.contentId,
      expiresAt: Date.now() + 60_000,
    });
    for (const u of [expired, tampered, foreign, `${gw.url}/dl/garbage`]) {
      const r = await fetch(u);
      expect(r.status, u).toBe(403);
      expect(await r.text()).toBe('forbidden\n');
    }
  });

  it('answers 403 to a link of another task (one not delivering this content) and to a task no longer open', async () => {
    const other = await taskFor(undefined);
    const otherLink = links.url({ taskId: other.taskId, contentId: content.contentId, expiresAt: Date.now() + 60_000 });
    expect((await fetch(otherLink)).status).toBe(403);
    const done = await taskFor(content.contentId);
    const doneLink = gw.content.pkgUrlFor(done, content);
    expect((await fetch(doneLink, { method: 'HEAD' })).status).toBe(200);
    await stores.run((s) => s.tasks.transition(done.taskId, 'CANCELLED', { event: 'cancelled' }, Date.now()));
    expect((await fetch(doneLink)).status).toBe(403);
  });

  it('gives an external record its own URL as PkgURL', async () => {
    const ext = await gw.content.get(await createContent({ url: 'https://cdn.example.com/p.bin' }));
    expect(gw.content.pkgUrlFor(task, ext)).toBe('https://cdn.example.com/p.bin');
  });

  it('counts downloads started, completed, refused and bytes in /metrics', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('dmwsi_downloads_started_total')).toBeGreaterThanOrEqual(5);
    expect(value('dmwsi_downloads_completed_total')).toBeGreaterThanOrEqual(4);
    expect(value('dmwsi_downloads_refused_total')).toBeGreaterThanOrEqual(6);
    expect(value('dmwsi_download_bytes_total')).toBeGreaterThanOrEqual(2 * PACKAGE.length);
    // Every download has closed; the peak says how many were ever sent at once.
    expect(value('dmwsi_downloads_in_flight')).toBe(0);
    expect(value('dmwsi_downloads_in_flight_peak')).toBeGreaterThanOrEqual(1);
  });
});
