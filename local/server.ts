/**
 * `npm start`: serves the face verification API on http://127.0.0.1:8080 with the
 * embedded engine (or a real vendor container with BACKEND_URL). See README.md.
 */
import { PATHS } from '../lambda/shared/contract.js';
import { cliOrExit } from '../scripts/cli.js';
import { gatewayEnvFrom } from './config.js';
import { startGateway } from './gateway.js';

/** `npm start -- --help`: configuration is by environment variable only (see README.md, "Local configuration (npm start)"). */
export const START_USAGE = `usage: [VAR=value ...] npm start

Serves the Face Verification API on http://127.0.0.1:8080 with the embedded open-source
engine (or a real vendor container with BACKEND_URL). Configured by environment variables:

  PORT (8080), HOST (127.0.0.1), API_KEYS (generated), BACKEND_URL (embedded engine),
  BACKEND_TIMEOUT_MS (25000), HEALTH_PATH, JWT_ISSUER, JWT_AUDIENCE, JWT_JWKS_URI, JWT_USAGE_KEY,
  COMPARE_MODE (table|forward), SCORE_TABLE, IMAGE_FETCH_ALLOW_CIDRS, IMAGE_FETCH_MAX_BYTES,
  IMAGE_FETCH_TIMEOUT_MS, RATE_LIMIT_RPS, RATE_LIMIT_BURST, INTEGRATION_TIMEOUT_MS,
  CORS_ALLOW_ORIGINS (none), ENGINE_WORKERS (one per core)

  -h, --help   this text`;

/**
 * One GET of the backend's health path.
 * @returns why the backend is not usable, or undefined when it answered 2xx/3xx
 */
async function probeBackend(baseUrl: string, healthPath: string, timeoutMs = 2000): Promise<string | undefined> {
  try {
    const response = await fetch(new URL(healthPath, baseUrl), { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await response.body?.cancel();
    return response.status < 400 ? undefined : `answered GET ${healthPath} with HTTP ${response.status}`;
  } catch (error) {
    const name = (error as Error).name;
    return name === 'TimeoutError' ? `did not answer GET ${healthPath} within ${timeoutMs} ms` : `did not answer GET ${healthPath} (connection failed)`;
  }
}

async function main(): Promise<void> {
  // No flags besides --help: a typo must not start a server that ignores it.
  cliOrExit(process.argv.slice(2), { usage: START_USAGE });
  const started = performance.now();
  let env;
  try {
    env = gatewayEnvFrom(process.env);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(2);
  }
  const gateway = await startGateway(env);
  const generated = env.API_KEYS.length === 0;
  const say = (line = '') => process.stderr.write(`${line}\n`);
  say(`Face Verification API listening on ${gateway.url} (${Math.round(performance.now() - started)} ms)`);
  say(`  backend: ${gateway.embeddedEngine ? 'embedded engine (open-source model, not the vendor\'s)' : gateway.backendUrl}`);
  say(`  Swagger UI: ${gateway.url}${PATHS.swaggerUi}`);
  if (gateway.compareWatch) {
    const verdict = gateway.compareWatch.forwarding() ? 'DISAGREES with the backend: compare forwards' : (gateway.compareWatch.last()?.verdict ?? 'not checked yet');
    say(`  compare: score table checked against the backend now and every ${env.COMPARE_CHECK_INTERVAL_S ?? 300} s (${verdict})`);
  }
  if (generated) {
    // Printed once, to the terminal that started the server, so a developer can paste it; never logged per request.
    say(`  API key (generated for this run; set API_KEYS to choose your own): ${gateway.apiKeys[0]}`);
    say('');
    say(`  { printf '{"image":{"bytes":"'; base64 -w0 node_modules/@vladmandic/face-api/demo/sample1.jpg; printf '"},"maxFaceCount":10}'; } | \\`);
    say(`    curl -s -X POST "${gateway.url}${PATHS.detectFaces}" \\`);
    say(`      -H "Authorization: ApiKey ${gateway.apiKeys[0]}" -H "Content-Type: application/json" --data-binary @-`);
    say('');
    say('  The key changes on every start. To keep it (e.g. for Swagger UI\'s Authorize), start with:');
    say(`    API_KEYS=${gateway.apiKeys[0]} npm start`);
  }
  if (!gateway.embeddedEngine) {
    // One probe at start: a dead BACKEND_URL otherwise only shows as 503s on the first requests.
    const problem = await probeBackend(gateway.backendUrl, env.HEALTH_PATH);
    if (problem) {
      say('');
      say(`  warning: BACKEND_URL ${gateway.backendUrl} ${problem}; requests answer 503 until it does.`);
      say('  Is the container running? (docker compose up -d; docker compose logs face-verification-api)');
    }
  }
  say('');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: shutting down`);
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Said only once the signal handlers are in place: from here on Ctrl+C drains instead of killing.
  say('Ctrl+C stops the server. One JSON log line per request follows on stdout.');
}

main().catch((error: unknown) => {
  process.stderr.write(`failed to start: ${(error as Error).message}\n`);
  process.exit(1);
});
