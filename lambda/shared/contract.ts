/**
 * The API contract, one source: zod schemas for the vendor's three operations,
 * field for field as in the vendor guide. Validation, TypeScript types and the
 * OpenAPI document (`openapi.ts`) are all derived from these schemas. Metadata uses zod's own
 * `.meta()` (read by zod-to-openapi), so handlers that validate do not bundle the OpenAPI generator.
 */
import * as z from 'zod';
import { base64ImageProblem } from './image-bytes.js';
import { LIMITS } from './limits.js';
import { ApiError, type FieldError } from './problem.js';


/** The paths of the vendor's hosted API, kept identical. */
export const PATHS = {
  detectFaces: '/v1/face-verification/detect-faces',
  getFaceEmbeddings: '/v1/face-verification/get-face-embeddings',
  compareFaceEmbeddings: '/v1/face-verification/compare-face-embeddings',
  /** Extension (not in the vendor's API): two images, one similarity. */
  verifyFaces: '/v1/face-verification/verify-faces',
  /** Extension (not in the vendor's API): one embedding against up to 1,000. */
  compareFaceEmbeddingsBatch: '/v1/face-verification/compare-face-embeddings-batch',
  swaggerUi: '/swagger/index.html',
  openApiDocument: '/swagger/v1/swagger.json',
} as const;

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

const ImageBytes = z
  .string({ error: 'must be a base64 string or null' })
  .superRefine((value, ctx) => {
    const reason = base64ImageProblem(value);
    if (reason) ctx.addIssue({ code: 'custom', message: reason });
  })
  .nullable()
  .optional()
  .meta({ description: 'Base 64 string encoded binary jpeg or png image', example: '/9j/4AAQSkZJRgABAQEAYABgAAD...' });

const ImageUrl = z
  .string({ error: 'must be a URL string or null' })
  .max(LIMITS.maxUrlLength, { error: `must be at most ${LIMITS.maxUrlLength} characters` })
  .refine(isHttpUrl, { error: 'must be an absolute http:// or https:// URL' })
  .nullable()
  .optional()
  .meta({ description: 'URL of a jpeg or png image (http or https, at most 2,048 characters)', example: null });

export const ImageSchema = z
  .object(
    { bytes: ImageBytes, url: ImageUrl },
    { error: (issue) => (issue.input === undefined ? 'is required' : 'must be an object with "bytes" or "url"') },
  )
  .superRefine((image, ctx) => {
    const hasBytes = image.bytes !== null && image.bytes !== undefined;
    const hasUrl = image.url !== null && image.url !== undefined;
    if (hasBytes && hasUrl) ctx.addIssue({ code: 'custom', message: 'give exactly one of image.bytes or image.url, not both' });
    if (!hasBytes && !hasUrl) ctx.addIssue({ code: 'custom', message: 'one of image.bytes or image.url is required' });
  })
  .meta({ id: 'Image', description: 'The image to process: exactly one of `bytes` or `url`.' });

const MaxFaceCount = z
  .number({ error: `must be an integer from ${LIMITS.minFaceCount} to ${LIMITS.maxFaceCount}` })
  .int({ error: 'must be an integer' })
  .min(LIMITS.minFaceCount, { error: `must be at least ${LIMITS.minFaceCount}` })
  .max(LIMITS.maxFaceCount, { error: `must be at most ${LIMITS.maxFaceCount}` })
  .default(LIMITS.defaultFaceCount)
  .meta({ description: 'Maximum number of faces to return (1 to 10)', example: 1 });

/** Request of detect-faces and get-face-embeddings. */
export const FaceImageRequestSchema = z
  .object({ image: ImageSchema, maxFaceCount: MaxFaceCount }, { error: 'the body must be a JSON object' })
  .meta({ id: 'FaceImageRequest',
    example: { image: { bytes: '/9j/4AAQSkZJRgABAQEAYABgAAD...', url: null }, maxFaceCount: 1 },
  });

export const BoundingBoxSchema = z
  .object({
    x: z.number().int().meta({ description: 'Horizontal position of the detected face bounding box' }),
    y: z.number().int().meta({ description: 'Vertical position of the detected face bounding box' }),
    width: z.number().int().meta({ description: 'Width of the detected face bounding box' }),
    height: z.number().int().meta({ description: 'Height of the detected face bounding box' }),
  })
  .meta({ id: 'BoundingBox', description: 'Model for the bounding box of a detected face (pixels of the displayed image)' });

export const FaceSchema = z
  .object({
    confidence: z.number().min(0).max(1).meta({ description: 'Face detection score in [0.0, 1.0] (higher is better)' }),
    boundingBox: BoundingBoxSchema,
  })
  .meta({ id: 'Face', description: 'Model for face detection' });

