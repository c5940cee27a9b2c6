/**
 * In what order the records of one partition are handled (the names of Confluent's Parallel Consumer):
 * - `key`: side by side, except that records with the same key run one after another in offset order, which
 *   is the order Kafka promises per key (records without a key share one lane per partition);
 * - `partition`: one record at a time, in offset order (the course's consumer, whose slow step cannot overlap).
 */
export type ProcessingOrder = 'key' | 'partition';
