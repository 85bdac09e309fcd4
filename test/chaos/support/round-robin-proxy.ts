/**
 * A TCP load balancer in the test process: each new connection goes to the
 * next upstream in turn, and to the one after when that refuses (a process
 * killed -9 and not yet back). What devices reach when the gateway runs two
 * DM processes behind one PUBLIC_DM_URL: a session's messages may land on
 * either, which the gateway must serve from Redis alone.
 */
import net from 'node:net';

export class RoundRobinProxy {
  private readonly open = new Set<net.Socket>();
  private next = 0;

  private constructor(
    private readonly server: net.Server,
    private readonly upstreamPorts: number[],
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  static async start(upstreamPorts: number[], port = 0): Promise<RoundRobinProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    return new RoundRobinProxy(server, upstreamPorts);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  private accept(client: net.Socket): void {
    this.open.add(client);
    client.once('close', () => this.open.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    const first = this.next++ % this.upstreamPorts.length;
    this.connect(client, first, 0);
  }

  /** Tries upstream `(first + tried)`, then the following ones; closes the client when none answers. */
  private connect(client: net.Socket, first: number, tried: number): void {
    if (tried >= this.upstreamPorts.length || client.destroyed) {
      client.destroy();
      return;
    }
    const port = this.upstreamPorts[(first + tried) % this.upstreamPorts.length]!;
    const upstream = net.connect({ host: '127.0.0.1', port });
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      this.open.add(upstream);
      upstream.once('close', () => {
        this.open.delete(upstream);
        client.destroy();
      });
      client.once('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.on('error', () => {
      if (!connected) this.connect(client, first, tried + 1);
      else upstream.destroy();
    });
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