export const DetectFacesResponseSchema = z
  .object({
    faces: z.array(FaceSchema).nullable().meta({ description: 'Faces found on the image' }),
    unprocessedFaceCount: z.number().int().min(0).meta({
      description: 'Number of faces found on the image but not returned (filtered out by maxFaceCount)',
    }),
  })
  .meta({ id: 'DetectFacesResponse',
    example: { faces: [{ confidence: 0.9876, boundingBox: { x: 120, y: 80, width: 200, height: 250 } }], unprocessedFaceCount: 0 },
  });

const EmbeddingOut = z.array(z.number()).nullable().meta({ description: 'Face verification embedding of the face' });

export const GetFaceEmbeddingsResponseSchema = z
  .object({
    faces: z
      .array(z.object({ face: FaceSchema, embedding: EmbeddingOut }).meta({ id: 'FaceEmbedding' }))
      .nullable()
      .meta({ description: 'Faces found on the image' }),
    unprocessedFaceCount: z.number().int().min(0).meta({
      description: 'Number of faces found on the image but whose embedding was not calculated (filtered out by maxFaceCount)',
    }),
  })
  .meta({ id: 'GetFaceEmbeddingsResponse',
    example: {
      faces: [{ face: { confidence: 0.9876, boundingBox: { x: 120, y: 80, width: 200, height: 250 } }, embedding: [0.123, -0.456, 0.789] }],
      unprocessedFaceCount: 0,
    },
  });

// JSON numbers such as 1e400 parse to Infinity, so finiteness is checked explicitly.
const EmbeddingIn = z
  .array(z.number({ error: 'must be a finite number' }).refine(Number.isFinite, { error: 'must be a finite number' }), {
    error: (issue) => (issue.input === undefined ? 'is required' : 'must be an array of numbers'),
  })
  .min(1, { error: 'must not be empty' })
  .max(LIMITS.maxEmbeddingLength, { error: `must have at most ${LIMITS.maxEmbeddingLength} numbers` })
  .nullable()
  .superRefine((value, ctx) => {
    if (value === null) ctx.addIssue({ code: 'custom', message: 'must be an array of numbers, not null' });
  });

export const CompareFaceEmbeddingsRequestSchema = z
  .object(
    {
      embedding1: EmbeddingIn.meta({ description: 'Embedding to compare', example: [0.123, -0.456, 0.789] }),
      embedding2: EmbeddingIn.meta({ description: 'Embedding to compare with', example: [0.125, -0.45, 0.792] }),
    },
    { error: 'the body must be a JSON object' },
  )
  .superRefine((body, ctx) => {
    if (body.embedding1 && body.embedding2 && body.embedding1.length !== body.embedding2.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['embedding2'],
        message: `must have the same length as embedding1 (${body.embedding1.length}), got ${body.embedding2.length}`,
      });
    }
  })
  .meta({ id: 'CompareFaceEmbeddingsRequest',
    example: { embedding1: [0.123, -0.456, 0.789], embedding2: [0.125, -0.45, 0.792] },
  });

export const CompareFaceEmbeddingsResponseSchema = z
  .object({
    similarity: z.number().int().min(-1).max(100).meta({
      description:
        'Similarity between the two embeddings in [-1, 100] (higher is better). Reject matches below 70. ' +
        'Vendor thresholds: 95 -> FPR 1e-6, 90 -> 1e-5, 80 -> 1e-4, 70 -> 1e-3 (vendor score function only).',
    }),
  })
  .meta({ id: 'CompareFaceEmbeddingsResponse', example: { similarity: 85 } });

// ---- Extensions: not in the vendor's API (DESIGN.md "Beyond the vendor's three operations"). ----

/** Request of the verify-faces extension: two images, each exactly as the vendor operations' `image`. */
export const VerifyFacesRequestSchema = z
  .object(
    {
      // Plain references to Image (a .meta() here would copy its id and break the OpenAPI $ref).
      image1: ImageSchema,
      image2: ImageSchema,
    },
    { error: 'the body must be a JSON object' },
  )
  .meta({ id: 'VerifyFacesRequest',
    example: { image1: { bytes: '/9j/4AAQSkZJRgABAQEAYABgAAD...', url: null }, image2: { bytes: null, url: 'https://example.com/id-photo.jpg' } },
  });

export const VerifyFacesResponseSchema = z
  .object({
    similarity: CompareFaceEmbeddingsResponseSchema.shape.similarity,
    /** The largest face of image1 (the one compared). */
    face1: FaceSchema,
    /** The largest face of image2 (the one compared). */
    face2: FaceSchema,
    unprocessedFaceCount1: z.number().int().min(0).meta({ description: 'Other faces found on image1 and not compared' }),
    unprocessedFaceCount2: z.number().int().min(0).meta({ description: 'Other faces found on image2 and not compared' }),
  })
  .meta({ id: 'VerifyFacesResponse',
    example: {
      similarity: 85,
      face1: { confidence: 0.9876, boundingBox: { x: 120, y: 80, width: 200, height: 250 } },
      face2: { confidence: 0.9712, boundingBox: { x: 64, y: 40, width: 180, height: 224 } },
      unprocessedFaceCount1: 0,
      unprocessedFaceCount2: 1,
    },
  });

