import { decompress as zstdDecompress } from 'fzstd';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { compressFrame, decompressFrame } from 'lz4-napi';
// kafkajs' own Snappy codec package (pure JavaScript), which also reads the framing Java clients write.
const SnappyCodec = require('kafkajs-snappy') as () => Codec;

interface Codec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

/** Kafka's LZ4 is the LZ4 frame format. */
const lz4: Codec = {
  compress: (encoder) => compressFrame(encoder.buffer),
  decompress: (buffer) => decompressFrame(buffer),
};

/** Decompression only: the services read zstd that other clients write, and never write it themselves. */
const zstd: Codec = {
  compress: () => Promise.reject(new Error('this project reads zstd batches but does not write them')),
  decompress: async (buffer) => Buffer.from(zstdDecompress(buffer)),
};

let registered = false;

/**
 * kafkajs decodes only gzip itself: a batch that a Java, Go or librdkafka client compressed with snappy, lz4 or
 * zstd would crash the consumer when fetched, before any handler could see it. Every Kafka client of the
 * project registers the codecs first (see kafkaClientConfig).
 */
export function registerCompressionCodecs(): void {
  if (registered) return;
  const codecs = CompressionCodecs as Record<number, () => Codec>;
  codecs[CompressionTypes.Snappy] = SnappyCodec;
  codecs[CompressionTypes.LZ4] = () => lz4;
  codecs[CompressionTypes.ZSTD] = () => zstd;
  registered = true;
}
