/**
 * Builds the whole deployment into a CDK App: three thin stacks wired with the
 * parsed configuration, cdk-nag's AwsSolutions checks, and tags. `bin/app.ts`
 * calls this for `cdk synth`/`deploy`; tests call it to build the same thing.
 */
import { type App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { AppConfig } from './config.js';
import { ApiStack } from './stacks/api-stack.js';
import { FoundationStack } from './stacks/foundation-stack.js';
import { ServiceStack } from './stacks/service-stack.js';

export interface BuildOptions {
  /**
   * A value that changes on every synth (e.g. the synth time): the image mirror
   * then runs on every deploy. @default a constant (the mirror runs when its settings change)
   */
  readonly imageRefreshToken?: string;
  /** Register cdk-nag's AwsSolutions checks on the app. @default true */
  readonly nag?: boolean;
}

/** The stacks of one stage. */
export interface FaceVerificationStacks {
  readonly foundation: FoundationStack;
  readonly service: ServiceStack;
  readonly api: ApiStack;
}

/** Stack names of a stage (what `cdk deploy <name>` takes). */
export function stackNames(stage: string): { foundation: string; service: string; api: string } {
  const prefix = `FaceVerification-${stage}`;
  return { foundation: `${prefix}-Foundation`, service: `${prefix}-Service`, api: `${prefix}-Api` };
}

/** Adds the deployment's stacks to `app`. */
export function buildApp(app: App, config: AppConfig, options: BuildOptions = {}): FaceVerificationStacks {
  const names = stackNames(config.stage);
  const env = config.env.account || config.env.region ? { account: config.env.account, region: config.env.region } : undefined;
  const common = { env, config };

  const foundation = new FoundationStack(app, names.foundation, {
    ...common,
    description: 'Face verification: network, operator secrets, alarm topic',
  });
  const service = new ServiceStack(app, names.service, {
    ...common,
    foundation,
    imageRefreshToken: options.imageRefreshToken,
    description: 'Face verification: container image supply and the ECS service behind an internal ALB',
  });
  const api = new ApiStack(app, names.api, {
    ...common,
    foundation,
    service,
    description: 'Face verification: REST API, functions, WAF, dashboard and alarms',
  });

  Tags.of(app).add('project', 'face-verification');
  Tags.of(app).add('stage', config.stage);
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { foundation, service, api };
}
