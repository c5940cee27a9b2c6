import { createRequire } from 'node:module';
import { buildDeadLetter } from './dead-letter';
import { headersAsWritten } from './record-headers';

// kafkajs' own record encoder and decoder, as its fetch uses them.
const kafkajs = createRequire(require.resolve('kafkajs'));
const encodeRecord = kafkajs('./src/protocol/recordBatch/record/v0') as (record: object) => { buffer: Buffer };
const decodeRecord = kafkajs('./src/protocol/recordBatch/record/v0/decoder') as (decoder: object, context: object) => { headers: Record<string, unknown> };
const Decoder = kafkajs('./src/protocol/decoder') as new (buffer: Buffer) => { readVarInt(): number };

/** A record with these headers, written and read back by kafkajs. */
function throughKafkajs(headers: Record<string, Buffer | Buffer[]>): Record<string, unknown> {
  const decoder = new Decoder(encodeRecord({ key: Buffer.from('k'), value: Buffer.from('v'), headers }).buffer);
  decoder.readVarInt(); // the record's length, which the batch decoder reads
  return decodeRecord(decoder, { firstOffset: '0', firstTimestamp: 0 }).headers;
}

describe('headersAsWritten', () => {
  const names = ['toString', 'valueOf', 'constructor', 'hasOwnProperty', '__proto__'];
  const written = Object.fromEntries(names.map((name) => [name, Buffer.from(`${name}!`)]));

  it("gives back headers named after Object.prototype's members, which kafkajs reads as lists with a function in them", () => {
    const read = throughKafkajs({ ...written, 'x-plain': Buffer.from('plain') });
    // kafkajs' own reading: the header is not the bytes written.
    expect(Array.isArray(read.toString)).toBe(true);
    const repaired = headersAsWritten(read as never);
    expect(Object.keys(repaired).sort()).toEqual([...names, 'x-plain'].sort());
    for (const name of names) expect(Object.getOwnPropertyDescriptor(repaired, name)?.value).toEqual(Buffer.from(`${name}!`));
    expect(repaired['x-plain']).toEqual(Buffer.from('plain'));
    expect(Object.getPrototypeOf(repaired)).toBe(Object.prototype);
  });

  it('keeps a header written twice as its two values, whatever its name', () => {
    const twice = [Buffer.from('one'), Buffer.from('two')];
    const repaired = headersAsWritten(throughKafkajs({ toString: twice, 'x-twice': twice }) as never);
    expect(Object.getOwnPropertyDescriptor(repaired, 'toString')?.value).toEqual(twice);
    expect(repaired['x-twice']).toEqual(twice);
  });

  it("lets a bad record's letter keep such headers exactly, where building it used to throw and stall the partition", () => {
    const headers = headersAsWritten(throughKafkajs(written) as never);
    const letter = buildDeadLetter(
      { key: 'k', value: Buffer.from('not json'), headers, topic: 'payment-successful', partition: 0, offset: '7' },
      { error: 'PoisonMessageError: not JSON', retriable: false, group: 'order-service-group', instanceId: '1' },
    );
    expect(letter.record.original_headers).toEqual(names.map((name) => ({ key: name, value: `${name}!`, encoding: 'utf8' })));
  });

  it('builds a letter, and does not throw, even from headers as kafkajs mangles them', () => {
    const letter = () =>
      buildDeadLetter(
        { key: 'k', value: Buffer.from('not json'), headers: throughKafkajs(written) as never, topic: 'payment-successful', partition: 0, offset: '7' },
        { error: 'PoisonMessageError: not JSON', retriable: false, group: 'order-service-group', instanceId: '1' },
      );
    expect(letter).not.toThrow();
    expect(letter().record.original_headers.filter((h) => h.value === `${h.key}!`).map((h) => h.key)).toEqual(names);
  });
});
