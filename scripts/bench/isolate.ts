/**
 * Imported first by the benchmark: its broker, database and ports are its own, so it never disturbs a
 * running `npm start` or test chain, and it can reset topics and groups at will. Set these to override.
 */
process.env.KAFKA_BROKERS ||= '127.0.0.1:29092';
process.env.KAFKA_STATE_DIR ||= '.kafka-bench';
