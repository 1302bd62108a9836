/** Starts the real local gateway (what `npm start` runs) on an ephemeral port, capturing its log lines. */
import { gatewayEnvFrom } from '../../local/config.js';
import { startGateway, type RunningGateway } from '../../local/gateway.js';

export interface TestGateway extends RunningGateway {
  readonly logs: string[];
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; headers: Headers; body: any; text: string }>;
}

export async function startTestGateway(env: Record<string, string>): Promise<TestGateway> {
  const logs: string[] = [];
  const gateway = await startGateway(gatewayEnvFrom({ PORT: '0', ...env }), { log: (line) => logs.push(line) });
  return Object.assign(gateway, {
    logs,
    async post(path: string, body: unknown, headers: Record<string, string> = {}) {
      const response = await fetch(`${gateway.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `ApiKey ${gateway.apiKeys[0]}`, ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return { status: response.status, headers: response.headers, body: parsed, text };
    },
  });
}
