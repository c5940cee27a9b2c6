import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { KafkaContext } from '@nestjs/microservices';
import type { ClassConstructor } from 'class-transformer';
import { isUtf8 } from 'node:buffer';
import { INPUT_LIMITS, parseContract, UnreadableRecord } from '@app/contracts';
import { isRecordFault, PoisonMessageError } from './consume/failure-policy';
import { describeError } from './consume/topic-partition';
import { describeUndecodableBatch, undecodableBatchOf } from './undecodable-batches';

/** Where a consumed record came from. */
export interface RecordSource {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  /** The record's Kafka timestamp, epoch milliseconds. */
  timestamp: string;
}

export function recordSource(ctx: KafkaContext): RecordSource {
  const message = ctx.getMessage();
  return { topic: ctx.getTopic(), partition: ctx.getPartition(), offset: message.offset, key: decodeKey(message.key), timestamp: message.timestamp };
}

/** A header of the record as text (headers arrive as the bytes they were written as), if it has it. */
export function headerText(ctx: KafkaContext, name: string): string | undefined {
  return headerOf(ctx.getMessage().headers, name);
}

/** A header among a record's headers (kafkajs's or Nest's copy of them) as text, if it is there. */
export function headerOf(headers: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === null ? undefined : String(first);
}

/**
 * A stable id for a record that carries none: a redelivery of the same record gets the same id. The timestamp
 * keeps it unique when a topic is deleted and created again (its offsets start over) while the database is kept.
 */
export function recordId(source: RecordSource): string {
  return `${source.topic}:${source.partition}:${source.offset}@${source.timestamp}`;
}

/** A record's value as its contract's instance, settled with what the record itself says (its id and time). */
export type Settle<T, S> = (event: T, recordId: string, timestamp: string) => S;

/**
 * Reads a record's value: its bytes as strict UTF-8, as JSON, its shape against INPUT_LIMITS, then as its
 * contract (class-transformer, class-validator) and, given `settle`, with what the event leaves out filled in.
 * One step, before any side effect: whatever it throws (a RangeError from deep nesting, a TypeError from a
 * class-transformer surprise) is the record's fault, a RecordFault, dead-lettered at once and never retried.
 */
export function readRecord<T extends object, S = T>(
  contract: ClassConstructor<T>,
  value: unknown,
  record?: { id: string; timestamp: string; settle: Settle<T, S> },
): S {
  try {
    const event = parseContract(contract, parseValue(value));
    return record ? record.settle(event, record.id, record.timestamp) : (event as unknown as S);
  } catch (error) {
    if (isRecordFault(error)) throw error;
    throw new UnreadableRecord(`reading the record as ${contract.name} failed: ${describeSafely(error)}`, { cause: error });
  }
}

/** Whatever was thrown, in words, even a value whose own description throws. */
function describeSafely(error: unknown): string {
  try {
    return describeError(error);
  } catch {
    return 'a value that cannot be described';
  }
}

/** The value's bytes as JSON: a tombstone, an oversized value, bytes that are not UTF-8 or not JSON are poison. */
function parseValue(value: unknown): unknown {
  if (value === null || value === undefined) throw new PoisonMessageError('the record has no value (tombstone)');
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8');
  if (bytes.length > INPUT_LIMITS.recordBytes) {
    throw new PoisonMessageError(`the value is ${bytes.length} bytes, more than the ${INPUT_LIMITS.recordBytes} an event may have`);
  }
  // Decoding would put U+FFFD in place of bytes that are not UTF-8: an event with other text than was sent.
  if (!isUtf8(bytes)) throw new PoisonMessageError('the value is not valid UTF-8');
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new PoisonMessageError(`the value is not valid JSON: ${(error as Error).message}`);
  }
}

/** What `@KafkaEvent` reads a record as: its contract, and how its event is settled, if it is. */
interface ReadAs {
  contract: ClassConstructor<object>;
  settle?: Settle<object, unknown>;
}

/** Nest's parameter decorator behind KafkaEvent (its data is one value: further arguments would be taken as pipes). */
const RecordParameter = createParamDecorator(({ contract, settle }: ReadAs, context: ExecutionContext) => {
  const ctx = context.switchToRpc().getContext<KafkaContext>();
  const message = ctx.getMessage();
  // A batch kafkajs could not decode reaches the handler as one stand-in record (see undecodable-batches).
  const undecodable = undecodableBatchOf(message);
  if (undecodable) throw new PoisonMessageError(describeUndecodableBatch(undecodable));
  if (!settle) return readRecord(contract, message.value);
  return readRecord(contract, message.value, { id: recordId(recordSource(ctx)), timestamp: message.timestamp, settle });
});

/**
 * `@KafkaEvent(Contract)`: the handler's parameter, read from the record's bytes (see readRecord);
 * `@KafkaEvent(Contract, settle)` also fills in what the event leaves out, from the record's id and time.
 * Throws inside the handler's interceptor chain, so the dead-letter interceptor sees every failure.
 */
export function KafkaEvent<T extends object, S>(contract: ClassConstructor<T>, settle?: Settle<T, S>): ParameterDecorator {
  return RecordParameter({ contract, settle: settle as Settle<object, unknown> | undefined });
}

function decodeKey(key: unknown): string | null {
  if (key === null || key === undefined) return null;
  return Buffer.isBuffer(key) ? key.toString('utf8') : String(key);
}
