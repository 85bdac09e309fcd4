/** A small HTTP client for the web console: keeps its cookies, reads form tokens from pages, never follows redirects. */

export interface ConsoleResponse {
  status: number;
  location: string | null;
  headers: Headers;
  text: string;
}

export class ConsoleClient {
  readonly cookies = new Map<string, string>();

  constructor(readonly baseUrl: string) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(method: string, path: string, init: { form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<ConsoleResponse> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.cookies.size) headers.cookie = this.cookieHeader();
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const r = await fetch(this.baseUrl + path, { method, headers, body, redirect: 'manual' });
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = (pair ?? '').indexOf('=');
      const name = (pair ?? '').slice(0, eq);
      const value = (pair ?? '').slice(eq + 1);
      if (/Max-Age=0/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return { status: r.status, location: r.headers.get('location'), headers: r.headers, text: await r.text() };
  }

  get(path: string, headers?: Record<string, string>): Promise<ConsoleResponse> {
    return this.request('GET', path, headers ? { headers } : {});
  }

  post(path: string, form: Record<string, string>): Promise<ConsoleResponse> {
    return this.request('POST', path, { form });
  }

  /** The CSRF token of the forms on a page. */
  static csrfOf(page: string): string {
    const m = /name="csrf" value="([^"]+)"/.exec(page);
    if (!m) throw new Error('no CSRF field on the page');
    return m[1] as string;
  }

  async signIn(username: string, password: string): Promise<ConsoleResponse> {
    const form = await this.get('/console/login');
    return this.post('/console/login', { csrf: ConsoleClient.csrfOf(form.text), next: '/console/devices', username, password });
  }

  /** The CSRF token of the signed-in session, read from a console page. */
  async csrf(): Promise<string> {
    return ConsoleClient.csrfOf((await this.get('/console/devices')).text);
  }
}
