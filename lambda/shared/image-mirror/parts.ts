/**
 * Cuts a byte stream into upload parts of exactly `partSize` bytes (the last one
 * shorter), hashing and uploading each part as soon as it is full. Memory stays
 * at `buffers` x `partSize` plus the chunk being copied, whatever the blob size:
 * part buffers are reused once their upload and hash have finished.
 */
import type { StreamingSha256 } from './hasher.js';

/** Uploads one part; `firstByte` is its offset in the blob. Parts are sent one at a time, in order. */
export type PartSink = (part: Uint8Array, firstByte: number) => Promise<void>;

/** Options for {@link PartPipeline}. */
export interface PartPipelineOptions {
  /** Bytes per part, as InitiateLayerUpload returned it. */
  readonly partSize: number;
  readonly sink: PartSink;
  readonly hash: StreamingSha256;
  /**
   * Part buffers: with 2 the next part downloads while the previous one uploads
   * (ECR takes parts strictly in order, so more buffers would only queue).
   * @default 2
   */
  readonly buffers?: number;
  /**
   * Back part buffers with SharedArrayBuffer so a worker-thread hash reads them in place.
   * @default false
   */
  readonly shared?: boolean;
  /** Called after each part upload with the bytes uploaded so far. */
  readonly onPartUploaded?: (uploadedBytes: number) => void;
}

/** Streams bytes into fixed-size, in-order part uploads. */
export class PartPipeline {
  private readonly partSize: number;
  private readonly maxBuffers: number;
  private readonly free: Uint8Array[] = [];
  private readonly inFlight: Array<Promise<Uint8Array>> = [];
  private allocated = 0;
  private current: Uint8Array | undefined;
  private filled = 0;
  private flushed = 0;
  private uploaded = 0;
  private uploadChain: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;

  constructor(private readonly options: PartPipelineOptions) {
    if (!Number.isSafeInteger(options.partSize) || options.partSize <= 0) {
      throw new RangeError(`partSize must be a positive integer, got ${options.partSize}`);
    }
    this.partSize = options.partSize;
    this.maxBuffers = Math.max(1, options.buffers ?? 2);
  }

  /** Bytes accepted by {@link write} so far. */
  get bytesWritten(): number {
    return this.flushed + this.filled;
  }

  /** Bytes whose part upload has completed. */
  get bytesUploaded(): number {
    return this.uploaded;
  }

  /**
   * Copies `chunk` into the current part, sending each part that fills up.
   * Resolves once the chunk is buffered; waits (backpressure) while all part
   * buffers are in flight. Rejects with the first upload or hash error.
   */
  async write(chunk: Uint8Array): Promise<void> {
    let pos = 0;
    while (pos < chunk.byteLength) {
      const buffer = this.current ?? (this.current = await this.acquire());
      const n = Math.min(chunk.byteLength - pos, this.partSize - this.filled);
      buffer.set(chunk.subarray(pos, pos + n), this.filled);
      this.filled += n;
      pos += n;
      if (this.filled === this.partSize) this.flush();
    }
  }

  /** Sends the last (short) part and waits for every upload. Returns the total bytes. */
  async end(): Promise<number> {
    this.throwIfFailed();
    if (this.filled > 0) this.flush();
    while (this.inFlight.length > 0) this.free.push(await this.inFlight.shift()!);
    this.throwIfFailed();
    return this.flushed;
  }

  /** Waits until no part is in flight, ignoring errors (cleanup after a failure). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.inFlight);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }

  private async acquire(): Promise<Uint8Array> {
    this.throwIfFailed();
    const reused = this.free.pop();
    if (reused) return reused;
    if (this.allocated < this.maxBuffers) {
      this.allocated++;
      return this.options.shared ? new Uint8Array(new SharedArrayBuffer(this.partSize)) : new Uint8Array(this.partSize);
    }
    // Oldest part first: it is the next to finish, since uploads are sequential.
    return this.inFlight.shift()!;
  }

  private flush(): void {
    const buffer = this.current!;
    const part = buffer.subarray(0, this.filled);
    const firstByte = this.flushed;
    this.flushed += this.filled;
    this.current = undefined;
    this.filled = 0;

    const hashed = this.options.hash.update(part);
    const uploaded = (this.uploadChain = this.uploadChain.then(async () => {
      await this.options.sink(part, firstByte);
      this.uploaded = firstByte + part.byteLength;
      this.options.onPartUploaded?.(this.uploaded);
    }));
    const done = Promise.all([hashed, uploaded]).then(() => buffer);
    done.catch((error: unknown) => {
      this.failure ??= { error };
    });
    this.inFlight.push(done);
  }
}