/** At most this many candidates per compare-face-embeddings-batch request. */
export const MAX_BATCH_EMBEDDINGS = 1000;

export const CompareFaceEmbeddingsBatchRequestSchema = z
  .object(
    {
      embedding: EmbeddingIn.meta({ description: 'The embedding to compare (the probe)', example: [0.123, -0.456, 0.789] }),
      embeddings: z
        .array(EmbeddingIn, { error: (issue) => (issue.input === undefined ? 'is required' : 'must be an array of embeddings') })
        .min(1, { error: 'must hold at least 1 embedding' })
        .max(MAX_BATCH_EMBEDDINGS, { error: `must hold at most ${MAX_BATCH_EMBEDDINGS} embeddings` })
        .meta({
          description: `Candidates to compare the probe with: 1 to ${MAX_BATCH_EMBEDDINGS}, each as long as \`embedding\``,
          example: [[0.125, -0.45, 0.792], [-0.5, 0.2, 0.1]],
        }),
    },
    { error: 'the body must be a JSON object' },
  )
  .superRefine((body, ctx) => {
    if (!body.embedding || !Array.isArray(body.embeddings)) return;
    const length = body.embedding.length;
    body.embeddings.forEach((candidate, i) => {
      if (candidate && candidate.length !== length) {
        ctx.addIssue({ code: 'custom', path: ['embeddings', i], message: `must have the same length as embedding (${length}), got ${candidate.length}` });
      }
    });
  })
  .meta({ id: 'CompareFaceEmbeddingsBatchRequest',
    example: { embedding: [0.123, -0.456, 0.789], embeddings: [[0.125, -0.45, 0.792], [-0.5, 0.2, 0.1]] },
  });

export const CompareFaceEmbeddingsBatchResponseSchema = z
  .object({
    similarities: z
      .array(CompareFaceEmbeddingsResponseSchema.shape.similarity)
      .meta({ description: 'One similarity per candidate, in the order of `embeddings`; each equals what compare-face-embeddings answers for that pair' }),
  })
  .meta({ id: 'CompareFaceEmbeddingsBatchResponse', example: { similarities: [85, -1] } });

export const ProblemSchema = z
  .object({
    type: z.string().meta({ example: 'urn:face-verification:problem:validation-error' }),
    title: z.string().meta({ example: 'The request is not valid' }),
    status: z.number().int().meta({ example: 400 }),
    detail: z.string().meta({ example: 'image.bytes: must be a JPEG or PNG image' }),
    requestId: z.string().optional().meta({ description: 'Also in the x-request-id response header and the server log' }),
    errors: z
      .array(z.object({ field: z.string(), reason: z.string() }))
      .optional()
      .meta({ description: 'Each invalid field and why it was refused' }),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' });

export type FaceImageRequest = z.infer<typeof FaceImageRequestSchema>;
export type DetectFacesResponse = z.infer<typeof DetectFacesResponseSchema>;
export type GetFaceEmbeddingsResponse = z.infer<typeof GetFaceEmbeddingsResponseSchema>;
export type CompareFaceEmbeddingsRequest = z.infer<typeof CompareFaceEmbeddingsRequestSchema>;
export type CompareFaceEmbeddingsResponse = z.infer<typeof CompareFaceEmbeddingsResponseSchema>;
export type Face = z.infer<typeof FaceSchema>;
export type VerifyFacesRequest = z.infer<typeof VerifyFacesRequestSchema>;
export type VerifyFacesResponse = z.infer<typeof VerifyFacesResponseSchema>;
export type CompareFaceEmbeddingsBatchRequest = z.infer<typeof CompareFaceEmbeddingsBatchRequestSchema>;
export type CompareFaceEmbeddingsBatchResponse = z.infer<typeof CompareFaceEmbeddingsBatchResponseSchema>;

/** `image.bytes`, `embedding1[3]`: the path of a zod issue as a client reads it. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out || '(body)';
}

/** Validates a parsed JSON body; throws a 400 `validation-error` naming every bad field. */
export function parseRequest<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const errors: FieldError[] = [];
  const seen = new Set<string>();
  for (const issue of result.error.issues) {
    const field = fieldPath(issue.path);
    const key = `${field}\u0000${issue.message}`;
    // An embedding of 4,096 strings would otherwise list 4,096 identical reasons.
    if (seen.has(key) || errors.length >= 20) continue;
    seen.add(key);
    errors.push({ field, reason: issue.message });
  }
  const first = errors[0]!;
  const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : '';
  throw new ApiError('validation-error', `${first.field}: ${first.reason}${more}`, { errors });
}
