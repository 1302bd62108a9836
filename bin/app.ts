#!/usr/bin/env node
/**
 * CDK app entry (`cdk.json`: `npx tsx bin/app.ts`): parse the configuration
 * once, build the stacks. Wiring only; see lib/app.ts and lib/config.ts.
 */
import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app.js';
import { ConfigError, loadConfig } from '../lib/config.js';

const app = new App();
try {
  const config = loadConfig({ getContext: (key) => app.node.tryGetContext(key) });
  // A new token per synth makes CloudFormation re-run the image mirror on every deploy.
  buildApp(app, config, { imageRefreshToken: new Date().toISOString() });
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
app.synth();
