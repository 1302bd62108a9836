/**
 * A small real HTTP server on 127.0.0.1 that speaks the two extensions' documented contract:
 * requests are validated with the contract's own zod schemas (refusals are the real ApiError
 * problem bodies), compare-face-embeddings-batch scores with the embedded engine's score table,
 * verify-faces answers a fixed, schema-checked shape. For client and CLI tests that must pass
 * before the local gateway has these routes.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CompareFaceEmbeddingsBatchRequestSchema,
  CompareFaceEmbeddingsBatchResponseSchema,
  parseRequest,
  PATHS,
  VerifyFacesRequestSchema,
  VerifyFacesResponseSchema,
} from '../../lambda/shared/contract.js';
import { ApiError, PROBLEM_CONTENT_TYPE } from '../../lambda/shared/problem.js';
import { loadScoreTable, scoreEmbeddings } from '../../lambda/shared/score-table.js';
import { ENGINE_SCORE_TABLE_PATH } from '../../local/engine/score.js';

export interface ContractServer {
  readonly url: string;
  readonly received: Array<{ path: string; authorization?: string; body: unknown }>;
  close(): Promise<void>;
}

/** What verify-faces answers here (valid per VerifyFacesResponseSchema). */
export const VERIFY_ANSWER = VerifyFacesResponseSchema.parse({
  similarity: 91,
  face1: { confidence: 0.99, boundingBox: { x: 1, y: 2, width: 30, height: 40 } },
  face2: { confidence: 0.98, boundingBox: { x: 5, y: 6, width: 70, height: 80 } },
  unprocessedFaceCount1: 0,
  unprocessedFaceCount2: 2,
});

export async function startContractServer(): Promise<ContractServer> {
  const table = loadScoreTable(ENGINE_SCORE_TABLE_PATH);
  const received: ContractServer['received'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const requestId = `rid-${received.length + 1}`;
      try {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          throw new ApiError('invalid-json', 'The request body is not valid JSON.');
        }
        received.push({ path: req.url ?? '', authorization: req.headers.authorization, body });
        let answer: unknown;
        if (req.url === PATHS.verifyFaces) {
          parseRequest(VerifyFacesRequestSchema, body);
          answer = VERIFY_ANSWER;
        } else if (req.url === PATHS.compareFaceEmbeddingsBatch) {
          const request = parseRequest(CompareFaceEmbeddingsBatchRequestSchema, body);
          const similarities = request.embeddings.map((candidate) => {
            const score = scoreEmbeddings(table, request.embedding!, candidate!);
            if (score === 'refuse') throw new ApiError('validation-error', 'embeddings: refused by the score table');
            return score;
          });
          answer = CompareFaceEmbeddingsBatchResponseSchema.parse({ similarities });
        } else {
          throw new ApiError('not-found', `No route for ${req.method} ${req.url}.`);
        }
        res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': requestId }).end(JSON.stringify(answer));
      } catch (error) {
        const apiError = error instanceof ApiError ? error : new ApiError('internal-error', 'unexpected');
        res.writeHead(apiError.status, { 'content-type': PROBLEM_CONTENT_TYPE, 'x-request-id': requestId }).end(JSON.stringify(apiError.toProblem(requestId)));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
