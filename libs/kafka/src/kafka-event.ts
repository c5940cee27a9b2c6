import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { KafkaContext } from '@nestjs/microservices';
import type { ClassConstructor } from 'class-transformer';
import { parseContract } from '@app/contracts';
import { PoisonMessageError } from './consume/failure-policy';
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

/** Decodes a record's raw value (kept binary by the server options) into a validated contract instance. */
export function decodeRecordValue<T extends object>(contract: ClassConstructor<T>, value: unknown): T {
  if (value === null || value === undefined) throw new PoisonMessageError('the record has no value (tombstone)');
  const text = Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
  let plain: unknown;
  try {
    plain = JSON.parse(text);
  } catch (error) {
    throw new PoisonMessageError(`the value is not valid JSON: ${(error as Error).message}`);
  }
  return parseContract(contract, plain);
}

/**
 * `@KafkaEvent(Contract)`: the handler's parameter, decoded from the record's bytes and validated.
 * Throws inside the handler's interceptor chain, so the dead-letter interceptor sees every failure.
 */
export const KafkaEvent = createParamDecorator((contract: ClassConstructor<object>, context: ExecutionContext) => {
  const message = context.switchToRpc().getContext<KafkaContext>().getMessage();
  // A batch kafkajs could not decode reaches the handler as one stand-in record (see undecodable-batches).
  const undecodable = undecodableBatchOf(message);
  if (undecodable) throw new PoisonMessageError(describeUndecodableBatch(undecodable));
  return decodeRecordValue(contract, message.value);
});

function decodeKey(key: unknown): string | null {
  if (key === null || key === undefined) return null;
  return Buffer.isBuffer(key) ? key.toString('utf8') : String(key);
}
